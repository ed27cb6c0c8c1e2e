#include "core/util/progress.h"

#include <unistd.h>

#include <cstdio>

namespace memscope {
namespace {

std::atomic<bool> g_quiet{false};
constexpr int64_t kRedrawNs = 200'000'000;  // 5 frames a second is plenty

std::string clock_text(double seconds) {
  if (seconds < 0 || seconds > 359999) return "--:--";
  auto s = static_cast<unsigned>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%u:%02u", s / 60, s % 60);
  return buf;
}

}  // namespace

void Progress::set_quiet(bool quiet) { g_quiet = quiet; }
bool Progress::quiet() { return g_quiet; }

std::string Progress::human_bytes(double bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 5) {
    bytes /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, units[unit]);
  return buf;
}

Progress::Progress(std::string label, uint64_t total)
    : label_(std::move(label)),
      total_(total),
      visible_(!g_quiet && ::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
  if (drawn_ && !finished_) std::fputc('\n', stderr);
}

void Progress::advance(uint64_t bytes) {
  done_.fetch_add(bytes, std::memory_order_relaxed);
  if (visible_) maybe_draw(false);
}

void Progress::set_done(uint64_t bytes) {
  done_.store(bytes, std::memory_order_relaxed);
  if (visible_) maybe_draw(false);
}

void Progress::set_label(std::string label) {
  std::lock_guard lock(draw_mutex_);
  label_ = std::move(label);
}

void Progress::finish() {
  if (!visible_ || finished_) return;
  maybe_draw(true);
  std::lock_guard lock(draw_mutex_);
  std::fputc('\n', stderr);
  std::fflush(stderr);
  finished_ = true;
}

void Progress::maybe_draw(bool force) {
  auto now = std::chrono::steady_clock::now();
  int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - start_).count();
  int64_t last = last_draw_ns_.load(std::memory_order_relaxed);
  if (!force && ns - last < kRedrawNs) return;
  std::unique_lock lock(draw_mutex_, std::try_to_lock);
  if (!lock.owns_lock() && !force) return;  // another thread is drawing
  if (!lock.owns_lock()) lock.lock();
  if (finished_) return;
  last_draw_ns_.store(ns, std::memory_order_relaxed);
  std::string line = render(done_.load(std::memory_order_relaxed), double(ns) / 1e9);
  std::fprintf(stderr, "\r%s\x1b[K", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

std::string Progress::render(uint64_t done, double seconds) const {
  double rate = seconds > 0 ? double(done) / seconds : 0;
  std::string line = label_ + " ";
  if (total_ > 0) {
    double fraction = done >= total_ ? 1.0 : double(done) / double(total_);
    constexpr int kWidth = 24;
    int filled = static_cast<int>(fraction * kWidth);
    char pct[16];
    std::snprintf(pct, sizeof pct, "%3d%% ", static_cast<int>(fraction * 100));
    line += pct;
    // Appended piece by piece: GCC 12 at -O3 warns falsely (-Wrestrict) on
    // "[" + std::string(...) here.
    line += '[';
    line.append(static_cast<size_t>(filled), '#');
    line.append(static_cast<size_t>(kWidth - filled), ' ');
    line += "] ";
    line += human_bytes(double(done)) + " / " + human_bytes(double(total_));
    line += "  " + human_bytes(rate) + "/s";
    double eta = rate > 0 ? double(total_ - std::min(done, total_)) / rate : -1;
    line += "  ETA " + clock_text(eta);
  } else {
    line += human_bytes(double(done)) + "  " + human_bytes(rate) + "/s  " + clock_text(seconds);
  }
  return line;
}

}  // namespace memscope
