# One INTERFACE target carries the warning set; every project target links it.
add_library(cp_warnings INTERFACE)
target_compile_options(cp_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wold-style-cast -Wnon-virtual-dtor -Woverloaded-virtual
  -Wnull-dereference -Wimplicit-fallthrough
  $<$<CXX_COMPILER_ID:GNU>:-Wsuggest-override -Wduplicated-cond -Wlogical-op>
  $<$<CXX_COMPILER_ID:Clang>:-Winconsistent-missing-override>)
# -Werror comes from CMAKE_COMPILE_WARNING_AS_ERROR (CHECKPOINT_WERROR, CMakeLists.txt).

if(CHECKPOINT_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# Fuzz builds instrument every library for coverage; the fuzz targets add the driver.
if(CHECKPOINT_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
