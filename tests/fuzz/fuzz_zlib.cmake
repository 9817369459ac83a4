# The shared zlib/gzip inflater (pass compression, upload and request bodies).
cp_fuzz(fuzz_zlib SOURCES fuzz_zlib.cpp DEPS cp_zlib)
