# Arbitrary bytes as an image file (header checks of src/image, then OpenCV's
# decoders) and as a raw gray frame, into QrDecoder. Seeds: tests/fuzz/seeds/decode.
cp_fuzz(fuzz_decode SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_decode.cpp
  DEPS cp_decode cp_imagefile)
