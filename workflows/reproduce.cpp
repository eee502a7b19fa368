#include "workflows/reproduce.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <type_traits>
#include <utility>

#include "data/default_dataset.h"
#include "data/disent.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/safetensors.h"
#include "losses/objectives.h"
#include "workflows/cka_runs.h"
#include "workflows/claims_table.h"
#include "workflows/figures.h"
#include "workflows/interrupt.h"
#include "workflows/prepare_data.h"
#include "workflows/report.h"
#include "workflows/reproduce_compare.h"
#include "workflows/results.h"
#include "workflows/run_dir.h"
#include "workflows/run_lock.h"
#include "workflows/train.h"

extern char** environ;

namespace biascka::workflows {

namespace fs = std::filesystem;

namespace {

std::string pct_folder(double pct) {
  std::ostringstream s;
  s << pct << "pct";  // 0.5pct, 1pct, 2pct, 5pct as the DisEnt release names them
  return s.str();
}

// DATA_ROOT/{dataset}/{pct}pct; B-FFHQ ships only 0.5pct.
std::string find_data_dir(const std::string& root, const std::string& dataset, double pct,
                          std::string* note) {
  const fs::path base = fs::path(root) / dataset;
  const fs::path want = base / pct_folder(pct);
  if (fs::is_directory(want)) return want.string();
  if (dataset == "bffhq" && fs::is_directory(base / "0.5pct")) {
    *note = "bffhq: only 0.5pct exists (DisEnt's release); used it for --pct " + pct_folder(pct);
    return (base / "0.5pct").string();
  }
  *note = dataset + ": " + want.string() + " not found; skipped";
  return "";
}

bool finished(const std::string& run_dir) { return RunDir(run_dir).has_ended(); }

// Trains (or resumes) one run, holding the run folder's lock throughout. False when interrupted. (Its CKA
// comes afterwards, in one pass with the other runs of its dataset: reproduce_compare.h.)
bool run_one(const GridRun& r, const ReproduceOptions& o) {
  const RunLock lock(r.run_dir, "reproduce");
  if (finished(r.run_dir)) return true;
  note(o.progress,
       "== " + r.dataset + " / " + r.loss + " / seed " + std::to_string(r.seed) + " -> " + r.run_dir);
  const bool resume = fs::exists(fs::path(r.run_dir) / "settings.json");
  const TrainOutcome outcome = train_run(o.train_options(r), resume, lock);
  if (outcome.status == RunStatus::Interrupted) return false;
  // A diverged run has written its summary: a result too, recorded; the grid goes on.
  if (outcome.status == RunStatus::Diverged) warn(outcome.message);
  return !interrupt_requested();  // a signal after the last step: the run is finished, the grid stops
}

std::string self_exe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  BIASCKA_CHECK(n > 0, "cannot find the biascka executable (/proc/self/exe)");
  buf[n] = '\0';
  return buf;
}

// The worker command for one grid index on one GPU: this program, the same grid, --only.
std::vector<std::string> worker_args(const ReproduceOptions& o, int index, int gpu) {
  std::vector<std::string> a = {o.worker_exe.empty() ? self_exe() : o.worker_exe,
                                "reproduce",
                                "--data-root",
                                o.data_root,
                                "--out",
                                o.out};
  const std::vector<std::string> grid = grid_flags(o);
  a.insert(a.end(), grid.begin(), grid.end());
  a.insert(a.end(), {"--device", gpu >= 0 ? "cuda:" + std::to_string(gpu) : "cpu", "--only",
                     std::to_string(index), "--workers", std::to_string(o.workers), "--quiet"});
  return a;
}

// --gpus: one worker process per GPU at a time, each logging to its run folder's worker.log. The workers
// run in their own process group, so a Ctrl-C at the terminal reaches this process alone, which passes it
// on to each worker once: they save and exit 130, and so does this process when all have.
int run_on_gpus(const std::vector<GridRun>& todo, const ReproduceOptions& o) {
  DeferInterrupts defer;
  std::vector<int> free_gpus(o.gpus.rbegin(), o.gpus.rend());
  std::map<pid_t, std::pair<int, const GridRun*>> running;
  size_t next = 0;
  int failures = 0;
  bool forwarded = false;
  while (next < todo.size() || !running.empty()) {
    while (!interrupt_requested() && next < todo.size() && !free_gpus.empty()) {
      const GridRun& r = todo[next++];
      const int gpu = free_gpus.back();
      free_gpus.pop_back();
      fs::create_directories(r.run_dir);
      const std::string log = r.run_dir + "/worker.log";
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
      std::vector<std::string> args = worker_args(o, r.index, gpu);
      std::vector<char*> argv;
      for (auto& s : args) argv.push_back(s.data());
      argv.push_back(nullptr);
      posix_spawnattr_t attr;
      posix_spawnattr_init(&attr);
      posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
      posix_spawnattr_setpgroup(&attr, 0);
      pid_t pid = 0;
      const int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), environ);
      posix_spawn_file_actions_destroy(&fa);
      posix_spawnattr_destroy(&attr);
      BIASCKA_CHECK(rc == 0, "cannot start a worker for ", r.run_dir, " (", std::strerror(rc), ")");
      note(o.progress, (gpu >= 0 ? "cuda:" + std::to_string(gpu) : std::string("cpu")) + " <- " + r.dataset +
                           "/" + r.loss + "/seed" + std::to_string(r.seed) + " (log " + log + ")");
      running[pid] = {gpu, &r};
    }
    if (running.empty()) break;
    if (interrupt_requested() && !forwarded) {
      for (const auto& [child, run] : running) kill(child, SIGINT);
      forwarded = true;
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid == 0) {  // none finished: look again shortly (and at a Ctrl-C)
      usleep(50 * 1000);
      continue;
    }
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const auto [gpu, run] = it->second;
    running.erase(it);
    free_gpus.push_back(gpu);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0 && code != 130 && code != 143) {  // 130, 143: interrupted (SIGINT, SIGTERM)
      ++failures;
      note(ProgressMode::Auto, "warning: " + run->run_dir + " failed (exit " + std::to_string(code) +
                                   "); see " + run->run_dir + "/worker.log");
    }
  }
  if (interrupt_requested()) return interrupt_exit_code();
  BIASCKA_CHECK(failures == 0, failures,
                " run(s) failed; their worker.log files say why (run the command again to retry)");
  return 0;
}

}  // namespace

