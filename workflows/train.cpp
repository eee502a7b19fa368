#include "workflows/train.h"

#include <filesystem>
#include <new>
#include <string>
#include <utility>

#include "engine/device.h"
#include "engine/error.h"
#include "workflows/option_limits.h"
#include "workflows/run_dir.h"

namespace biascka::workflows {

namespace fs = std::filesystem;

TrainResult train(const TrainOptions& o, bool resume) {
  BIASCKA_CHECK(!o.out.empty(), "train: --out RUN is required");
  if (resume)
    BIASCKA_CHECK(fs::is_directory(o.out), o.out, ": nothing to resume (no such folder)");
  else
    o.validate();  // before the folder is made
  const RunLock lock(o.out, resume ? "train --resume" : "train");
  TrainOutcome outcome = train_run(o, resume, lock);
  if (outcome.status == RunStatus::Diverged) throw Error(outcome.message);
  return {status_name(outcome.status), std::move(outcome.summary)};
}

TrainOutcome train_run(const TrainOptions& given, bool resume, const RunLock& lock) {
  BIASCKA_CHECK(lock.folder() == given.out, "train: holding the lock of ", lock.folder(), ", not of ",
                given.out);
  const RunDir dir(given.out);
  dir.remove_stale_temporaries(given.progress);
  if (resume)
    if (auto summary = dir.finished_summary()) return {RunStatus::Finished, std::move(*summary), ""};
  TrainOptions o = given;
  if (resume) {
    o = dir.resumed_options(given);
  } else {
    o.validate();
    dir.check_empty_for_new_run();
  }
  const Device dev = Device::parse(o.device);
  require_device(dev);
  set_math_mode(dev, o.no_tf32 ? MathMode::Exact : MathMode::Tf32);
  try {
    Trainer trainer(o, resume);
    return trainer.run();
  } catch (const std::bad_alloc&) {
    fail(dir.folder(), ": out of memory with --batch ", o.batch,
         o.image_size ? " and --image-size " + std::to_string(o.image_size) : std::string(),
         "; lower --batch", o.image_size ? " or --image-size" : "");
  }
}

}  // namespace biascka::workflows
