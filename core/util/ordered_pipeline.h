// Runs work(i, slot) for i in [0, count) on `threads` worker threads and
// emit(i, slot) on the calling thread in increasing order of i, with at most
// `window` items between the oldest not yet emitted and the newest started:
// parallel work, ordered output, memory bounded by the window's slots.
// Used by the seekable LZ4 writer (compress in parallel, write in order) and
// its verifier (decompress in parallel, hash in order).
//
// The first exception thrown by work or emit stops every thread and is
// rethrown to the caller.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace memscope {

template <typename Slot, typename Work, typename Emit>
void run_ordered(uint64_t count, unsigned threads, std::vector<Slot>& slots, Work work, Emit emit) {
  if (count == 0) return;
  const uint64_t window = slots.size();
  if (threads == 0) threads = 1;
  std::mutex mutex;
  std::condition_variable changed;
  uint64_t next = 0;     // next index to hand to a worker
  uint64_t emitted = 0;  // indices below this are emitted and their slots free
  std::vector<char> ready(window, 0);
  std::exception_ptr error;
  bool stop = false;

  auto fail = [&](std::exception_ptr e) {
    std::lock_guard lock(mutex);
    if (!error) error = e;
    stop = true;
    changed.notify_all();
  };

  auto worker = [&] {
    for (;;) {
      uint64_t index;
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return stop || next >= count || next < emitted + window; });
        if (stop || next >= count) return;
        index = next++;
      }
      try {
        work(index, slots[index % window]);
      } catch (...) {
        fail(std::current_exception());
        return;
      }
      std::lock_guard lock(mutex);
      ready[index % window] = 1;
      changed.notify_all();
    }
  };

  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker);

  for (uint64_t index = 0; index < count; ++index) {
    {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return stop || ready[index % window]; });
      if (stop) break;
    }
    try {
      emit(index, slots[index % window]);
    } catch (...) {
      fail(std::current_exception());
      break;
    }
    std::lock_guard lock(mutex);
    ready[index % window] = 0;
    ++emitted;
    changed.notify_all();
  }
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace memscope
