// The system call tables: `sys_call_table` (x86_64), and where the kernel
// has them `ia32_sys_call_table` (32-bit compatibility) and
// `x32_sys_call_table`. Kernels since 6.9 (and stable kernels that took the
// same fix, 6.1.87+ among them) dispatch through a switch and keep only
// sys_call_table; older ones have all three.
//
// A table's length is never assumed. It comes from the profile: the
// symbol's array type when it has a count; else, for sys_call_table, an
// array the kernel sizes with NR_syscalls (trace_array.enter_syscall_files,
// CONFIG_FTRACE_SYSCALLS); else the distance to the next symbol, an upper
// bound whose trailing NULL padding is dropped (with a warning saying the
// length was estimated).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/linux/kernel_view.h"
#include "core/linux/warnings.h"

namespace memscope::linux_kernel {

// No Linux ABI has come near this many system calls (x86_64 has about 460,
// x32's numbers end below 550): a longer table is a profile that lies.
inline constexpr uint64_t kMaxSyscalls = 4096;

struct SyscallTable {
  std::string name;     // the symbol: "sys_call_table", ...
  uint64_t address = 0; // run-time
  uint64_t count = 0;   // entries
  // Where the length came from, for messages and docs: "the symbol's type",
  // "trace_array.enter_syscall_files (NR_syscalls)", "the next symbol, X".
  std::string length_from;
  bool estimated = false;  // an upper bound from the next symbol
};

// The tables this kernel has, with their lengths. A table whose length the
// profile cannot give is left out with a warning; no sys_call_table at all
// is a ProfileError.
std::vector<SyscallTable> syscall_tables(const KernelView& kernel, Warnings& warnings);

// The handlers of `table`, one per entry; an entry that cannot be read is
// empty, and one warning names the first address of each unreadable stretch.
// For an estimated length, trailing NULL entries (padding after the table)
// are dropped.
std::vector<std::optional<uint64_t>> read_syscall_table(const KernelView& kernel, const SyscallTable& table,
                                                        Warnings& warnings);

// `count` pointers at `address` in the kernel's space, page by page: an
// unreadable page costs its entries only, with one warning naming `what`
// and the address.
std::vector<std::optional<uint64_t>> read_pointer_array(AddressSpace& space, uint64_t address, uint64_t count,
                                                        const std::string& what, Warnings& warnings);

}  // namespace memscope::linux_kernel
