// Downloads (data/fetch.h) against a loopback HTTP server the test runs itself (tests/support/
// http_test_server.h, 127.0.0.1 only): a good file; a transfer cut short that resumes to the right bytes;
// a server that ignores Range; a wrong checksum (file gone, clear error); a 404; a stall (timeout, clear
// error); the server going down mid-transfer and coming back (resume); no server at all; Ctrl-C in the
// command (only the temporary file is left, and the next run resumes it). Nothing partial ever carries a
// final name. Then the manifest: its Fashion-MNIST checksums are checked against the original files rebuilt
// from Debian's package, and its parser refuses bad manifests. Last, `reproduce --download` end to end on
// tiny synthetic MNIST and CIFAR-10 files served locally.
//
// Every wait is bounded: timeouts of 1-2 s through FetchOptions, backoff of tens of milliseconds.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <thread>

#include "data/cifar10.h"
#include "data/fetch.h"
#include "data/manifest.h"
#include "engine/io/atomic_file.h"
#include "engine/io/digest.h"
#include "tests/support/cli_run.h"
#include "tests/support/http_test_server.h"
#include "tests/support/tar_writer.h"
#include "tests/test_data_fixtures.h"

extern char** environ;

namespace biascka {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

#define REQUIRE_CURL() \
  if (!data::fetch_supported()) GTEST_SKIP() << "this build has no libcurl (libcurl4-openssl-dev)"

std::string body_of(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

data::RemoteFile entry_for(const std::string& name, const std::string& body) {
  return {name, static_cast<int64_t>(body.size()), sha256_hex(body), md5_hex(body)};
}

data::FetchOptions fast() {
  data::FetchOptions o;
  o.connect_timeout_s = 2;
  o.stall_timeout_s = 1;
  o.retries = 2;
  o.backoff_s = 0.05;
  o.quiet = true;
  return o;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

class Fetch : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!data::fetch_supported()) GTEST_SKIP() << "this build has no libcurl (libcurl4-openssl-dev)";
    dir_ = test::temp_dir(std::string("fetch_") +
                          ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  std::string final_path(const std::string& name) const { return dir_ + "/" + name; }
  std::string dir_;
  test::HttpTestServer server_;
  const std::string body_ = body_of(300000, 7);
};

TEST_F(Fetch, AGoodFile) {
  server_.route("/a.bin", {body_});
  const std::string path = data::fetch_file(entry_for("a.bin", body_), {server_.url()}, dir_, fast());
  EXPECT_EQ(path, final_path("a.bin"));
  EXPECT_EQ(read_file(path), body_);
  EXPECT_FALSE(fs::exists(path + ".part"));
  // Present and verified: kept, no second request.
  data::fetch_file(entry_for("a.bin", body_), {server_.url()}, dir_, fast());
  EXPECT_EQ(server_.requests("/a.bin"), 1);
}

TEST_F(Fetch, ATruncatedTransferResumesToTheRightBytes) {
  test::Route r{body_};
  r.cut_after = 100000;
  r.cut_times = 1;
  server_.route("/a.bin", r);
  const std::string path = data::fetch_file(entry_for("a.bin", body_), {server_.url()}, dir_, fast());
  EXPECT_EQ(read_file(path), body_);
  EXPECT_EQ(server_.ranges("/a.bin"), (std::vector<std::string>{"", "bytes=100000-"}));
}

TEST_F(Fetch, AServerThatIgnoresRangesSendsTheWholeFileAgain) {
  test::Route r{body_};
  r.cut_after = 100000;
  r.cut_times = 1;
  r.ranges = false;
  server_.route("/a.bin", r);
  EXPECT_EQ(read_file(data::fetch_file(entry_for("a.bin", body_), {server_.url()}, dir_, fast())), body_);
  const auto ranges = server_.ranges("/a.bin");
  ASSERT_GE(ranges.size(), 3u);  // cut, ranged request answered 200 (refused), whole file
  EXPECT_EQ(ranges[1], "bytes=100000-");
  EXPECT_EQ(ranges.back(), "");
}

TEST_F(Fetch, AWrongChecksumDeletesTheFileAndSaysWhatCame) {
  std::string other = body_;
  other[1234] ^= 1;
  server_.route("/a.bin", {other});
  const data::RemoteFile f = entry_for("a.bin", body_);
  test::expect_error(
      [&] { data::fetch_file(f, {server_.url()}, dir_, fast()); },
      {final_path("a.bin"), "wrong SHA-256 (expected " + f.sha256 + ", got " + sha256_hex(other) + ")",
       server_.url() + "a.bin", "deleted"});
  EXPECT_FALSE(fs::exists(final_path("a.bin")));
  EXPECT_FALSE(fs::exists(final_path("a.bin") + ".part"));
  // A manifest with an MD5 only (as some datasets publish) is verified by it.
  data::RemoteFile md5_only = f;
  md5_only.sha256.clear();
  test::expect_error([&] { data::fetch_file(md5_only, {server_.url()}, dir_, fast()); },
                     {"wrong MD5 (expected " + f.md5 + ", got " + md5_hex(other) + ")"});
  // A file already under the final name that does not match is never overwritten silently.
  write_text_atomic(final_path("a.bin"), "something else");
  test::expect_error([&] { data::fetch_file(f, {server_.url()}, dir_, fast()); },
                     {"already there but wrong size", "delete it"});
  EXPECT_EQ(read_file(final_path("a.bin")), "something else");
}

TEST_F(Fetch, A404MovesOnToTheNextUrlWithoutRetrying) {
  server_.route("/good/a.bin", {body_});
  const auto path = data::fetch_file(entry_for("a.bin", body_),
                                     {server_.url() + "gone", server_.url() + "good/"}, dir_, fast());
  EXPECT_EQ(read_file(path), body_);
  EXPECT_EQ(server_.requests("/gone/a.bin"), 1);  // a 404 is final for that URL
  test::expect_error(
      [&] { data::fetch_file(entry_for("b.bin", body_), {server_.url() + "gone/"}, dir_, fast()); },
      {"b.bin: download failed: " + server_.url() + "gone/b.bin: ", "404"});
  EXPECT_EQ(server_.requests("/gone/b.bin"), 1);
  EXPECT_FALSE(fs::exists(final_path("b.bin")));
}

TEST_F(Fetch, AStallTimesOutWithAClearErrorAndLeavesTheResumableTemporaryFile) {
  test::Route r{body_};
  r.stall_after = 50000;
  server_.route("/a.bin", r);
  data::FetchOptions o = fast();
  o.retries = 1;
  const auto t0 = Clock::now();
  test::expect_error([&] { data::fetch_file(entry_for("a.bin", body_), {server_.url()}, dir_, o); },
                     {"a.bin: download failed: " + server_.url() + "a.bin: ", "stalled (no data for 1 s)"});
  EXPECT_LT(seconds_since(t0), 15.0);  // two attempts of ~1 s stall each, not a hang
  EXPECT_EQ(server_.requests("/a.bin"), 2);
  EXPECT_FALSE(fs::exists(final_path("a.bin")));
  EXPECT_EQ(fs::file_size(final_path("a.bin.part")), 50000u);
}

TEST_F(Fetch, NoServerIsOneLineNamingTheUrlWithinTheTimeout) {
  data::FetchOptions o = fast();
  o.retries = 1;
  const auto t0 = Clock::now();
  try {
    data::fetch_file(entry_for("a.bin", body_), {"http://127.0.0.1:1/"}, dir_, o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("a.bin: download failed: http://127.0.0.1:1/a.bin: "), std::string::npos) << msg;
    EXPECT_NE(msg.find("onnect"), std::string::npos)
        << msg;  // curl's "Couldn't connect"/"Connection refused"
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  EXPECT_LT(seconds_since(t0), 10.0);
  EXPECT_FALSE(fs::exists(final_path("a.bin")));
}

TEST_F(Fetch, AServerKilledMidTransferAndRestartedIsResumed) {
  test::Route r{body_};
  r.die_after = 120000;
  r.down_for_s = 0.6;
  server_.route("/a.bin", r);
  data::FetchOptions o = fast();
  o.retries = 6;
  o.backoff_s = 0.1;
  auto done = std::async(std::launch::async, [&] {
    return data::fetch_file(entry_for("a.bin", body_), {server_.url()}, dir_, o);
  });
  bool final_seen_early = false;  // nothing may carry the final name before the file is verified
  while (done.wait_for(std::chrono::milliseconds(5)) != std::future_status::ready)
    final_seen_early = final_seen_early || fs::exists(final_path("a.bin"));
  EXPECT_FALSE(final_seen_early);
  EXPECT_EQ(read_file(done.get()), body_);
  const auto ranges = server_.ranges("/a.bin");
  ASSERT_GE(ranges.size(), 2u);
  EXPECT_EQ(ranges.front(), "");
  ASSERT_TRUE(ranges.back().starts_with("bytes=")) << ranges.back();
  const long resumed_at = std::stol(ranges.back().substr(6));
  EXPECT_GT(resumed_at, 0);
  EXPECT_LE(resumed_at, 120000);
}

TEST_F(Fetch, TooManyBytesAreRefused) {
  server_.route("/a.bin", {body_ + "extra"});
  test::expect_error([&] { data::fetch_file(entry_for("a.bin", body_), {server_.url()}, dir_, fast()); },
                     {"sent more than the 300000 bytes the manifest lists"});
  EXPECT_FALSE(fs::exists(final_path("a.bin")));
}

TEST_F(Fetch, ADatasetWithAnArchiveIsUnpackedOnce) {
  const std::string tgz = test::gzip_stored(test::tar_bytes({{"pack/x.bin", "xx"}, {"pack/y.bin", body_}}));
  server_.route("/pack.tar.gz", {tgz});
  server_.route("/plain.bin", {body_});
  data::DatasetSource src{
      "demo", {"http://127.0.0.1:1/"}, {entry_for("pack.tar.gz", tgz), entry_for("plain.bin", body_)}, true};
  data::FetchOptions o = fast();
  o.mirrors = {server_.url()};  // tried before the dead URL
  data::fetch_dataset(src, dir_, o);
  EXPECT_EQ(read_file(dir_ + "/pack/y.bin"), body_);
  EXPECT_EQ(read_file(dir_ + "/pack.tar.gz.unpacked"), "pack\n");
  fs::remove(dir_ + "/pack/x.bin");  // the marker, not the contents, says it was unpacked
  data::fetch_dataset(src, dir_, o);
  EXPECT_FALSE(fs::exists(dir_ + "/pack/x.bin"));
  EXPECT_EQ(server_.requests("/pack.tar.gz"), 1);
}

// ---- the command: Ctrl-C, then the next run resumes ----

std::string write_manifest(const std::string& path, const std::string& dataset, const data::RemoteFile& f,
                           const std::string& url) {
  data::Manifest m;
  m.datasets.push_back({dataset, {url}, {f}, false});
  write_text_atomic(path, data::manifest_json(m));
  return path;
}

TEST_F(Fetch, CtrlCLeavesOnlyTheTemporaryFileAndTheNextRunResumesIt) {
  test::Route r{body_};
  r.stall_after = 100000;
  server_.route("/a.bin", r);
  const std::string manifest =
      write_manifest(dir_ + "/m.json", "mnist", entry_for("a.bin", body_), "http://127.0.0.1:1/");
  const std::string exe = std::string(BIASCKA_BINARY_DIR) + "/bin/biascka";
  std::vector<std::string> args = {
      exe,      "data",     "fetch",       "mnist",           "--out", dir_ + "/out", "--manifest",
      manifest, "--mirror", server_.url(), "--stall-timeout", "30",    "--quiet"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), environ), 0);
  struct Reap {  // the child never outlives the test, whatever fails
    pid_t pid;
    int status = 0;
    bool done = false;
    void wait() {
      if (!done) waitpid(pid, &status, 0);
      done = true;
    }
    ~Reap() {
      if (!done) kill(pid, SIGKILL);
      wait();
    }
  } child{pid};
  const std::string part = dir_ + "/out/mnist/a.bin.part";
  const auto t0 = Clock::now();
  while (!(fs::exists(part) && fs::file_size(part) >= 100000) && seconds_since(t0) < 20)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(fs::file_size(part), 100000u);  // unbuffered: every byte received is in the file
  kill(pid, SIGINT);
  child.wait();
  EXPECT_TRUE(WIFSIGNALED(child.status) || (WIFEXITED(child.status) && WEXITSTATUS(child.status) == 130))
      << child.status;
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir_ + "/out/mnist"))
    left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{".lock", "a.bin.part"}));

  server_.route("/a.bin", {body_});
  const auto again = test::run_biascka("data fetch mnist --out " + dir_ + "/out --manifest " + manifest +
                                       " --mirror " + server_.url() + " --retries 0");
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_NE(again.output.find("resuming a.bin at 100.0 kB"), std::string::npos) << again.output;
  EXPECT_EQ(read_file(dir_ + "/out/mnist/a.bin"), body_);
  EXPECT_EQ(server_.ranges("/a.bin").back(), "bytes=100000-");
}

