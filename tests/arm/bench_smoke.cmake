# ctest -R bench_scan_insns_smoke: makes a fixture and runs one full scan and
# each stage once, through EMULATOR (a list; empty on the host).
foreach(args "--write-fixture;${DIR}" "--fixture;${DIR};--scans;1"
             "--fixture;${DIR};--scans;1;--stage;decode" "--fixture;${DIR};--scans;1;--stage;verify")
  execute_process(COMMAND ${EMULATOR} ${EXE} ${args} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "bench_scan_insns ${args}: exit ${rc}")
  endif()
endforeach()
