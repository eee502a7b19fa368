#pragma once
// What `biascka data fetch` downloads: for each dataset, the base URLs to try in order (the file name is
// appended to each) and every file's size and checksums. The built-in manifest (manifest.cpp) says where
// each checksum comes from and how it was verified.
//
// A site can replace it with its own (`--manifest FILE`), e.g. an air-gapped mirror that serves other
// copies of the files. The JSON shape is what `biascka data fetch --print-manifest` prints:
//   {"datasets": {"mnist": {"urls": ["https://host/mnist/"], "unpack": "",
//                           "files": [{"name": "train-images-idx3-ubyte.gz", "size": 9912422,
//                                      "sha256": "440f...", "md5": "f68b..."}, ...]}, ...}}
// Every file needs its size and at least one checksum (every checksum given is verified).
// "unpack": "tar.gz" extracts each downloaded .tar.gz/.tgz file after it is verified.
#include <cstdint>
#include <string>
#include <vector>

namespace biascka::data {

struct RemoteFile {
  std::string name;  // the file name under every base URL and on disk
  int64_t size = 0;
  std::string sha256, md5;  // lowercase hex; "" where none is recorded
};

struct DatasetSource {
  std::string name;                    // mnist | fashion-mnist | cifar10 (or a site's own)
  std::vector<std::string> base_urls;  // tried in order, after any --mirror
  std::vector<RemoteFile> files;
  bool unpack_tar = false;  // extract the .tar.gz files once verified
};

struct Manifest {
  std::vector<DatasetSource> datasets;
  // Throws naming the known datasets when `name` is not one of them.
  const DatasetSource& at(const std::string& name) const;
  std::vector<std::string> names() const;
};

// mnist, fashion-mnist and cifar10 with their official URLs and well-known mirrors.
const Manifest& builtin_manifest();

// Parses and validates a manifest (see the shape above). `name` (the file) is used in error messages:
// every problem is one `NAME: datasets.X.files[i]: problem` line.
Manifest parse_manifest(const std::string& json_text, const std::string& name);
Manifest read_manifest(const std::string& path);
// The manifest as JSON (2-space indented), the shape parse_manifest reads.
std::string manifest_json(const Manifest& m);

// B-FFHQ cannot be fetched reliably (DisEnt publishes it on a file-sharing drive): where to get it, where
// to unpack it under `root` and the layout expected, as lines to print.
std::string bffhq_instructions(const std::string& root);

// The URL of `file` under a base URL: base + '/' + file (one '/' between them).
std::string join_url(const std::string& base, const std::string& file);

}  // namespace biascka::data