TEST(FetchCommand, BffhqSaysWhereToGetItAndChecksTheFolderWhenThere) {
  const std::string dir = test::temp_dir("fetch_bffhq");
  const auto missing = test::run_biascka("data fetch bffhq --out " + dir);
  EXPECT_EQ(missing.code, 0) << missing.output;
  EXPECT_NE(missing.output.find("https://drive.google.com/drive/folders/1JEOqxrhU_IhkdcRohdbuEtFETUxfNmNT"),
            std::string::npos)
      << missing.output;
  EXPECT_NE(missing.output.find(dir + "/bffhq/0.5pct/align/{0,1}/*.png"), std::string::npos)
      << missing.output;
  fs::create_directories(dir + "/bffhq/0.5pct/align/0");
  const auto broken = test::run_biascka("data fetch bffhq --out " + dir);
  EXPECT_EQ(broken.code, 1) << broken.output;
  EXPECT_NE(broken.output.find("0.5pct/conflict/: missing"), std::string::npos) << broken.output;
  const auto unknown = test::run_biascka("data fetch imagenet --out " + dir);
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.output.find("unknown dataset 'imagenet' (known: mnist, fashion-mnist, cifar10)"),
            std::string::npos)
      << unknown.output;
}

// ---- the manifest ----

// Debian's dataset-fashion-mnist ships Fashion-MNIST's own gzip streams with the header's file name and
// time stripped (strip-nondeterminism). Putting them back rebuilds the published files byte for byte, so the
// manifest's sizes, MD5s and SHA-256s are checked against the real bytes.
std::string original_gzip(const std::string& debian_file, const std::string& name, uint32_t mtime) {
  const std::string d = read_file(debian_file);
  if (d.size() < 18 || d[3] != 0) return "";  // not the stripped header this test knows
  std::string out = d.substr(0, 10);
  out[3] = 0x08;  // FNAME
  for (int i = 0; i < 4; ++i) out[4 + i] = static_cast<char>(mtime >> (8 * i));
  return out + name + '\0' + d.substr(10);
}

