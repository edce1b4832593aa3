/* include/dengine.h compiles as strict C99 (-std=c99 -pedantic). */
#include "dengine.h"

int dengine_header_compiles_as_c99(void);
int dengine_header_compiles_as_c99(void) {
  return (int)sizeof(dengine_state_machine) + (int)sizeof(dengine_sm_builder);
}
