// Stopping a long job cleanly: a token that anyone (a signal handler
// included) may set, and that the job checks between pieces of work, so it
// returns what it has, marked incomplete, instead of dying mid-way.
#pragma once

#include <atomic>

namespace memscope {

class CancelToken {
 public:
  // Async-signal-safe: one store to a lock-free atomic.
  void request() noexcept { requested_.store(true, std::memory_order_relaxed); }
  bool requested() const noexcept { return requested_.load(std::memory_order_relaxed); }
  void reset() noexcept { requested_.store(false, std::memory_order_relaxed); }

 private:
  static_assert(std::atomic<bool>::is_always_lock_free);
  std::atomic<bool> requested_{false};
};

// The process's interrupt (Ctrl-C): what scans check unless given another
// token (ScanOptions::cancel).
CancelToken& interrupt_token();

// For programs (the memscope command): the first SIGINT requests
// interrupt_token(), so scans stop and their partial results are printed,
// marked "incomplete: interrupted"; a second SIGINT kills the process as
// usual, so a job that checks nothing can still be stopped. A library
// never calls this on its own.
void install_interrupt_handler();

}  // namespace memscope
