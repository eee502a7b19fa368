#include "data/fetch.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>
#include <thread>
#include <utility>

#include "data/archive.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/digest.h"
#include "engine/io/file_lock.h"

#if BIASCKA_HAVE_CURL
#include <curl/curl.h>
#endif

namespace biascka::data {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// "" when `path` matches the manifest entry, else what is wrong ("wrong SHA-256 (expected X, got Y)").
std::string checksum_problem(const std::string& path, const RemoteFile& f) {
  const FileDigests d = digest_file(path);
  if (d.size != f.size)
    return "wrong size (expected " + std::to_string(f.size) + " bytes, got " + std::to_string(d.size) + ")";
  if (!f.sha256.empty() && d.sha256 != f.sha256)
    return "wrong SHA-256 (expected " + f.sha256 + ", got " + d.sha256 + ")";
  if (!f.md5.empty() && d.md5 != f.md5) return "wrong MD5 (expected " + f.md5 + ", got " + d.md5 + ")";
  return "";
}

#if BIASCKA_HAVE_CURL

std::string format_bytes(int64_t n) {
  char buf[32];
  if (n >= 1000 * 1000)
    std::snprintf(buf, sizeof buf, "%.1f MB", n / 1e6);
  else if (n >= 1000)
    std::snprintf(buf, sizeof buf, "%.1f kB", n / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(n));
  return buf;
}

std::string format_duration(double s) {
  char buf[32];
  const int t = static_cast<int>(s + 0.5);
  std::snprintf(buf, sizeof buf, "%dm%02ds", t / 60, t % 60);
  return buf;
}

int64_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(n);
}

void truncate_to_zero(const std::string& path) {
  std::error_code ec;
  fs::resize_file(path, 0, ec);
}

// Makes the bytes durable, then gives them their final name.
void commit(const std::string& part, const std::string& final_path) {
  const int fd = ::open(part.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  BIASCKA_CHECK(std::rename(part.c_str(), final_path.c_str()) == 0, final_path,
                ": cannot rename into place (", std::strerror(errno), ")");
}

// A live line on a terminal: bytes, percent, rate and ETA of one file.
class TransferProgress {
 public:
  TransferProgress(std::string name, int64_t total, int64_t have, bool live)
      : name_(std::move(name)), total_(total), start_have_(have), live_(live), start_(Clock::now()) {}
  void update(int64_t have) {
    if (!live_) return;
    const auto now = Clock::now();
    if (shown_ && std::chrono::duration<double>(now - last_).count() < 0.25 && have < total_) return;
    last_ = now;
    shown_ = true;
    const double elapsed = seconds_since(start_);
    const double rate = elapsed > 0 ? (have - start_have_) / elapsed : 0;
    const std::string eta = rate > 0 ? format_duration((total_ - have) / rate) : "?";
    std::fprintf(stderr, "\r%s %3d%% %s / %s  %s/s  ETA %s\033[K", name_.c_str(),
                 static_cast<int>(100.0 * have / std::max<int64_t>(total_, 1)), format_bytes(have).c_str(),
                 format_bytes(total_).c_str(), format_bytes(static_cast<int64_t>(rate)).c_str(), eta.c_str());
    std::fflush(stderr);
  }
  // Clears the live line before another line is printed.
  void clear() {
    if (!shown_) return;
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    shown_ = false;
  }
  double elapsed() const { return seconds_since(start_); }
  int64_t start_have() const { return start_have_; }

 private:
  std::string name_;
  int64_t total_, start_have_;
  bool live_, shown_ = false;
  Clock::time_point start_, last_;
};

void init_curl_once() {
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  BIASCKA_CHECK(rc == CURLE_OK, "libcurl: cannot initialise (", curl_easy_strerror(rc), ")");
}

using CurlHandle = std::unique_ptr<CURL, void (*)(CURL*)>;

// One transfer's state, shared with libcurl's callbacks.
struct Transfer {
  FILE* out = nullptr;
  int64_t have = 0, limit = 0;  // bytes in the file; the manifest's size
  bool overflow = false;        // the server sent more than `limit`
  bool stalled = false;         // no byte for stall_timeout_s
  int write_errno = 0;
  double stall_timeout_s = 30;
  Clock::time_point last_byte = Clock::now();  // or the request's start
  TransferProgress* progress = nullptr;
};

size_t on_data(char* p, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t bytes = size * n;
  if (t->have + static_cast<int64_t>(bytes) > t->limit) {
    t->overflow = true;
    return 0;  // aborts the transfer
  }
  if (std::fwrite(p, 1, bytes, t->out) != bytes) {
    t->write_errno = errno;
    return 0;
  }
  t->have += static_cast<int64_t>(bytes);
  t->last_byte = Clock::now();
  return bytes;
}

// libcurl calls this several times a second during a transfer and about once a second while nothing
// arrives, so a stall is noticed within a second of stall_timeout_s (libcurl's own low-speed timer
// averages over several seconds and lets a stall after a burst run on for up to five more).
int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  t->progress->update(t->have);
  if (seconds_since(t->last_byte) < t->stall_timeout_s) return 0;
  t->stalled = true;
  return 1;  // aborts the transfer
}

