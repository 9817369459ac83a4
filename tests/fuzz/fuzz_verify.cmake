# The trust core's fuzz targets: the whole text → verdict chain, and Base45 alone.
cp_fuzz(fuzz_verify SOURCES fuzz_verify.cpp DEPS cp_pass)
cp_fuzz(fuzz_verify_base45 SOURCES fuzz_verify_base45.cpp DEPS cp_pass)
