// include/dengine.h compiles as C++ (-pedantic), with C linkage.
#include "dengine.h"

#include <type_traits>

static_assert(std::is_standard_layout_v<dengine_state_machine>);
static_assert(std::is_standard_layout_v<dengine_sm_builder>);
static_assert(std::is_same_v<decltype(&dengine_version), const char* (*)()>);
