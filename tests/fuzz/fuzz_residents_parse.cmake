# Resident import CSV, the pass page's self-check body and the self-registration body (tools/upstream/console/residents.hpp).
if(TARGET cp_console AND NOT TARGET fuzz_residents_parse)
  cp_fuzz(fuzz_residents_parse SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_residents_parse.cpp DEPS cp_console)
endif()
