#pragma once
// Writes tar archives byte by byte, hostile ones included (absolute paths, '..', links, devices), and
// gzips them with stored (uncompressed) deflate blocks: the archive tests, the download tests' synthetic
// CIFAR-10 and the fuzz seeds need no archiver of their own.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace biascka::test {

struct TarMember {
  TarMember(std::string name_, std::string data_ = "", char type_ = '0', std::string link_ = "")
      : name(std::move(name_)), data(std::move(data_)), type(type_), link(std::move(link_)) {}
  std::string name;
  std::string data;   // a regular file's bytes
  char type = '0';    // '0' file, '5' folder, '2' symbolic link, '1' hard link, '3' device
  std::string link;   // target of a link
  int64_t size = -1;  // the size written in the header (-1: data.size()); a lie makes a hostile archive
};

inline std::string tar_bytes(const std::vector<TarMember>& members) {
  std::string out;
  for (const TarMember& m : members) {
    char h[512] = {};
    std::snprintf(h, 100, "%s", m.name.c_str());
    std::snprintf(h + 100, 8, "%07o", m.type == '5' ? 0755 : 0644);
    std::snprintf(h + 108, 8, "%07o", 0);
    std::snprintf(h + 116, 8, "%07o", 0);
    const int64_t size = m.size >= 0 ? m.size : static_cast<int64_t>(m.type == '0' ? m.data.size() : 0);
    std::snprintf(h + 124, 12, "%011llo", static_cast<unsigned long long>(size));
    std::snprintf(h + 136, 12, "%011o", 0);
    h[156] = m.type;
    std::snprintf(h + 157, 100, "%s", m.link.c_str());
    std::memcpy(h + 257, "ustar", 6);
    std::memcpy(h + 263, "00", 2);
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    std::snprintf(h + 148, 8, "%06o", sum);
    out.append(h, 512);
    if (m.type == '0') {
      out += m.data;
      out.append((512 - m.data.size() % 512) % 512, '\0');
    }
  }
  out.append(1024, '\0');
  return out;
}

inline uint32_t crc32_bytes(const std::string& s) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : s) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

// A gzip member holding `data` in stored deflate blocks (RFC 1951 BTYPE 00, RFC 1952 framing).
inline std::string gzip_stored(const std::string& data) {
  std::string out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
  size_t pos = 0;
  do {
    const size_t n = std::min<size_t>(65535, data.size() - pos);
    const bool last = pos + n == data.size();
    out += static_cast<char>(last ? 1 : 0);
    out += static_cast<char>(n & 0xFF);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(~n & 0xFF);
    out += static_cast<char>((~n >> 8) & 0xFF);
    out.append(data, pos, n);
    pos += n;
  } while (pos < data.size());
  for (uint32_t v : {crc32_bytes(data), static_cast<uint32_t>(data.size())})
    for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
  return out;
}

}  // namespace biascka::test
