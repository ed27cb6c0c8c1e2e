// Registered ftrace callbacks (kernel/trace/ftrace.c): `ftrace_ops_list`
// points to the first struct ftrace_ops, each `next` to the following one,
// and the list ends at the sentinel `ftrace_list_end` (never NULL in a
// sane kernel). Each ops has the callback `func` the traced functions call
// on entry, and a filter hash of the functions it is attached to (empty:
// every traceable function). A rootkit that hooks functions through ftrace
// (the common way on current kernels) registers one.
//
// The filter is `func_hash->filter_hash` (4.x+) or `filter_hash` (older),
// a struct ftrace_hash: 2^size_bits hlist buckets of struct
// ftrace_func_entry { ip }. Everything is bounded: the list (kMaxFtraceOps,
// cycles), the hash (size_bits, entries), each with a warning naming the
// address.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/linux/kernel_view.h"
#include "core/linux/warnings.h"

namespace memscope::linux_kernel {

inline constexpr size_t kMaxFtraceOps = 4096;
// FTRACE_HASH_MAX_BITS is 12; a hash claiming more buckets is forged.
inline constexpr uint64_t kMaxFtraceHashBits = 16;
// Entries read from one filter hash at most (a hash may list every
// traceable function, some 50,000 on a distribution kernel).
inline constexpr size_t kMaxFtraceFilter = 1u << 17;

struct FtraceOps {
  uint64_t address = 0;  // the struct ftrace_ops
  std::optional<uint64_t> func;
  std::optional<uint64_t> flags;
  std::optional<uint64_t> trampoline;  // 0: none
  // The addresses (ip) of the functions it is attached to; empty with
  // filter_read: every traceable function.
  std::vector<uint64_t> filter;
  bool filter_read = false;
};

// The ops on ftrace_ops_list, in list order, up to ftrace_list_end. Throws
// ProfileError without the symbols or struct ftrace_ops (a kernel built
// without CONFIG_FUNCTION_TRACER).
std::vector<FtraceOps> ftrace_ops_list(const KernelView& kernel, Warnings& warnings);

}  // namespace memscope::linux_kernel
