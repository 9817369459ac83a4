# Voice clips are files on the device (made at build time, replaceable by an
# installer): the WAV parser must reject, never crash, on anything.
cp_fuzz(fuzz_wav SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_wav.cpp DEPS cp_audio)