enum class Outcome { Complete, Retry, NextUrl, Restart };

struct Attempt {
  Outcome outcome;
  std::string reason;
  int64_t gained = 0;  // new bytes this attempt brought
};

bool permanent_curl_error(CURLcode rc) {
  switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:  // no DNS: retrying the same host at once rarely helps
    case CURLE_REMOTE_ACCESS_DENIED:
    case CURLE_FILE_COULDNT_READ_FILE:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_LOGIN_DENIED:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      return true;
    default:
      return false;
  }
}

void set_options(CURL* c, const std::string& url, Transfer& t, const FetchOptions& o, char* errbuf) {
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);  // HTTP >= 400 is an error, not a body to save
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");  // file:// for local mirrors
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout_s * 1000));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "biascka");
  if (t.have > 0) curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(t.have));
}

// One request for the bytes `part` lacks.
Attempt attempt(CURL* c, const std::string& url, const std::string& part, const RemoteFile& f,
                const FetchOptions& o, TransferProgress& progress) {
  int64_t offset = file_size_or_zero(part);
  if (offset > f.size) {  // not a prefix of this file: start again
    truncate_to_zero(part);
    offset = 0;
  }
  if (offset == f.size) return {Outcome::Complete, "", 0};
  std::unique_ptr<FILE, int (*)(FILE*)> out(std::fopen(part.c_str(), offset > 0 ? "ab" : "wb"), &std::fclose);
  BIASCKA_CHECK(out, part, ": cannot write (", std::strerror(errno), ")");
  std::setvbuf(out.get(), nullptr, _IONBF, 0);  // every byte received is in the file (Ctrl-C loses none)
  Transfer t;
  t.out = out.get();
  t.have = offset;
  t.limit = f.size;
  t.stall_timeout_s = o.stall_timeout_s;
  t.progress = &progress;
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_easy_reset(c);
  set_options(c, url, t, o, errbuf);
  const CURLcode rc = curl_easy_perform(c);
  const bool flushed = std::fflush(out.get()) == 0;
  const int flush_errno = errno;
  BIASCKA_CHECK(t.write_errno == 0 && flushed, part, ": cannot write (",
                std::strerror(t.write_errno ? t.write_errno : flush_errno), ")");
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  const int64_t gained = t.have - offset;
  char stalled[64];
  std::snprintf(stalled, sizeof stalled, "stalled (no data for %g s)", o.stall_timeout_s);
  const std::string reason = t.stalled ? stalled : errbuf[0] ? errbuf : curl_easy_strerror(rc);
  if (t.overflow) {
    truncate_to_zero(part);
    return {Outcome::NextUrl, "sent more than the " + std::to_string(f.size) + " bytes the manifest lists",
            gained};
  }
  if (rc == CURLE_OK) {
    if (t.have == f.size) return {Outcome::Complete, "", gained};
    return {Outcome::Retry,
            "the transfer ended after " + std::to_string(t.have) + " of " + std::to_string(f.size) + " bytes",
            gained};
  }
  if (rc == CURLE_RANGE_ERROR) {  // a 200 reply to our Range request: the whole file comes again
    truncate_to_zero(part);
    return {Outcome::Restart, reason, gained};
  }
  if (rc == CURLE_HTTP_RETURNED_ERROR) {
    if (status == 416) {  // our bytes reach past the server's file: it is another file
      truncate_to_zero(part);
      return {Outcome::NextUrl, reason, gained};
    }
    const bool transient = status == 408 || status == 429 || status >= 500;
    return {transient ? Outcome::Retry : Outcome::NextUrl, reason, gained};
  }
  return {permanent_curl_error(rc) ? Outcome::NextUrl : Outcome::Retry, reason, gained};
}

