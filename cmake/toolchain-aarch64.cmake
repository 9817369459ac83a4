# Cross build for 64-bit ARM Linux boards (Raspberry Pi 4, generic arm64).
# Compiler: Debian's aarch64-linux-gnu-g++ (package g++-aarch64-linux-gnu).
# Libraries: a Debian bookworm arm64 sysroot made by tools/sysroot.
# Tests: run under qemu-aarch64 (package qemu-user) through
# CMAKE_CROSSCOMPILING_EMULATOR, so `ctest` in the build dir works on x86-64.
#
#   cmake --preset aarch64        (CMakePresets.json)
#   cmake -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake \
#         -DCHECKPOINT_SYSROOT=/var/cache/checkpoint/sysroot-arm64
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CHECKPOINT_TRIPLET aarch64-linux-gnu)

if(NOT CHECKPOINT_SYSROOT)
  if(DEFINED ENV{CHECKPOINT_SYSROOT})
    set(CHECKPOINT_SYSROOT "$ENV{CHECKPOINT_SYSROOT}")
  else()
    set(CHECKPOINT_SYSROOT /var/cache/checkpoint/sysroot-arm64)
  endif()
endif()
set(CHECKPOINT_SYSROOT "${CHECKPOINT_SYSROOT}" CACHE PATH "arm64 sysroot made by tools/sysroot")
if(NOT EXISTS "${CHECKPOINT_SYSROOT}/usr/include/stdio.h")
  message(FATAL_ERROR "No arm64 sysroot at ${CHECKPOINT_SYSROOT}: run tools/sysroot "
                      "(or set CHECKPOINT_SYSROOT to where it made one)")
endif()
# try_compile projects re-read this file; pass the sysroot on to them.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES CHECKPOINT_SYSROOT)

find_program(CMAKE_C_COMPILER ${CHECKPOINT_TRIPLET}-gcc)
find_program(CMAKE_CXX_COMPILER ${CHECKPOINT_TRIPLET}-g++)
if(NOT CMAKE_CXX_COMPILER)
  message(FATAL_ERROR "${CHECKPOINT_TRIPLET}-g++ not found: apt-get install g++-aarch64-linux-gnu")
endif()
set(CMAKE_SYSROOT "${CHECKPOINT_SYSROOT}")

# Libraries, headers and packages only from the sysroot; programs from the host.
set(CMAKE_FIND_ROOT_PATH "${CHECKPOINT_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_LIBRARY_ARCHITECTURE ${CHECKPOINT_TRIPLET})

# pkg-config reads only the sysroot's .pc files and prefixes their paths with it.
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${CHECKPOINT_SYSROOT}")
set(ENV{PKG_CONFIG_LIBDIR}
    "${CHECKPOINT_SYSROOT}/usr/lib/${CHECKPOINT_TRIPLET}/pkgconfig:${CHECKPOINT_SYSROOT}/usr/share/pkgconfig:${CHECKPOINT_SYSROOT}/usr/lib/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# The libraries' own dependencies (libblas.so.3 behind OpenCV, ...) are found in
# the sysroot at link time.
set(CMAKE_EXE_LINKER_FLAGS_INIT
    "-Wl,-rpath-link,${CHECKPOINT_SYSROOT}/usr/lib/${CHECKPOINT_TRIPLET}:${CHECKPOINT_SYSROOT}/lib/${CHECKPOINT_TRIPLET}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${CMAKE_EXE_LINKER_FLAGS_INIT}")

# Run target programs (tests, benchmarks) under user-mode QEMU: -L makes the
# sysroot the root for the dynamic loader and the libraries it opens.
find_program(CHECKPOINT_QEMU qemu-aarch64 qemu-aarch64-static)
if(NOT CHECKPOINT_QEMU)
  message(FATAL_ERROR "qemu-aarch64 not found: apt-get install qemu-user")
endif()
set(CMAKE_CROSSCOMPILING_EMULATOR "${CHECKPOINT_QEMU};-L;${CHECKPOINT_SYSROOT}")
# Test helpers spawn project executables through this prefix (tests/testing.hpp).
set(CHECKPOINT_EMULATOR "${CHECKPOINT_QEMU} -L ${CHECKPOINT_SYSROOT}")
