# The CUDA backend. AUTO builds it whenever nvcc and cuDNN are found, GPU or not, so that CI compiles and
# links every kernel. cuDNN and cuBLAS are looked for under the toolkit and, on machines where they come
# with PyTorch's wheels, under Python's site-packages (nvidia/cudnn, nvidia/cublas).
set(BIASCKA_HAVE_CUDA OFF)
add_library(biascka_cuda_deps INTERFACE)
if(NOT BIASCKA_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  find_package(CUDAToolkit QUIET)
  set(_cudnn_hints ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}/lib ${CUDAToolkit_LIBRARY_ROOT}/lib64)
  set(_cudnn_inc_hints ${CUDAToolkit_INCLUDE_DIRS})
  # Where PyTorch's wheels put cuDNN/cuBLAS: ask the Python that has them (any venv), then usual places.
  set(_site_nvidia)
  find_program(_python3 python3)
  if(_python3)
    execute_process(COMMAND ${_python3} -c "import nvidia, sys; print(';'.join(nvidia.__path__))"
                    OUTPUT_VARIABLE _py_nvidia OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    list(APPEND _site_nvidia ${_py_nvidia})
  endif()
  file(GLOB _globbed /usr/lib/python3*/site-packages/nvidia /usr/local/lib/python3*/site-packages/nvidia
       /usr/local/lib/python3*/dist-packages/nvidia /usr/lib/python3/dist-packages/nvidia
       /opt/conda/lib/python3*/site-packages/nvidia /opt/*/.venv/lib/python3*/site-packages/nvidia
       $ENV{HOME}/.local/lib/python3*/site-packages/nvidia)
  list(APPEND _site_nvidia ${_globbed})
  foreach(_d ${_site_nvidia})
    file(GLOB _sub LIST_DIRECTORIES true ${_d}/*)  # nvidia/cudnn, nvidia/cublas, or nvidia/cu13 (CUDA 13 wheels)
    foreach(_s ${_sub})
      list(APPEND _cudnn_hints ${_s}/lib)
      list(APPEND _cudnn_inc_hints ${_s}/include)
    endforeach()
  endforeach()
  find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${_cudnn_inc_hints} $ENV{CUDNN_ROOT}/include)
  find_library(CUDNN_LIBRARY NAMES cudnn libcudnn.so.9 HINTS ${_cudnn_hints} $ENV{CUDNN_ROOT}/lib)
  if(CMAKE_CUDA_COMPILER AND CUDAToolkit_FOUND AND CUDNN_INCLUDE_DIR AND CUDNN_LIBRARY)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "")
      # The GPU's own architecture when one is present, else Hopper (sm_90 code + PTX) so CI compiles once.
      execute_process(COMMAND nvidia-smi --query-gpu=compute_cap --format=csv,noheader
                      OUTPUT_VARIABLE _cap RESULT_VARIABLE _smi ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
      if(_smi EQUAL 0 AND _cap)
        string(REGEX MATCH "^[0-9]+\\.[0-9]+" _cap "${_cap}")
        string(REPLACE "." "" _cap "${_cap}")
        set(CMAKE_CUDA_ARCHITECTURES ${_cap})
      else()
        set(CMAKE_CUDA_ARCHITECTURES 90)
      endif()
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)  # CMake 3.25 does not know nvcc's C++20 flag; the kernels need only C++17
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    set(BIASCKA_HAVE_CUDA ON)
    # cuBLAS may also sit beside cuDNN in site-packages; prefer the toolkit's.
    find_library(CUBLAS_LIBRARY NAMES cublas libcublas.so.13 libcublas.so.12 HINTS ${CUDAToolkit_LIBRARY_DIR} ${_cudnn_hints})
    find_library(CUBLASLT_LIBRARY NAMES cublasLt libcublasLt.so.13 libcublasLt.so.12 HINTS ${CUDAToolkit_LIBRARY_DIR} ${_cudnn_hints})
    target_link_libraries(biascka_cuda_deps INTERFACE CUDA::cudart ${CUBLAS_LIBRARY} ${CUBLASLT_LIBRARY} ${CUDNN_LIBRARY})
    target_include_directories(biascka_cuda_deps INTERFACE ${CUDNN_INCLUDE_DIR} ${CUDAToolkit_INCLUDE_DIRS})
    target_compile_definitions(biascka_cuda_deps INTERFACE BIASCKA_WITH_CUDA=1)
    get_filename_component(_cudnn_libdir ${CUDNN_LIBRARY} DIRECTORY)
    set(CMAKE_BUILD_RPATH ${CMAKE_BUILD_RPATH} ${_cudnn_libdir})
    message(STATUS "biascka: CUDA ${CMAKE_CUDA_COMPILER_VERSION}, archs ${CMAKE_CUDA_ARCHITECTURES}, cuDNN ${CUDNN_LIBRARY}")
  elseif(BIASCKA_CUDA STREQUAL "ON")
    message(FATAL_ERROR "BIASCKA_CUDA=ON but nvcc (${CMAKE_CUDA_COMPILER}), the CUDA toolkit (${CUDAToolkit_FOUND}) "
                        "or cuDNN (${CUDNN_INCLUDE_DIR}, ${CUDNN_LIBRARY}) was not found")
  endif()
endif()
