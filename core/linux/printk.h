// The kernel log as the kernel keeps it, read without trusting it.
//
// The profile says which buffer this kernel has:
//   the lockless ring buffer `prb` (5.10+): a descriptor ring (state and
//     data positions of each record), an info array (sequence, timestamp,
//     level, facility, caller) and a text data ring whose blocks start with
//     the record's id and may wrap to the ring's start;
//   `log_buf` (3.5 - 5.9): variable-length records (struct printk_log, or
//     struct log before 3.11) from log_first_idx to log_next_idx, a record
//     of length 0 marking the wrap; the line still being continued then sits
//     in the static `cont` buffer, which is read too when the profile has it.
//
// Every record the ring still holds is read, the newest included: a record
// the kernel committed but has not finalized (a line still open for
// continuation) is read like the others and marked. Indexes read from the
// image are checked against the ring's size: a head or tail that lies gives
// a warning naming the address, and the records are then read from what
// the descriptors prove themselves (each that holds an id of its own slot,
// with a data block marked with that id), never more than the ring holds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/linux/kernel_view.h"
#include "core/linux/warnings.h"

namespace memscope::linux_kernel {

struct LogRecord {
  uint64_t sequence = 0;
  uint64_t timestamp_ns = 0;  // local_clock() at the time of the printk
  unsigned level = 0;         // 0 (emerg) .. 7 (debug)
  unsigned facility = 0;      // 0: kernel; others from /dev/kmsg writers
  // CONFIG_PRINTK_CALLER's id: a thread id, or 0x80000000 | CPU number
  // outside task context; absent when the kernel does not record it.
  std::optional<uint32_t> caller_id;
  uint8_t flags = 0;      // LOG_NEWLINE (2), LOG_CONT (8)
  bool finalized = true;  // false: committed, still open for continuation
  std::string text;       // may hold several lines ('\n')
};

// "T123" (thread 123) or "C1" (CPU 1), as dmesg prints the caller.
std::string printk_caller_text(uint32_t caller_id);

// LOG_CONT: a fragment continuing the previous record's line.
inline constexpr uint8_t kLogCont = 8;

class KernelLog {
 public:
  // Chooses the buffer; throws ProfileError naming what the profile lacks
  // (neither prb nor log_buf, or their types).
  explicit KernelLog(const KernelView& kernel);

  // "prb" or "log_buf".
  const std::string& source() const { return source_; }

  // The records the buffer holds, oldest first. Bounded by the buffer's
  // size; problems go to `warnings`, naming the address.
  std::vector<LogRecord> records(Warnings& warnings) const;

 private:
  std::vector<LogRecord> ring_records(Warnings& warnings) const;
  std::vector<LogRecord> log_buf_records(Warnings& warnings) const;

  const KernelView& kernel_;
  std::string source_;
};

}  // namespace memscope::linux_kernel
