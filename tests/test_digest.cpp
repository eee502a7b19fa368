// SHA-256 and MD5 (engine/io/digest.h) against the standards' test vectors, across block boundaries, and
// against coreutils' sha256sum/md5sum on a file.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/digest.h"
#include "tests/support/test_support.h"

namespace biascka {
namespace {

TEST(Digest, Sha256TestVectors) {  // FIPS 180-4 examples (NIST CSRC "SHA256.pdf", "SHA256_2.pdf")
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Digest, Md5TestVectors) {  // RFC 1321, appendix A.5
  EXPECT_EQ(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(md5_hex("a"), "0cc175b9c0f1b6a831c399e269772661");
  EXPECT_EQ(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(md5_hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
  EXPECT_EQ(md5_hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
            "57edf4a22be3c955ac49da2e2107b67a");
}

// Every split of the input into two updates gives the one-shot digest: the block buffer and the padding
// are right at and around the 64-byte boundaries (55, 56, 63, 64 and 65 bytes are the delicate lengths).
TEST(Digest, IncrementalUpdatesEqualOneShot) {
  std::string data;
  for (int i = 0; i < 200; ++i) data += static_cast<char>((i * 37 + 11) & 0xFF);
  for (size_t len : {0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 200})
    for (size_t cut = 0; cut <= len; cut += (len > 70 ? 7 : 1)) {
      const std::string msg = data.substr(0, len);
      Sha256 s;
      Md5 m;
      s.update(msg.data(), cut);
      s.update(msg.data() + cut, len - cut);
      m.update(msg.data(), cut);
      m.update(msg.data() + cut, len - cut);
      EXPECT_EQ(s.hex_digest(), sha256_hex(msg)) << len << " split at " << cut;
      EXPECT_EQ(m.hex_digest(), md5_hex(msg)) << len << " split at " << cut;
    }
}

std::string shell_digest(const std::string& tool, const std::string& path) {
  FILE* p = popen((tool + " " + path).c_str(), "r");
  char buf[128] = {};
  const bool ok = p && std::fgets(buf, sizeof buf, p);
  if (p) pclose(p);
  return ok ? std::string(buf).substr(0, std::string(buf).find(' ')) : "";
}

TEST(Digest, FileDigestsMatchCoreutils) {
  const std::string dir = test::temp_dir("digest");
  std::string data;
  for (int i = 0; i < 3 * 1048576 + 17; ++i) data += static_cast<char>((i * 2654435761u) >> 24);
  write_text_atomic(dir + "/f.bin", data);
  const FileDigests d = digest_file(dir + "/f.bin");
  EXPECT_EQ(d.size, static_cast<int64_t>(data.size()));
  EXPECT_EQ(d.sha256, shell_digest("sha256sum", dir + "/f.bin"));
  EXPECT_EQ(d.md5, shell_digest("md5sum", dir + "/f.bin"));
  EXPECT_EQ(d.sha256, sha256_hex(data));
  try {
    digest_file(dir + "/missing.bin");
    ADD_FAILURE() << "no error for a missing file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.bin: cannot read"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace biascka
