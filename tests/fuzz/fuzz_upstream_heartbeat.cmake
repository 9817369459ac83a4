# The upstream's heartbeat route (tools/upstream/requests.cpp, as the server calls it).
if(TARGET cp_upstream_requests)
  cp_fuzz(fuzz_upstream_heartbeat SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_upstream_heartbeat.cpp
          DEPS cp_upstream_requests)
endif()
