# Configuration and board files are edited by hand on devices: any text must
# yield a Config or a typed "config" error naming the key, never a crash.
cp_fuzz(fuzz_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_config.cpp DEPS cp_config)