// Tries each URL in turn until the part file holds all the bytes; returns the URL that completed it.
std::string download(const RemoteFile& f, const std::vector<std::string>& urls, const std::string& part,
                     const FetchOptions& o, TransferProgress& progress) {
  init_curl_once();
  CurlHandle c(curl_easy_init(), &curl_easy_cleanup);
  BIASCKA_CHECK(c, "libcurl: cannot create a transfer");
  auto say = [&](const std::string& line) {
    if (o.quiet) return;
    progress.clear();
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  };
  std::string failures;
  for (const std::string& url : urls) {
    int strikes = 0, restarts = 0;
    for (;;) {
      const int64_t before = file_size_or_zero(part);
      if (before > 0 && before < f.size)
        say("resuming " + f.name + " at " + format_bytes(before) + " from " + url);
      const Attempt a = attempt(c.get(), url, part, f, o, progress);
      if (a.outcome == Outcome::Complete) return url;
      if (a.outcome == Outcome::Restart && ++restarts == 1) {
        say(url + ": " + a.reason + "; downloading the whole file again");
        continue;
      }
      if (a.outcome == Outcome::Retry) {
        strikes = a.gained > 0 ? 1 : strikes + 1;
        if (strikes <= o.retries) {
          const double wait = std::min(o.backoff_max_s, o.backoff_s * double(1 << std::min(strikes - 1, 20)));
          char in[32];
          std::snprintf(in, sizeof in, "; retrying in %.1f s", wait);
          say(url + ": " + a.reason + in);
          std::this_thread::sleep_for(std::chrono::duration<double>(wait));
          continue;
        }
      }
      failures += (failures.empty() ? "" : "; ") + url + ": " + a.reason;
      break;
    }
  }
  progress.clear();
  fail(f.name, ": download failed: ", failures);
}

#endif  // BIASCKA_HAVE_CURL

}  // namespace

#if BIASCKA_HAVE_CURL
bool fetch_supported() { return true; }
#else
bool fetch_supported() { return false; }
#endif

void verify_file(const std::string& path, const RemoteFile& file) {
  const std::string problem = checksum_problem(path, file);
  BIASCKA_CHECK(problem.empty(), path, ": ", problem);
}

std::string fetch_file(const RemoteFile& file, const std::vector<std::string>& base_urls,
                       const std::string& out_dir, const FetchOptions& o) {
  const std::string final_path = (fs::path(out_dir) / file.name).string();
  if (fs::exists(final_path)) {
    const std::string problem = checksum_problem(final_path, file);
    BIASCKA_CHECK(problem.empty(), final_path, ": already there but ", problem,
                  "; delete it to download it again");
    return final_path;
  }
#if BIASCKA_HAVE_CURL
  BIASCKA_CHECK(!base_urls.empty(), file.name, ": no URL to download it from (pass --mirror URL)");
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  BIASCKA_CHECK(!ec, out_dir, ": cannot create folder (", ec.message(), ")");
  const std::string part = final_path + ".part";
  std::vector<std::string> urls;
  for (const auto& base : base_urls) urls.push_back(join_url(base, file.name));
  TransferProgress progress(file.name, file.size, file_size_or_zero(part),
                            !o.quiet && ::isatty(STDERR_FILENO));
  const std::string url = download(file, urls, part, o, progress);
  progress.clear();
  if (const std::string problem = checksum_problem(part, file); !problem.empty()) {
    std::remove(part.c_str());
    fail(final_path, ": ", problem, " from ", url,
         "; the download was deleted (run again to download it afresh)");
  }
  commit(part, final_path);
  if (!o.quiet) {
    const double s = progress.elapsed();
    std::fprintf(stderr, "fetched %s (%s in %.1f s) from %s\n", final_path.c_str(),
                 format_bytes(file.size - progress.start_have()).c_str(), s, url.c_str());
  }
  return final_path;
#else
  (void)base_urls;
  (void)o;
  fail(file.name,
       ": this build cannot download (libcurl was not found when it was compiled: apt-get install "
       "libcurl4-openssl-dev and rebuild), or download it yourself into ",
       out_dir);
#endif
}

std::string fetch_dataset(const DatasetSource& source, const std::string& out_dir, const FetchOptions& o) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  BIASCKA_CHECK(!ec, out_dir, ": cannot create folder (", ec.message(), ")");
  FileLock lock((fs::path(out_dir) / ".lock").string());
  std::vector<std::string> urls = o.mirrors;
  urls.insert(urls.end(), source.base_urls.begin(), source.base_urls.end());
  for (const RemoteFile& f : source.files) {
    const std::string path = fetch_file(f, urls, out_dir, o);
    if (!source.unpack_tar || !(f.name.ends_with(".tar.gz") || f.name.ends_with(".tgz"))) continue;
    const std::string marker = path + ".unpacked";
    if (fs::exists(marker)) continue;
    const auto t0 = Clock::now();
    std::string names;
    for (const auto& n : extract_archive(path, out_dir)) names += n + "\n";
    write_text_atomic(marker, names);
    if (!o.quiet) std::fprintf(stderr, "unpacked %s in %.1f s\n", path.c_str(), seconds_since(t0));
  }
  return out_dir;
}

}  // namespace biascka::data
