# The file camera decodes PNG frames from folders a technician fills: any bytes
# must give a BGR image or a typed "png" error, never a crash or a huge allocation.
cp_fuzz(fuzz_png SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_png.cpp DEPS cp_png)
