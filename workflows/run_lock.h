#pragma once
// One output folder, one writer. A RunLock holds an exclusive flock(2) on FOLDER/.lock for as long as it
// lives, and writes the holder's PID and purpose into that file so that a second writer's error can name it.
//
// Stale locks: the kernel drops a flock when the last descriptor of its open file goes away, which happens
// however the holder ends (exit, exception, Ctrl-C, kill -9, a crash). A lock file left by a dead process is
// therefore just a file: the next RunLock takes it at once. The file is never removed (an unlink could
// race with a process that has just opened it and would then lock a file nobody else sees).
// The descriptor is close-on-exec, so the worker processes `reproduce --gpus` starts do not inherit it.
//
// Who locks what: `train` (new and --resume) its --out for the whole run; `reproduce` its --out (a
// `--shard I/N` its own shard lock) and each run folder while it trains and computes that run's CKA;
// `cka` its --out. Table writers (reproduce, collect) serialise on FOLDER/.lock-tables, waiting for it.
#include <cstdint>
#include <string>

namespace biascka::workflows {

class RunLock {
 public:
  enum class Wait { No, Yes };
  // Creates `folder` when missing. Wait::No: throws "FOLDER: in use by another biascka process (PID n,
  // PURPOSE) ..." when another process holds it; Wait::Yes: waits for it. `name` is the lock file's name.
  explicit RunLock(const std::string& folder, const std::string& purpose, Wait wait = Wait::No,
                   const std::string& name = ".lock");
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  const std::string& folder() const { return folder_; }

 private:
  std::string folder_;
  int fd_ = -1;
};

// Removes the temporary files an atomic write left behind when its process was killed (write_file_atomic
// names them `NAME.tmp-PID`; a killed checkpoint write leaves ~130 MB). Only files whose PID is no running
// process are removed: the folder's lock proves that no biascka writer of this folder is alive, and the
// PID test keeps a concurrent unlocked writer (`eval --out RUN/eval.json`) safe. `recursive` also visits
// subfolders. Returns the number of files removed.
int64_t remove_stale_temporaries(const std::string& folder, bool recursive);

}  // namespace biascka::workflows
