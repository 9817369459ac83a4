# cp_module(NAME SOURCES... DEPS ...): one static library per module.
function(cp_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${M_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${M_DEPS} PRIVATE cp_warnings ${M_PRIVATE_DEPS})
endfunction()

# cp_test(NAME SOURCES... DEPS ...): a doctest executable registered with CTest.
# Exit code 77 marks a skip (a missing device node or data folder), as in libcamera.
function(cp_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${name} PRIVATE cp_testing ${T_DEPS} cp_warnings)
  add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "CHECKPOINT_SHARED_DATA=${CHECKPOINT_SHARED_DATA};CHECKPOINT_BIN=${CMAKE_BINARY_DIR}/bin;CHECKPOINT_SOURCE=${CMAKE_SOURCE_DIR}")
  if(T_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  endif()
  # Cross builds: the test runs under the emulator, and so must every project
  # executable it starts (tests/testing.hpp command_for()).
  if(CMAKE_CROSSCOMPILING AND CMAKE_CROSSCOMPILING_EMULATOR)
    list(JOIN CMAKE_CROSSCOMPILING_EMULATOR " " emulator)
    set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT
      "CHECKPOINT_EMULATOR=${emulator}" "QEMU_LD_PREFIX=${CMAKE_SYSROOT}")
    math(EXPR emulated_timeout "${T_TIMEOUT} * 4")  # QEMU runs code several times slower
    set_tests_properties(${name} PROPERTIES TIMEOUT ${emulated_timeout})
  endif()
endfunction()
