# The CUDA backend. AUTO builds it whenever nvcc, the CUDA runtime, cuDNN and cuBLAS are found, GPU or not,
# so that CI compiles and links every kernel; ON makes a missing piece a configure error that names it. Each
# piece is looked for under the toolkit and in Python's site-packages, where PyTorch's wheels put them.
set(BIASCKA_HAVE_CUDA OFF)
add_library(biascka_cuda_deps INTERFACE)
if(NOT BIASCKA_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  # pip's CUDA wheels: site-packages/nvidia/{cu13,cudnn} for CUDA 13 (bin, include, lib in cu13: runtime,
  # cuBLAS, nvcc), nvidia/{cublas,cuda_runtime,cuda_nvcc,cudnn} for CUDA 12; shared libraries as
  # versioned names only (libcudart.so.13), so every library below is also looked for by that name. Ask the
  # Python that has them (any venv; python3 first on PATH, or BIASCKA_PYTHON), then the usual places.
  set(_site_nvidia)
  find_program(BIASCKA_PYTHON NAMES python3 python)
  if(BIASCKA_PYTHON)
    execute_process(COMMAND ${BIASCKA_PYTHON} -c "import nvidia; print(';'.join(nvidia.__path__))"
                    OUTPUT_VARIABLE _py_nvidia OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    list(APPEND _site_nvidia ${_py_nvidia})
  endif()
  file(GLOB _globbed /usr/lib/python3*/site-packages/nvidia /usr/local/lib/python3*/site-packages/nvidia
       /usr/local/lib/python3*/dist-packages/nvidia /usr/lib/python3/dist-packages/nvidia
       /opt/conda/lib/python3*/site-packages/nvidia /opt/*/.venv/lib/python3*/site-packages/nvidia
       $ENV{HOME}/.local/lib/python3*/site-packages/nvidia)
  list(APPEND _site_nvidia ${_globbed})
  list(REMOVE_DUPLICATES _site_nvidia)
  set(_wheel_roots)
  foreach(_d ${_site_nvidia})
    file(GLOB _sub LIST_DIRECTORIES true ${_d}/*)
    foreach(_s ${_sub})
      if(IS_DIRECTORY ${_s}/include OR IS_DIRECTORY ${_s}/lib OR IS_DIRECTORY ${_s}/bin)
        list(APPEND _wheel_roots ${_s})
      endif()
    endforeach()
  endforeach()
  set(_wheel_bin)
  set(_wheel_inc)
  set(_wheel_lib)
  foreach(_r ${_wheel_roots})
    list(APPEND _wheel_bin ${_r}/bin)
    list(APPEND _wheel_inc ${_r}/include)
    list(APPEND _wheel_lib ${_r}/lib)
  endforeach()

  # nvcc: CMAKE_CUDA_COMPILER, CUDACXX or PATH (check_language), /usr/local/cuda, then the pip wheel's.
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
    find_program(BIASCKA_NVCC nvcc PATHS /usr/local/cuda/bin ${_wheel_bin} NO_CACHE)
    if(BIASCKA_NVCC)
      set(CMAKE_CUDA_COMPILER ${BIASCKA_NVCC})
    endif()
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER AND NOT CUDAToolkit_ROOT)
    get_filename_component(_nvcc_dir ${CMAKE_CUDA_COMPILER} DIRECTORY)
    get_filename_component(CUDAToolkit_ROOT ${_nvcc_dir} DIRECTORY)
  endif()
  find_package(CUDAToolkit QUIET)
  set(_tk_inc ${CUDAToolkit_INCLUDE_DIRS} ${CUDAToolkit_ROOT}/include)
  set(_tk_lib ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_ROOT}/lib64 ${CUDAToolkit_ROOT}/lib)
  find_path(CUDART_INCLUDE_DIR cuda_runtime.h HINTS ${_tk_inc} ${_wheel_inc})
  find_library(CUDART_LIBRARY NAMES cudart libcudart.so.13 libcudart.so.12 HINTS ${_tk_lib} ${_wheel_lib})
  find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${_tk_inc} ${_wheel_inc} $ENV{CUDNN_ROOT}/include)
  find_library(CUDNN_LIBRARY NAMES cudnn libcudnn.so.9 HINTS ${_tk_lib} ${_wheel_lib} $ENV{CUDNN_ROOT}/lib)
  find_path(CUBLAS_INCLUDE_DIR cublas_v2.h HINTS ${_tk_inc} ${_wheel_inc})
  find_library(CUBLAS_LIBRARY NAMES cublas libcublas.so.13 libcublas.so.12 HINTS ${_tk_lib} ${_wheel_lib})
  find_library(CUBLASLT_LIBRARY NAMES cublasLt libcublasLt.so.13 libcublasLt.so.12 HINTS ${_tk_lib} ${_wheel_lib})

  set(_missing)
  if(NOT CMAKE_CUDA_COMPILER)
    list(APPEND _missing "nvcc (not on PATH, in /usr/local/cuda/bin or a pip wheel; set CMAKE_CUDA_COMPILER)")
  endif()
  foreach(_v CUDART_INCLUDE_DIR CUDART_LIBRARY CUDNN_INCLUDE_DIR CUDNN_LIBRARY CUBLAS_INCLUDE_DIR CUBLAS_LIBRARY
             CUBLASLT_LIBRARY)
    if(NOT ${_v})
      list(APPEND _missing ${_v})
    endif()
  endforeach()
  if(NOT _missing)
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
    target_link_libraries(biascka_cuda_deps INTERFACE ${CUDART_LIBRARY} ${CUBLAS_LIBRARY} ${CUBLASLT_LIBRARY}
                                                      ${CUDNN_LIBRARY})
    target_include_directories(biascka_cuda_deps INTERFACE ${CUDNN_INCLUDE_DIR} ${CUBLAS_INCLUDE_DIR}
                                                           ${CUDART_INCLUDE_DIR})
    target_compile_definitions(biascka_cuda_deps INTERFACE BIASCKA_WITH_CUDA=1)
    # The programs find the wheels' libraries without LD_LIBRARY_PATH.
    foreach(_l ${CUDART_LIBRARY} ${CUBLAS_LIBRARY} ${CUBLASLT_LIBRARY} ${CUDNN_LIBRARY})
      get_filename_component(_dir ${_l} DIRECTORY)
      list(APPEND CMAKE_BUILD_RPATH ${_dir})
    endforeach()
    list(REMOVE_DUPLICATES CMAKE_BUILD_RPATH)
    message(STATUS "biascka: CUDA ${CMAKE_CUDA_COMPILER_VERSION} (${CMAKE_CUDA_COMPILER}), archs "
                   "${CMAKE_CUDA_ARCHITECTURES}, cuDNN ${CUDNN_LIBRARY}, cuBLAS ${CUBLAS_LIBRARY}")
  else()
    string(REPLACE ";" ", " _missing "${_missing}")
    set(_looked "looked under ${CUDAToolkit_ROOT} and the pip wheels in [${_site_nvidia}]")
    if(BIASCKA_CUDA STREQUAL "ON")
      message(FATAL_ERROR "BIASCKA_CUDA=ON but not found: ${_missing} (${_looked}); set these cache variables "
                          "to the files, or BIASCKA_PYTHON to the Python whose site-packages has the wheels")
    endif()
    message(STATUS "biascka: no CUDA backend, not found: ${_missing} (${_looked})")
  endif()
endif()
