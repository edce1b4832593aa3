/* A program outside the dengine build: it finds the installed library
 * through pkg-config (or find_package) alone and prints its version. */
#include <stdio.h>

#include <dengine.h>

int main(void) {
  printf("dengine %s\n", dengine_version());
  return 0;
}
