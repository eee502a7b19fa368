// Tar archives, gzipped or plain (data/archive.cpp through libarchive): every entry's path, type and size
// checks and the whole decompression, on bytes in memory; nothing is written. Only biascka::Error (the
// reader's rejection) may come out: any other exception, crash or sanitizer report is a finding.
// Seeds (tests/fuzz/corpus/tar/, written once with Python's tarfile and gzip modules, mtime 0):
//   ustar_cifar_like.tar.gz  a folder and two files, laid out as cifar-10-binary.tar.gz (gzipped)
//   ustar_plain.tar          the same, not compressed
//   gnu_long_name.tar.gz     a GNU long-name (././@LongLink) entry
//   pax_long_name.tar.gz     pax extended headers: a 200-character name, a UTF-8 name
//   hostile_dotdot.tar       an entry '../escape.txt' after a good one
//   hostile_absolute.tar     an entry '/tmp/abs.txt'
//   hostile_links.tar        a symbolic link to /etc/passwd and a hard link
//   lying_size.tar           a header that declares 10 bytes for 1,500 bytes of data
//   empty.tar.gz             only the two zero blocks that end an archive
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/archive.h"
#include "engine/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  biascka::data::ArchiveLimits limits;
  limits.max_total_bytes = 64 << 20;  // gzip expands 1032:1: keep one input's work bounded
  limits.max_entries = 10000;
  try {
    biascka::data::list_archive_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz.tar",
                                      limits);
  } catch (const biascka::Error&) {
  }
  return 0;
}
