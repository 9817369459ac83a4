# The device's reading of the command centre's answers (scans, heartbeat, delta
# plan, trust envelope) and the request-path rule: typed errors only.
cp_fuzz(fuzz_sync_answers SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_sync_answers.cpp DEPS cp_sync)
