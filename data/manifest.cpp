#include "data/manifest.h"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "engine/error.h"
#include "engine/io/atomic_file.h"

namespace biascka::data {

namespace {

// Where every number below comes from, and what was verified here:
//
// MNIST (http://yann.lecun.com/exdb/mnist/, which publishes no checksums). MD5: torchvision's
// datasets/mnist.py (`MNIST.resources`). SHA-256 and sizes: TensorFlow Datasets' url_checksums, the same
// values many projects record. The files could not be downloaded here (no route to the hosts), so both
// published digests are kept and a download must match both.
//
// Fashion-MNIST (https://github.com/zalandoresearch/fashion-mnist). MD5: the project's README. SHA-256:
// TensorFlow Datasets. Verified here byte for byte: Debian's dataset-fashion-mnist package ships these
// very gzip streams with the header's file name and time stripped (strip-nondeterminism); putting back
// the name and the original mtime (2017-08-31, found by search) gives files whose size and MD5 equal the
// README's and whose SHA-256 equal TFDS's. tests/test_data_fetch.cpp repeats that reconstruction.
//
// CIFAR-10 (https://www.cs.toronto.edu/~kriz/cifar.html, "CIFAR-10 binary version (suitable for C
// programs)"). MD5: published on that page. SHA-256 and size: TensorFlow Datasets and other projects'
// records of the same archive. Not downloadable here either; a download must match both.
Manifest make_builtin() {
  Manifest m;
  m.datasets.push_back(
      {"mnist",
       {"https://ossci-datasets.s3.amazonaws.com/mnist/",       // torchvision's mirror
        "https://storage.googleapis.com/cvdf-datasets/mnist/",  // TensorFlow's mirror
        "http://yann.lecun.com/exdb/mnist/"},  // the original (often refuses downloads nowadays)
       {{"train-images-idx3-ubyte.gz", 9912422,
         "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
         "f68b3c2dcbeaaa9fbdd348bbdeb94873"},
        {"train-labels-idx1-ubyte.gz", 28881,
         "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
         "d53e105ee54ea40749a09fcbcd1e9432"},
        {"t10k-images-idx3-ubyte.gz", 1648877,
         "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
         "9fb629c4189551a2d022fa330f9573f3"},
        {"t10k-labels-idx1-ubyte.gz", 4542,
         "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
         "ec29112dd5afa0611ce80d1b7f02629c"}},
       false});
  m.datasets.push_back({"fashion-mnist",
                        {"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  // the official host
                         "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/"},
                        {{"train-images-idx3-ubyte.gz", 26421880,
                          "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                          "8d4fb7e6c68d591d4c3dfef9ec88bf0d"},
                         {"train-labels-idx1-ubyte.gz", 29515,
                          "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                          "25c81989df183df01b3e8a0aad5dffbe"},
                         {"t10k-images-idx3-ubyte.gz", 4422102,
                          "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                          "bef4ecab320f06d8554ea6380940ec79"},
                         {"t10k-labels-idx1-ubyte.gz", 5148,
                          "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                          "bb300cfdad3c16e7a12a480ee83cd310"}},
                        false});
  m.datasets.push_back(
      {"cifar10",
       {"https://www.cs.toronto.edu/~kriz/",
        "https://storage.googleapis.com/s4tf-hosted-binaries/datasets/CIFAR10/"},  // Swift for TensorFlow's
                                                                                   // copy
       {{"cifar-10-binary.tar.gz", 170052171,
         "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
         "c32a1d4ab5d03f1284b67883e8d87530"}},
       true});
  return m;
}

bool is_hex(const std::string& s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// A plain file name: no folder part, nothing hidden or special, so it cannot land outside --out.
bool is_plain_name(const std::string& s) {
  return !s.empty() && s.size() <= 255 && s.front() != '.' && s.find('/') == std::string::npos &&
         s.find('\\') == std::string::npos &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return c >= 32; });
}

constexpr int64_t kMaxFileBytes = int64_t{64} << 30;

RemoteFile parse_file(const nlohmann::ordered_json& j, const std::string& where) {
  BIASCKA_CHECK(j.is_object(), where, ": expected an object {\"name\", \"size\", \"sha256\", \"md5\"}");
  RemoteFile f;
  BIASCKA_CHECK(j.contains("name") && j["name"].is_string(), where, ": missing \"name\"");
  f.name = j["name"].get<std::string>();
  BIASCKA_CHECK(is_plain_name(f.name), where, ": \"name\" must be a plain file name (no '/', not hidden)");
  BIASCKA_CHECK(j.contains("size") && j["size"].is_number_integer(), where, ": missing integer \"size\"");
  f.size = j["size"].get<int64_t>();
  BIASCKA_CHECK(f.size > 0 && f.size <= kMaxFileBytes, where, ": \"size\" must be in 1..", kMaxFileBytes);
  for (auto [key, len, out] :
       {std::tuple{"sha256", size_t{64}, &f.sha256}, std::tuple{"md5", size_t{32}, &f.md5}}) {
    if (!j.contains(key)) continue;
    BIASCKA_CHECK(j[key].is_string(), where, ": \"", key, "\" must be a string");
    *out = j[key].get<std::string>();
    std::transform(out->begin(), out->end(), out->begin(), [](unsigned char c) { return std::tolower(c); });
    BIASCKA_CHECK(is_hex(*out, len), where, ": \"", key, "\" must be ", len, " hex digits");
  }
  BIASCKA_CHECK(!f.sha256.empty() || !f.md5.empty(), where, ": needs \"sha256\" or \"md5\"");
  return f;
}

DatasetSource parse_dataset(const std::string& key, const nlohmann::ordered_json& j,
                            const std::string& where) {
  BIASCKA_CHECK(j.is_object(), where, ": expected an object {\"urls\", \"files\", \"unpack\"}");
  DatasetSource d;
  d.name = key;
  BIASCKA_CHECK(is_plain_name(key), where, ": the dataset name must be a plain name");
  if (j.contains("urls")) {
    BIASCKA_CHECK(j["urls"].is_array(), where, ".urls: expected an array of strings");
    for (const auto& u : j["urls"]) {
      BIASCKA_CHECK(u.is_string() && !u.get<std::string>().empty(), where,
                    ".urls: expected non-empty strings");
      d.base_urls.push_back(u.get<std::string>());
    }
  }
  if (j.contains("unpack")) {
    BIASCKA_CHECK(j["unpack"].is_string(), where, ".unpack: expected \"\" or \"tar.gz\"");
    const std::string u = j["unpack"].get<std::string>();
    BIASCKA_CHECK(u.empty() || u == "tar.gz", where, ".unpack: expected \"\" or \"tar.gz\", got \"", u, "\"");
    d.unpack_tar = u == "tar.gz";
  }
  BIASCKA_CHECK(j.contains("files") && j["files"].is_array() && !j["files"].empty(), where,
                ": needs a non-empty \"files\" array");
  for (size_t i = 0; i < j["files"].size(); ++i) {
    d.files.push_back(parse_file(j["files"][i], where + ".files[" + std::to_string(i) + "]"));
    for (size_t k = 0; k + 1 < d.files.size(); ++k)
      BIASCKA_CHECK(d.files[k].name != d.files.back().name, where, ".files[", i, "]: \"", d.files.back().name,
                    "\" is listed twice");
  }
  return d;
}

}  // namespace

const DatasetSource& Manifest::at(const std::string& name) const {
  for (const auto& d : datasets)
    if (d.name == name) return d;
  std::string known;
  for (const auto& n : names()) known += (known.empty() ? "" : ", ") + n;
  fail("unknown dataset '", name, "' (known: ", known, ")");
}

std::vector<std::string> Manifest::names() const {
  std::vector<std::string> out;
  for (const auto& d : datasets) out.push_back(d.name);
  return out;
}

const Manifest& builtin_manifest() {
  static const Manifest m = make_builtin();
  return m;
}

Manifest parse_manifest(const std::string& json_text, const std::string& name) {
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    fail(name, ": not valid JSON (", e.what(), ")");
  }
  BIASCKA_CHECK(
      j.is_object() && j.contains("datasets") && j["datasets"].is_object() && !j["datasets"].empty(), name,
      ": expected {\"datasets\": {\"NAME\": {...}, ...}}");
  Manifest m;
  for (const auto& [key, value] : j["datasets"].items())
    m.datasets.push_back(parse_dataset(key, value, name + ": datasets." + key));
  return m;
}

Manifest read_manifest(const std::string& path) { return parse_manifest(read_file(path), path); }

std::string manifest_json(const Manifest& m) {
  nlohmann::ordered_json datasets = nlohmann::ordered_json::object();
  for (const auto& d : m.datasets) {
    nlohmann::ordered_json files = nlohmann::ordered_json::array();
    for (const auto& f : d.files) {
      nlohmann::ordered_json jf = {{"name", f.name}, {"size", f.size}};
      if (!f.sha256.empty()) jf["sha256"] = f.sha256;
      if (!f.md5.empty()) jf["md5"] = f.md5;
      files.push_back(jf);
    }
    datasets[d.name] = {{"urls", d.base_urls}, {"unpack", d.unpack_tar ? "tar.gz" : ""}, {"files", files}};
  }
  return nlohmann::ordered_json{{"datasets", datasets}}.dump(2) + "\n";
}

std::string bffhq_instructions(const std::string& root) {
  const std::string dir = root.empty() ? "ROOT/bffhq" : root + "/bffhq";
  return "B-FFHQ cannot be downloaded automatically: DisEnt (Lee et al. 2021) publishes it on Google Drive.\n"
         "  1. Download the bffhq archive from DisEnt's datasets folder,\n"
         "     https://drive.google.com/drive/folders/1JEOqxrhU_IhkdcRohdbuEtFETUxfNmNT\n"
         "     (linked from https://github.com/kakaoenterprise/Learning-Debiased-Disentangled, "
         "\"Datasets\").\n"
         "  2. Unpack it so that " +
         dir +
         " holds (file names {id}_{target}_{bias}.png; target: age,\n"
         "     bias: gender):\n"
         "       " +
         dir +
         "/0.5pct/align/{0,1}/*.png     19,104 bias-aligned training images\n"
         "       " +
         dir +
         "/0.5pct/conflict/{0,1}/*.png  96 bias-conflicting training images\n"
         "       " +
         dir +
         "/valid/*.png                  1,000 images\n"
         "       " +
         dir +
         "/test/*.png                   1,000 images\n"
         "  3. Check it: biascka data check " +
         dir + "\n";
}

std::string join_url(const std::string& base, const std::string& file) {
  return base.ends_with('/') ? base + file : base + "/" + file;
}

}  // namespace biascka::data