void ReproduceOptions::apply_quick() {
  datasets = {"cmnist"};
  seeds = 1;
  if (device.empty()) device = "cpu";
  epochs = 4;
  patience = 12;
  batch = 128;
  max_train = 6000;
  max_eval = 2000;
  cka_batch = 250;
  cka_samples = 1000;
}

std::vector<std::string> grid_flags(const ReproduceOptions& o) {
  std::ostringstream pct;
  pct << o.pct;
  std::string datasets;
  for (const auto& d : o.datasets) datasets += (datasets.empty() ? "" : ",") + d;
  std::vector<std::string> f = {"--datasets", datasets, "--pct",   pct.str(),
                                "--losses",   o.losses, "--seeds", std::to_string(o.seeds)};
  // The protocol's flags, named as `train` names them (--max-train, a flag for a true bool).
  for_each_protocol_field(
      [&](const TrainField& field, const auto& value) {
        if constexpr (std::is_same_v<std::decay_t<decltype(value)>, bool>) {
          if (value) f.push_back(option_name(field.key));
        } else {
          f.insert(f.end(), {option_name(field.key), std::to_string(value)});
        }
      },
      static_cast<const TrainProtocol&>(o));
  f.insert(f.end(), {"--cka-batch", std::to_string(o.cka_batch), "--cka-samples",
                     std::to_string(o.cka_samples), "--cka-layers", o.cka_layers});
  return f;
}

std::vector<GridRun> plan_grid(const ReproduceOptions& o, std::vector<std::string>* missing) {
  BIASCKA_CHECK(o.seeds >= 1, "--seeds must be at least 1");
  BIASCKA_CHECK(o.shard_count >= 1 && o.shard_index >= 0 && o.shard_index < o.shard_count, "--shard ",
                o.shard_index, "/", o.shard_count, " is not I/N with 0 <= I < N");
  const auto objectives = losses::parse_objectives(o.losses);
  std::vector<GridRun> grid;
  int index = 0;
  for (const auto& dataset : o.datasets) {
    std::string note_text;
    const std::string dir = find_data_dir(o.data_root, dataset, o.pct, &note_text);
    if (!note_text.empty() && missing) missing->push_back(note_text);
    for (const auto* obj : objectives)
      for (int seed = 0; seed < o.seeds; ++seed, ++index) {
        if (dir.empty()) continue;
        if (index % o.shard_count != o.shard_index) continue;
        grid.push_back(
            {dataset, obj->name, dir,
             (fs::path(o.out) / "runs" / dataset / obj->name / ("seed" + std::to_string(seed))).string(),
             seed, index});
      }
  }
  return grid;
}

TrainOptions ReproduceOptions::train_options(const GridRun& r) const {
  TrainOptions t;
  static_cast<TrainProtocol&>(t) = *this;  // the grid's protocol, field for field
  t.data = r.data_dir;
  t.out = r.run_dir;
  t.loss = r.loss;
  t.seed = static_cast<uint64_t>(r.seed);
  t.device = device;
  t.workers = workers;
  t.progress = progress;
  t.interrupt_after_steps = interrupt_after_steps;
  return t;
}

