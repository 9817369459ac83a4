# The grid sampler for large codes, on arbitrary pixels and finder geometry.
# Seeds: tests/fuzz/seeds/grid.
cp_fuzz(fuzz_grid SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_grid.cpp
  DEPS cp_decode opencv_core)
