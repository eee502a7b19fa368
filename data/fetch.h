#pragma once
// Downloading a dataset's files (libcurl) and checking them against the manifest (data/manifest.h).
//
// Each file goes to OUT/NAME.part first. An interrupted download (a dropped connection, a stall, Ctrl-C)
// leaves only that temporary file, and the next attempt or run asks for the rest with an HTTP Range
// request (a server that ignores ranges sends the whole file again). When all bytes are there the file's
// size and every checksum the manifest records are verified, and only then is it renamed to OUT/NAME:
// nothing partial or unverified ever carries a final name. A wrong checksum deletes the file and the
// error names the file, the checksum expected and the one that came.
//
// URLs are tried in order: the --mirror base URLs first, then the manifest's. On one URL, transient
// failures (no connection, a stall, a dropped transfer, HTTP 408/429/5xx) are retried with exponential
// backoff, `retries` times in a row at most (an attempt that brought new bytes starts the count again);
// permanent ones (HTTP 4xx, an unknown host, a refused certificate) move on to the next URL at once. When
// every URL failed, the error is one line naming each URL and curl's reason. Connecting is bounded by
// connect_timeout_s and a transfer that brings no byte for stall_timeout_s is abandoned, so nothing hangs.
#include <cstdint>
#include <string>
#include <vector>

#include "data/manifest.h"

namespace biascka::data {

struct FetchOptions {
  std::vector<std::string> mirrors;  // base URLs tried before the manifest's
  double connect_timeout_s = 20;
  double stall_timeout_s = 30;  // abandon a transfer (or a silent server) after this long without a byte
  int retries = 3;              // per URL, after the first attempt
  double backoff_s = 1;         // wait before the first retry; doubles up to backoff_max_s
  double backoff_max_s = 16;
  bool quiet = false;  // no progress bar, no per-file lines (errors still throw)
};

// Whether this build has libcurl (without it fetch_file throws saying so).
bool fetch_supported();

// Verifies `path` against the manifest entry: size, then SHA-256 and MD5 where recorded. Throws
// "PATH: wrong SHA-256 (expected X, got Y)" (or size/MD5) without deleting anything.
void verify_file(const std::string& path, const RemoteFile& file);

// Downloads one file into out_dir (created if missing) and returns its path. An existing OUT/NAME is
// verified and kept (a wrong one is an error that says to delete it).
std::string fetch_file(const RemoteFile& file, const std::vector<std::string>& base_urls,
                       const std::string& out_dir, const FetchOptions& o);

// Every file of the dataset into out_dir, then (unpack_tar) each .tar.gz extracted into out_dir once:
// out_dir/NAME.unpacked records it. Holds out_dir/.lock meanwhile, so concurrent callers (shards of a
// cluster job) wait for each other instead of downloading twice. Returns out_dir.
std::string fetch_dataset(const DatasetSource& source, const std::string& out_dir, const FetchOptions& o);

}  // namespace biascka::data
