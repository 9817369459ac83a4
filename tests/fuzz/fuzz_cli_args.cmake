# The command lines' parse and integer check (src/cli/args.hpp).
cp_fuzz(fuzz_cli_args SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_cli_args.cpp DEPS cp_cli)