TEST(Manifest, FashionMnistChecksumsMatchTheOriginalFilesRebuiltFromDebiansPackage) {
  const std::string debian = "/usr/share/datasets/fashion-mnist";
  if (!fs::is_directory(debian)) GTEST_SKIP() << debian << " missing (apt-get install dataset-fashion-mnist)";
  const std::string dir = test::temp_dir("manifest_fashion");
  const std::map<std::string, uint32_t> mtimes = {{"train-images-idx3-ubyte", 1504176606},
                                                  {"train-labels-idx1-ubyte", 1504176606},
                                                  {"t10k-images-idx3-ubyte", 1504176627},
                                                  {"t10k-labels-idx1-ubyte", 1504176627}};
  const data::DatasetSource& fashion = data::builtin_manifest().at("fashion-mnist");
  ASSERT_EQ(fashion.files.size(), 4u);
  for (const data::RemoteFile& f : fashion.files) {
    const std::string stem = f.name.substr(0, f.name.size() - 3);
    const std::string bytes = original_gzip(debian + "/" + f.name, stem, mtimes.at(stem));
    if (bytes.empty()) GTEST_SKIP() << debian << "/" << f.name << " has another gzip header than Debian 12's";
    write_text_atomic(dir + "/" + f.name, bytes);
    EXPECT_NO_THROW(data::verify_file(dir + "/" + f.name, f)) << f.name;
    // Debian's file itself is another file: verification tells.
    test::expect_error([&] { data::verify_file(debian + "/" + f.name, f); }, {f.name, "wrong size"});
  }
}

