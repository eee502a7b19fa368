# Finds the CPU-side dependencies. Every one is a Debian package (see scripts/setup-deps); on machines
# without apt (the GPU host) the header-only ones come unpacked under BIASCKA_THIRD_PARTY.
set(_tp "${BIASCKA_THIRD_PARTY}/usr")
list(APPEND CMAKE_PREFIX_PATH "${_tp}" "${_tp}/share/cmake" "${_tp}/lib/cmake")

find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(Threads REQUIRED)

# --- BLAS: OpenBLAS when present, else the internal blocked GEMM (engine/gemm.cpp) ---
# Debian's OpenMP build of OpenBLAS first: it shares the engine's OpenMP threads, where the pthread build's
# own threads spin against them (measured 3-5x slower CKA on 2 cores). The RUNPATH CMake adds for this
# directory makes the loader pick that build, whatever the system's libopenblas.so.0 alternative is.
add_library(biascka_blas INTERFACE)
set(BIASCKA_BLAS_NAME "internal")
if(BIASCKA_OPENBLAS)
  find_library(OPENBLAS_LIBRARY NAMES openblas PATHS /usr/lib/x86_64-linux-gnu/openblas-openmp NO_DEFAULT_PATH)
  find_path(OPENBLAS_INCLUDE_DIR cblas.h PATHS /usr/include/x86_64-linux-gnu/openblas-openmp NO_DEFAULT_PATH)
  find_library(OPENBLAS_LIBRARY NAMES openblas)
  find_path(OPENBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas x86_64-linux-gnu/openblas-pthread x86_64-linux-gnu)
  if(OPENBLAS_LIBRARY AND OPENBLAS_INCLUDE_DIR)
    target_link_libraries(biascka_blas INTERFACE ${OPENBLAS_LIBRARY})
    target_include_directories(biascka_blas INTERFACE ${OPENBLAS_INCLUDE_DIR})
    target_compile_definitions(biascka_blas INTERFACE BIASCKA_HAVE_OPENBLAS=1)
    set(BIASCKA_BLAS_NAME "OpenBLAS")
  endif()
endif()

# --- oneDNN: the fast CPU convolution path ---
add_library(biascka_onednn INTERFACE)
set(BIASCKA_HAVE_ONEDNN OFF)
if(BIASCKA_ONEDNN)
  # Found by header and library, not by dnnl-config.cmake: Debian builds oneDNN with the OpenCL GPU
  # runtime, and its CMake config then demands the OpenCL headers (ocl-icd-opencl-dev, only a Recommends of
  # libdnnl-dev), which a fresh machine installed without recommends lacks. We use only the CPU engine; the
  # OpenCL loader the shared library links against is a hard dependency of libdnnl2 and is always there.
  find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
  find_library(DNNL_LIBRARY NAMES dnnl)
  if(DNNL_INCLUDE_DIR AND DNNL_LIBRARY)
    target_include_directories(biascka_onednn INTERFACE ${DNNL_INCLUDE_DIR})
    target_link_libraries(biascka_onednn INTERFACE ${DNNL_LIBRARY})
    target_compile_definitions(biascka_onednn INTERFACE BIASCKA_HAVE_ONEDNN=1)
    set(BIASCKA_HAVE_ONEDNN ON)
  endif()
endif()

# --- header-only: stb, CLI11, nlohmann/json ---
find_path(STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb HINTS "${_tp}/include" REQUIRED)
add_library(biascka_stb INTERFACE)
target_include_directories(biascka_stb SYSTEM INTERFACE ${STB_INCLUDE_DIR})

find_package(nlohmann_json 3 CONFIG QUIET)
if(NOT TARGET nlohmann_json::nlohmann_json)
  find_path(NLOHMANN_INCLUDE_DIR nlohmann/json.hpp HINTS "${_tp}/include" REQUIRED)
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  target_include_directories(nlohmann_json::nlohmann_json INTERFACE ${NLOHMANN_INCLUDE_DIR})
endif()

# xxHash: the checkpoints' checksum (workflows/checkpoint.cpp), used header-only (XXH_INLINE_ALL).
find_path(XXHASH_INCLUDE_DIR xxhash.h HINTS "${_tp}/include" REQUIRED)
add_library(biascka_xxhash INTERFACE)
target_include_directories(biascka_xxhash SYSTEM INTERFACE ${XXHASH_INCLUDE_DIR})

find_package(CLI11 CONFIG QUIET)
if(NOT TARGET CLI11::CLI11)
  find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp HINTS "${_tp}/include" REQUIRED)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  target_include_directories(CLI11::CLI11 INTERFACE ${CLI11_INCLUDE_DIR})
endif()

# --- zlib: gzipped IDX files (optional: plain IDX files work without it) ---
find_package(ZLIB QUIET)
set(BIASCKA_HAVE_ZLIB ${ZLIB_FOUND})

# --- libpng and libjpeg(-turbo): decoding untrusted PNG/JPEG files (data/image_decode_*.cpp) ---
# Both are fuzzed continuously upstream and by Debian; stb_image is not meant for untrusted input.
find_package(PNG REQUIRED)
find_package(JPEG REQUIRED)
# --- libcurl and libarchive: `biascka data fetch` (optional: without them fetching says how to get them) ---
find_package(CURL QUIET)
find_package(LibArchive QUIET)

# --- tests and benchmarks ---
if(BIASCKA_BUILD_TESTS)
  find_package(GTest CONFIG QUIET)
  if(NOT TARGET GTest::gtest_main)
    # Debian's googletest package ships the sources; build them here (also how the GPU host gets them).
    foreach(_src /usr/src/googletest "${_tp}/src/googletest")
      if(EXISTS "${_src}/CMakeLists.txt" AND NOT TARGET gtest)
        set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
        set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
        add_subdirectory("${_src}" "${CMAKE_BINARY_DIR}/googletest" EXCLUDE_FROM_ALL)
        if(NOT TARGET GTest::gtest_main)  # googletest >= 1.11 makes these aliases itself
          add_library(GTest::gtest_main ALIAS gtest_main)
          add_library(GTest::gtest ALIAS gtest)
        endif()
      endif()
    endforeach()
  endif()
  if(NOT TARGET GTest::gtest_main)
    message(FATAL_ERROR "GoogleTest not found: apt-get install googletest libgtest-dev (or -DBIASCKA_BUILD_TESTS=OFF)")
  endif()
endif()
if(BIASCKA_BUILD_BENCH)
  find_package(benchmark CONFIG QUIET)
endif()
