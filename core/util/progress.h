// A progress bar with rate and ETA for long jobs (convert, indexing a plain
// .lz4 image), drawn on stderr only when stderr is a terminal and progress
// output is not silenced (`memscope -q` calls set_quiet(true)). Otherwise it
// prints nothing at all, so logs and pipes stay clean.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace memscope {

class Progress {
 public:
  // `total` is in bytes (0 when unknown: no percentage, no ETA).
  Progress(std::string label, uint64_t total);
  ~Progress();  // finishes the line if the bar was drawn
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Thread-safe: adds `bytes` done; redraws at most a few times a second.
  void advance(uint64_t bytes);
  void set_done(uint64_t bytes);
  void set_label(std::string label);
  // Draws the final state and ends the line.
  void finish();

  uint64_t done() const { return done_.load(std::memory_order_relaxed); }
  bool visible() const { return visible_; }

  // Silences every progress bar of the process (the CLI's -q).
  static void set_quiet(bool quiet);
  static bool quiet();

  // "1.5 GiB", "512 MiB/s": for messages beside the bar.
  static std::string human_bytes(double bytes);

 private:
  void maybe_draw(bool force);
  std::string render(uint64_t done, double seconds) const;

  std::string label_;
  uint64_t total_;
  bool visible_;
  std::atomic<uint64_t> done_{0};
  std::chrono::steady_clock::time_point start_;
  std::atomic<int64_t> last_draw_ns_{0};
  std::mutex draw_mutex_;
  bool finished_ = false;
  bool drawn_ = false;
};

}  // namespace memscope
