# The image header parsers of src/image (PNG, JPEG, BMP) on arbitrary
# bytes; small images are decoded too. Seeds: tests/fuzz/seeds/imagefile.
cp_fuzz(fuzz_imagefile SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_imagefile.cpp DEPS cp_imagefile)
