#pragma once
// Message digests of files and byte streams: SHA-256 (FIPS 180-4) and MD5 (RFC 1321), as lowercase hex.
// Used to verify downloaded datasets against published checksums (MD5 only where that is all a dataset's
// authors publish) and for any other file checksum the project records. Implemented here rather than
// taken from OpenSSL so that every build has them, the GPU host included (no apt there, no libssl
// headers); the tests check both against the standards' test vectors and coreutils' sha256sum/md5sum.
// MD5 is only an integrity check against accidents here, never a defence against a chosen file.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace biascka {

namespace detail {
// What both digests share: 64-byte blocks fed to Derived::block, and the padding (0x80, zeros to 56 mod
// 64, the message length in bits in 8 bytes: big-endian for SHA-256, little-endian for MD5).
template <class Derived, bool kBigEndianLength>
class BlockDigest {
 public:
  void update(const void* data, size_t size) {
    auto p = static_cast<const uint8_t*>(data);
    total_ += size;
    if (used_ > 0) {
      const size_t take = size < 64 - used_ ? size : 64 - used_;
      for (size_t i = 0; i < take; ++i) buf_[used_ + i] = p[i];
      used_ += take;
      p += take;
      size -= take;
      if (used_ < 64) return;
      self().block(buf_.data());
      used_ = 0;
    }
    for (; size >= 64; p += 64, size -= 64) self().block(p);
    for (size_t i = 0; i < size; ++i) buf_[i] = p[i];
    used_ = size;
  }

 protected:
  void pad() {
    const uint64_t bits = total_ * 8;
    uint8_t tail[72] = {0x80};
    const size_t zeros = (used_ < 56 ? 56 - used_ : 120 - used_) - 1;
    for (int i = 0; i < 8; ++i)
      tail[1 + zeros + i] = static_cast<uint8_t>(kBigEndianLength ? bits >> (56 - 8 * i) : bits >> (8 * i));
    update(tail, 1 + zeros + 8);
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
  std::array<uint8_t, 64> buf_{};
  size_t used_ = 0;
  uint64_t total_ = 0;
};
}  // namespace detail

class Sha256 : public detail::BlockDigest<Sha256, true> {
 public:
  Sha256();
  std::string hex_digest();  // finishes; the object is spent afterwards

 private:
  friend class detail::BlockDigest<Sha256, true>;
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
};

class Md5 : public detail::BlockDigest<Md5, false> {
 public:
  Md5();
  std::string hex_digest();  // finishes; the object is spent afterwards

 private:
  friend class detail::BlockDigest<Md5, false>;
  void block(const uint8_t* p);
  std::array<uint32_t, 4> h_;
};

struct FileDigests {
  int64_t size = 0;
  std::string sha256, md5;
};

// Reads the file once and computes both digests. Throws "PATH: cannot read (reason)".
FileDigests digest_file(const std::string& path);

std::string sha256_hex(const std::string& bytes);
std::string md5_hex(const std::string& bytes);

}  // namespace biascka