TEST(Manifest, BuiltinEntriesAreCompleteAndRoundTripThroughJson) {
  const data::Manifest& m = data::builtin_manifest();
  EXPECT_EQ(m.names(), (std::vector<std::string>{"mnist", "fashion-mnist", "cifar10"}));
  for (const auto& d : m.datasets) {
    EXPECT_GE(d.base_urls.size(), 2u) << d.name;
    for (const auto& f : d.files) {
      EXPECT_EQ(f.sha256.size(), 64u) << f.name;
      EXPECT_EQ(f.md5.size(), 32u) << f.name;
      EXPECT_GT(f.size, 0) << f.name;
    }
  }
  EXPECT_EQ(m.at("cifar10").files[0].size, 170052171);
  EXPECT_TRUE(m.at("cifar10").unpack_tar);
  const data::Manifest back = data::parse_manifest(data::manifest_json(m), "printed");
  EXPECT_EQ(data::manifest_json(back), data::manifest_json(m));
}

TEST(Manifest, BadManifestsAreOneLineErrors) {
  const std::string file = R"({"name": "a.gz", "size": 3, "sha256": ")" + std::string(64, 'a') + "\"}";
  auto with = [](const std::string& files, const std::string& extra = "") {
    return R"({"datasets": {"d": {"urls": ["http://x/"], "files": [)" + files + "]" + extra + "}}}";
  };
  ASSERT_NO_THROW(data::parse_manifest(with(file), "m.json"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", "not valid JSON"},
      {R"({"datasets": {}})", "expected {\"datasets\""},
      {with(R"({"name": "../a.gz", "size": 3, "md5": ")" + std::string(32, 'a') + "\"}"), "plain file name"},
      {with(R"({"name": "a.gz", "size": -1, "md5": ")" + std::string(32, 'a') + "\"}"), "\"size\" must be"},
      {with(R"({"name": "a.gz", "size": 3})"), "needs \"sha256\" or \"md5\""},
      {with(R"({"name": "a.gz", "size": 3, "sha256": "xyz"})"), "\"sha256\" must be 64 hex digits"},
      {with(file + "," + file), "listed twice"},
      {with(file, R"(, "unpack": "zip")"), "expected \"\" or \"tar.gz\""},
  };
  for (const auto& [text, says] : cases)
    test::expect_error([&] { data::parse_manifest(text, "m.json"); }, {"m.json", says});
  EXPECT_EQ(data::join_url("http://h/a", "f.gz"), "http://h/a/f.gz");
  EXPECT_EQ(data::join_url("http://h/a/", "f.gz"), "http://h/a/f.gz");
}

