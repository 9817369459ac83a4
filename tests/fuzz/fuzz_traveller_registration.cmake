# The public traveller registration body: a request whose fields pass the checks, or
# a typed invalid_input error; never a crash.
if(TARGET cp_console AND NOT TARGET fuzz_traveller_registration)
  cp_fuzz(fuzz_traveller_registration SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_traveller_registration.cpp
          DEPS cp_console)
endif()
