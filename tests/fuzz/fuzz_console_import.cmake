# What operators import into the console (area tree CSV/JSON, pass registrations,
# status CSV): any text yields rows that pass the store's validators, or a typed
# invalid_input error; never a crash.
if(TARGET cp_console AND NOT TARGET fuzz_console_import)
  cp_fuzz(fuzz_console_import SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_console_import.cpp DEPS cp_console)
endif()
