# The image header parsers of src/image (PNG, JPEG, BMP) on arbitrary
# bytes; small images are decoded too. Seeds: tests/fuzz/seeds/image.
cp_fuzz(fuzz_image SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_image.cpp DEPS cp_image)