// ---- reproduce --download, end to end ----

TEST_F(Fetch, ReproduceDownloadBuildsChecksAndRunsTheGrid) {
  // Tiny "MNIST": 240 + 80 12x12 digits, gzipped IDX as the real files are.
  const std::string src = dir_ + "/src";
  test::write_idx_set(src + "/mnist", 240, 80, 12, 12, true);
  // Tiny "CIFAR-10": 5 training batches of 60 and a test batch of 40, in the binary release's tar.gz.
  std::vector<test::TarMember> members = {{"cifar-10-batches-bin/", "", '5'}};
  for (int b = 0; b <= 5; ++b) {
    const int n = b < 5 ? 60 : 40;
    std::vector<uint8_t> images(static_cast<size_t>(n) * 32 * 32 * 3);
    std::vector<int64_t> labels(n);
    for (int i = 0; i < n; ++i) {
      labels[i] = (i + b) % 10;
      const data::Image img = test::random_image(32, 32, 100 * b + i);
      std::copy(img.pixels.begin(), img.pixels.end(), images.begin() + static_cast<size_t>(i) * 32 * 32 * 3);
    }
    members.push_back(
        {"cifar-10-batches-bin/" + (b < 5 ? "data_batch_" + std::to_string(b + 1) : "test_batch") + ".bin",
         data::encode_cifar10_batch(images.data(), labels)});
  }
  const std::string tgz = test::gzip_stored(test::tar_bytes(members));

  data::Manifest m;
  m.datasets.push_back({"mnist", {"http://127.0.0.1:1/"}, {}, false});
  for (const char* name : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                           "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}) {
    const std::string bytes = read_file(src + "/mnist/" + name);
    server_.route(std::string("/") + name, {bytes});
    m.datasets[0].files.push_back(entry_for(name, bytes));
  }
  server_.route("/cifar-10-binary.tar.gz", {tgz});
  m.datasets.push_back(
      {"cifar10", {"http://127.0.0.1:1/"}, {entry_for("cifar-10-binary.tar.gz", tgz)}, true});
  write_text_atomic(dir_ + "/site.json", data::manifest_json(m));

  const std::string root = dir_ + "/root", out = dir_ + "/repro";
  const std::string cmd =
      "reproduce --data-root " + root + " --download --manifest " + dir_ + "/site.json --mirror " +
      server_.url() +
      " --retries 0 --datasets cmnist,cifar10c --losses sce --seeds 1 --epochs 1 --batch 32"
      " --workers 1 --max-train 64 --max-eval 40 --cka-samples 20 --cka-batch 20 --cka-layers 'layer4.*'"
      " --quiet --out " +
      out;
  const auto first = test::run_biascka(cmd);
  ASSERT_EQ(first.code, 0) << first.output;
  for (const char* pct : {"0.5pct", "1pct", "2pct", "5pct"}) {
    EXPECT_TRUE(fs::is_directory(root + "/cmnist/" + pct + "/align")) << pct;
    EXPECT_TRUE(fs::is_directory(root + "/cifar10c/" + pct + "/valid")) << pct;
  }
  EXPECT_TRUE(fs::exists(root + "/downloads/cifar10/cifar-10-batches-bin/test_batch.bin"));
  EXPECT_TRUE(fs::exists(root + "/downloads/mnist/t10k-labels-idx1-ubyte.gz"));
  EXPECT_TRUE(fs::exists(out + "/runs/cmnist/sce/seed0/summary.json"));
  EXPECT_TRUE(fs::exists(out + "/runs/cifar10c/sce/seed0/summary.json"));
  EXPECT_TRUE(fs::exists(out + "/table.md"));
  // Everything is there now: the same command downloads nothing and trains nothing.
  const auto second = test::run_biascka(cmd);
  ASSERT_EQ(second.code, 0) << second.output;
  EXPECT_EQ(server_.requests("/cifar-10-binary.tar.gz"), 1);
  EXPECT_EQ(server_.requests("/train-images-idx3-ubyte.gz"), 1);
}

}  // namespace
}  // namespace biascka