int reproduce(const ReproduceOptions& o) {
  BIASCKA_CHECK(!o.out.empty(), "reproduce needs --out DIR");
  std::vector<std::string> missing;
  const std::vector<GridRun> grid = plan_grid(o, &missing);
  // The training options of every run, checked before any work (the same rules as `train`'s).
  if (!grid.empty()) o.train_options(grid.front()).validate();
  const int interrupted = interrupt_requested() ? interrupt_exit_code() : 130;
  if (o.only >= 0) {  // a --gpus worker: one run (under its own lock), no tables
    for (const auto& r : grid)
      if (r.index == o.only) return run_one(r, o) ? 0 : interrupted;
    fail("--only ", o.only, ": no such run in this grid");
  }
  for (const auto& m : missing) note(ProgressMode::Auto, "note: " + m);
  BIASCKA_CHECK(!grid.empty(), "reproduce: no dataset found under ", o.data_root, " (expected ",
                o.data_root + "/cmnist/" + pct_folder(o.pct), " and the like)");
  std::vector<std::string> data_dirs;
  for (const auto& r : grid) data_dirs.push_back(r.data_dir);
  check_training_data(data_dirs, o.progress);  // a broken data root is refused with data check's report
  // One reproduce per output folder (or per shard of it: shards write disjoint runs).
  const RunLock lock(o.out, "reproduce", RunLock::Wait::No,
                     o.shard_count == 1 ? ".lock"
                                        : ".lock-shard-" + std::to_string(o.shard_index) + "-of-" +
                                              std::to_string(o.shard_count));
  remove_stale_temporaries(o.out, false);
  std::vector<GridRun> todo;
  for (const auto& r : grid)
    if (!finished(r.run_dir)) todo.push_back(r);
  note(o.progress, "reproduce: " + std::to_string(grid.size()) + " runs in this shard, " +
                       std::to_string(grid.size() - todo.size()) + " already done");
  int rc = 0;
  if (!o.gpus.empty()) {
    rc = run_on_gpus(todo, o);
  } else {
    for (const auto& r : todo)
      if (!run_one(r, o)) {
        rc = interrupt_requested() ? interrupt_exit_code() : 130;
        break;
      }
  }
  if (rc != 0) {
    note(ProgressMode::Auto, "reproduce interrupted; run the same command again to continue");
    return rc;
  }
  // The CKA of each dataset's runs in one pass, on the first of --gpus when there are workers.
  compare_datasets(
      grid, o, !o.gpus.empty() && o.gpus.front() >= 0 ? "cuda:" + std::to_string(o.gpus.front()) : o.device);
  collect({o.out}, o.out, o.command_line);
  return 0;
}

void collect(const std::vector<std::string>& dirs, const std::string& out, const std::string& command_line) {
  std::vector<RunRecord> runs = collect_runs(dirs);
  BIASCKA_CHECK(!runs.empty(), "no finished run under ", dirs.front(), "/runs");
  add_claims(runs);
  // Shards of one output folder finishing together write the tables one after the other.
  const RunLock tables_lock(out, "tables", RunLock::Wait::Yes, ".lock-tables");
  remove_stale_temporaries(out, false);
  std::vector<ResultTable> tables;
  for (const char* metric : {"headline", "accuracy", "aligned_accuracy", "conflicting_accuracy",
                             "unbiased_accuracy", "worst_group_accuracy"})
    tables.push_back(make_table(runs, metric));
  for (ResultTable& t : claim_tables(runs)) tables.push_back(std::move(t));
  const std::vector<ClaimCorrelation> correlations = claim_correlations(runs);
  nlohmann::json json = table_json(tables);
  json["claims_correlation"] = claims_correlation_json(correlations);
  write_text_atomic(out + "/table.json", json.dump(2) + "\n");
  write_text_atomic(out + "/table.csv", table_csv(tables));
  std::string md = "# Table 3: test accuracy (%) per objective and dataset\n\n" +
                   table_markdown(table_of(tables, "headline"), true);
  for (const auto& [metric, title] : accuracy_table_titles())
    md += "\n## " + title + "\n\n" + table_markdown(table_of(tables, metric), false);
  md += "\n## Numbers for the paper's claims about the CKA matrices\n\n" +
        claims_markdown(runs, tables, correlations);
  write_text_atomic(out + "/table.md", md);
  const std::vector<SeedMatrices> cells = seed_matrices(runs);
  ReportFigures figures;
  figures.figure1 = write_figure1(runs, cells, out + "/figure1.png");
  figures.seed_std_max = write_seed_std(runs, cells, out + "/cka_seed_std.png");
  figures.curves = write_curves(runs, out + "/curves.png");
  figures.probes = write_probe_panels(runs, out + "/probes.png");
  write_report(out + "/report.md", runs, tables, correlations, cells, dirs, command_line, figures);
}

}  // namespace biascka::workflows
