# The CUDA emulation build, -DBIASCKA_CUDA_EMULATION=ON (test infrastructure, never the product): every .cu
# file and the host CUDA code compile with the host compiler against tests/cuda_emu/ (a device-side header
# force-included into the .cu files, a CUDA runtime on host memory, the cuBLAS/cuDNN test doubles), so the
# GPU suites run on a machine without a GPU. No libcudart, libcublas or libcudnn is linked: only the toolkit's
# headers are used, for the types. Included from cmake/Cuda.cmake instead of the real CUDA setup.
biascka_find_cuda_toolkit()
find_path(BIASCKA_CUDA_RUNTIME_INCLUDE cuda_runtime.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include)
find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include $ENV{CUDNN_ROOT}/include)
find_path(BIASCKA_CUBLAS_INCLUDE cublas_v2.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include)
find_path(BOOST_CONTEXT_INCLUDE boost/context/detail/fcontext.hpp)
find_library(BOOST_CONTEXT_LIBRARY boost_context)
if(NOT BIASCKA_CUDA_RUNTIME_INCLUDE OR NOT CUDNN_INCLUDE_DIR OR NOT BIASCKA_CUBLAS_INCLUDE OR NOT BOOST_CONTEXT_INCLUDE
   OR NOT BOOST_CONTEXT_LIBRARY)
  message(FATAL_ERROR "BIASCKA_CUDA_EMULATION=ON needs the CUDA toolkit's headers (cuda_runtime.h: "
                      "${BIASCKA_CUDA_RUNTIME_INCLUDE}), cudnn.h (${CUDNN_INCLUDE_DIR}), cublas_v2.h "
                      "(${BIASCKA_CUBLAS_INCLUDE}) and Boost.Context (libboost-context-dev: ${BOOST_CONTEXT_LIBRARY})")
endif()

# AddressSanitizer and UBSan over the whole build: kernel accesses are host memory accesses, so an
# out-of-bounds index in a kernel is an ASan report; UB fails the test instead of printing.
option(BIASCKA_EMULATION_SANITIZERS "Build the emulation with -fsanitize=address,undefined" ON)
if(BIASCKA_EMULATION_SANITIZERS)
  set(_san -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_compile_options(${_san})
  add_link_options(${_san})
endif()

set(_emu ${CMAKE_SOURCE_DIR}/tests/cuda_emu)
# The emulated runtime and the CPU test doubles of cuBLAS and cuDNN.
set(_emu_sources ${_emu}/runtime.cpp ${_emu}/block.cpp ${_emu}/cublas_double.cpp ${_emu}/cudnn_double.cpp)
add_library(biascka_cuda_emu STATIC ${_emu_sources})
target_include_directories(biascka_cuda_emu PUBLIC ${CMAKE_SOURCE_DIR} ${BIASCKA_CUDA_RUNTIME_INCLUDE}
                                                   ${CUDNN_INCLUDE_DIR} ${BIASCKA_CUBLAS_INCLUDE} ${BOOST_CONTEXT_INCLUDE})
target_link_libraries(biascka_cuda_emu PUBLIC ${BOOST_CONTEXT_LIBRARY} Threads::Threads)
target_compile_definitions(biascka_cuda_emu PUBLIC BIASCKA_WITH_CUDA=1 BIASCKA_CUDA_EMULATION=1)

target_link_libraries(biascka_cuda_deps INTERFACE biascka_cuda_emu)
set(BIASCKA_HAVE_CUDA ON)
set(CMAKE_CUDA_ARCHITECTURES "emulated")
message(STATUS "biascka: CUDA emulation (tests/cuda_emu), headers ${BIASCKA_CUDA_RUNTIME_INCLUDE}, "
               "sanitizers ${BIASCKA_EMULATION_SANITIZERS}")

# The .cu files of `target` as C++ with the device-side emulation header force-included.
function(biascka_emulate_cuda_sources)
  set_source_files_properties(${ARGN} PROPERTIES LANGUAGE CXX COMPILE_OPTIONS
                              "-xc++;-Wno-unknown-pragmas;-Wno-sign-compare;-Wno-missing-field-initializers;-include;${CMAKE_SOURCE_DIR}/tests/cuda_emu/cuda_emu.h")
endfunction()
