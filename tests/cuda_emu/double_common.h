#pragma once
// What the cuBLAS and cuDNN CPU doubles (cublas_double.cpp, cudnn_double.cpp) share: the registry of the
// handles and descriptors that exist, the one-line note that says why a call was rejected, and the
// float64 accumulation + blend that ends every product. Test infrastructure only.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <unordered_set>

namespace cuda_emu {

// A rejected call prints why on stderr (the status code alone rarely says which argument was wrong), then
// returns the status the real library documents.
inline void reject_note(const char* api, const std::string& why) {
  std::fprintf(stderr, "cuda_emu: %s: %s\n", api, why.c_str());
}

// The objects of one kind (a library handle, a descriptor) that exist now. The real libraries crash or
// read freed memory on a destroyed or never-created object; the doubles look it up and reject it.
template <class T>
class Registry {
 public:
  T* create() {
    T* p = new T();
    std::lock_guard<std::mutex> lock(mu_);
    live_.insert(p);
    return p;
  }
  bool destroy(T* p) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (live_.erase(p) == 0) return false;
    }
    delete p;
    return true;
  }
  bool alive(const T* p) const {
    std::lock_guard<std::mutex> lock(mu_);
    return p && live_.count(const_cast<T*>(p)) != 0;
  }

 private:
  mutable std::mutex mu_;
  std::unordered_set<T*> live_;
};

// The one registry of objects of type T; never destroyed, so usable from static destructors.
template <class T>
Registry<T>& registry() {
  static auto* r = new Registry<T>();
  return *r;
}

// out = alpha * acc + beta * out, rounded to float once. beta == 0 does not read `out` (cuBLAS and cuDNN
// both document that the output need not hold valid numbers then: NaN garbage must not leak).
inline void blend(float* out, double acc, double alpha, double beta) {
  *out = static_cast<float>(beta == 0.0 ? alpha * acc : alpha * acc + beta * static_cast<double>(*out));
}

// Whether [a, a + na) and [b, b + nb) share a byte: an output that overlaps an input is undefined in both
// libraries (the GPU result depends on the kernel's order), so the doubles reject it.
inline bool overlaps(const void* a, size_t na, const void* b, size_t nb) {
  const auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  return na != 0 && nb != 0 && pa < pb + nb && pb < pa + na;
}

}  // namespace cuda_emu
