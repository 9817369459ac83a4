# Status list files arrive from the network (sync) and USB sticks: the reader
# must refuse, never crash or allocate without bound, whatever the bytes.
cp_fuzz(fuzz_status_list SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_status_list.cpp DEPS cp_status)
