/* Temporary directories for the C API tests. */
#ifndef DENGINE_TESTS_CAPI_TEMP_DIR_H
#define DENGINE_TESTS_CAPI_TEMP_DIR_H

/* Creates a fresh directory under $TMPDIR (or /tmp); returns its malloc'd
 * path, or NULL. */
char* temp_dir_create(void);

/* Removes `path` and everything under it, then frees it. NULL is allowed. */
void temp_dir_remove(char* path);

#endif
