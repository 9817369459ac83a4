# MJPEG frames from a V4L2 camera (drivers/camera/mjpeg.cpp): any bytes and any
# negotiated size must give the frame or io/"frame", never a crash, a write
# past the frame or a huge allocation. Seeds: tests/fuzz/seeds/mjpeg (4 bytes
# of geometry, then a JPEG).
if(CHECKPOINT_WITH_V4L2)
  cp_fuzz(fuzz_mjpeg SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_mjpeg.cpp DEPS cp_mjpeg)
endif()
