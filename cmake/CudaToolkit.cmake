# find_package(CUDAToolkit) that works with Debian 12's CMake 3.25.1 and CUDA 13. That FindCUDAToolkit
# marks CUDA::nvToolsExt deprecated whenever the project requires CMake >= 3.25, without checking that the
# target exists; CUDA 13 no longer ships nvToolsExt, so configure fails ("set_property could not find
# TARGET CUDA::nvToolsExt") on a stock Debian machine. The module reads CMAKE_MINIMUM_REQUIRED_VERSION, so
# it sees 3.24 for this one call. A macro: the CUDAToolkit_* results land in the caller's scope.
macro(biascka_find_cuda_toolkit)
  set(_biascka_min_version ${CMAKE_MINIMUM_REQUIRED_VERSION})
  set(CMAKE_MINIMUM_REQUIRED_VERSION 3.24)
  find_package(CUDAToolkit QUIET)
  set(CMAKE_MINIMUM_REQUIRED_VERSION ${_biascka_min_version})
endmacro()
