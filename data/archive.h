#pragma once
// Tar archives (ustar, GNU and pax tar, plain or gzipped), read with libarchive: how a downloaded dataset
// such as cifar-10-binary.tar.gz is unpacked. An archive is untrusted input even after its checksum
// matched (a site's own manifest may list any file), so every entry is checked before anything is written:
//   - its path is relative and stays inside the output folder (no leading '/', no '..' component);
//   - it is a regular file or a directory (links, devices and fifos are refused, so nothing written can
//     point outside the folder);
//   - the entry count and the total of the declared sizes stay under ArchiveLimits, and no entry yields
//     more bytes than it declared.
// Violations and corrupt archives throw `NAME: entry 'PATH': problem`.
#include <cstdint>
#include <string>
#include <vector>

namespace biascka::data {

struct ArchiveLimits {
  int64_t max_total_bytes = int64_t{16} << 30;  // 16 GiB: CIFAR-10's binary batches are 185 MB
  int64_t max_entries = 100000;
};

struct ArchiveEntry {
  std::string path;  // normalised: no "./" prefix, no repeated or trailing '/'
  bool directory = false;
  int64_t size = 0;  // bytes read for a file
};

// Whether this build has libarchive (without it the functions below throw saying so).
bool archive_supported();

// Reads every entry of an archive held in memory and checks it as above, writing nothing; the entries
// in archive order. `name` is used in error messages. (The fuzz target's entry point.)
std::vector<ArchiveEntry> list_archive_bytes(const std::string& bytes, const std::string& name,
                                             const ArchiveLimits& limits = {});

// Extracts the archive at `path` into out_dir. Entries are written under a hidden temporary folder inside
// out_dir; when every entry is written, each top-level entry is renamed into out_dir (replacing one of the
// same name), so an interrupted extraction leaves no partial folder under a final name. Returns the
// top-level names.
std::vector<std::string> extract_archive(const std::string& path, const std::string& out_dir,
                                         const ArchiveLimits& limits = {});

// The normalised relative form of an entry path, or "" when it would leave the output folder (absolute,
// a '..' component) or names the folder itself ("", ".", "./").
std::string safe_entry_path(const std::string& entry_path);

}  // namespace biascka::data
