#define _XOPEN_SOURCE 700

#include "temp_dir.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char* temp_dir_create(void) {
  const char* base = getenv("TMPDIR");
  size_t len;
  char* path;
  if (base == NULL || base[0] == '\0') base = "/tmp";
  len = strlen(base) + sizeof "/dengine-capi-XXXXXX";
  path = malloc(len);
  if (path == NULL) return NULL;
  snprintf(path, len, "%s/dengine-capi-XXXXXX", base);
  if (mkdtemp(path) == NULL) {
    free(path);
    return NULL;
  }
  return path;
}

static int remove_one(const char* path, const struct stat* st, int type,
                      struct FTW* ftw) {
  (void)st;
  (void)type;
  (void)ftw;
  return remove(path);
}

void temp_dir_remove(char* path) {
  if (path == NULL) return;
  nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
  free(path);
}
