// Download manifests (data/manifest.cpp: JSON through nlohmann/json, then our validation of every field):
// only biascka::Error (the parser's rejection) may come out. Seeds (tests/fuzz/corpus/manifest/): the
// built-in manifest as `biascka data fetch --print-manifest` prints it, and a site manifest with an
// MD5-only file and an archive to unpack.
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/manifest.h"
#include "engine/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto m =
        biascka::data::parse_manifest(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
    biascka::data::manifest_json(m);  // whatever parsed must print
  } catch (const biascka::Error&) {
  }
  return 0;
}
