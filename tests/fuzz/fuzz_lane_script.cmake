# Lane scripts come from files a tester edits by hand: the parser must reject,
# never crash, on anything.
cp_fuzz(fuzz_lane_script SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_lane_script.cpp
  DEPS cp_lane_script)
