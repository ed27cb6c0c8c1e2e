#include "core/linux/syscalls.h"

#include <algorithm>
#include <cstring>

#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {
namespace {

constexpr const char* kTables[] = {"sys_call_table", "ia32_sys_call_table", "x32_sys_call_table"};
constexpr uint64_t kPage = 4096;

// The element count of the symbol's own array type, if it has one.
std::optional<uint64_t> declared_count(const Profile& profile, const SymbolInfo& symbol) {
  if (!symbol.type.valid()) return std::nullopt;
  const TypeInfo& type = profile.type(symbol.type);
  if (!type.is_array() || type.count == 0) return std::nullopt;
  return type.count;
}

// NR_syscalls as the kernel itself sizes arrays with it: struct
// trace_array's per-syscall event files (kernel/trace/trace.h).
std::optional<std::pair<uint64_t, std::string>> nr_syscalls(const Profile& profile) {
  const TypeInfo* trace_array = profile.find_type("trace_array");
  if (!trace_array) return std::nullopt;
  for (const char* member : {"enter_syscall_files", "exit_syscall_files"}) {
    const MemberInfo* m = profile.find_member(*trace_array, member);
    if (!m) continue;
    const TypeInfo& type = profile.type(m->type);
    if (type.is_array() && type.count) return std::pair{type.count, "trace_array." + std::string(member) + " (NR_syscalls)"};
  }
  return std::nullopt;
}

// The lowest symbol above `address`, by link-time address.
const SymbolInfo* next_symbol(const Profile& profile, uint64_t address) {
  const SymbolInfo* best = nullptr;
  for (const SymbolInfo& s : profile.symbols())
    if (s.address > address && (!best || s.address < best->address)) best = &s;
  return best;
}

}  // namespace

std::vector<SyscallTable> syscall_tables(const KernelView& kernel, Warnings& warnings) {
  const Profile& profile = kernel.profile();
  const uint64_t pointer = profile.pointer_size();
  std::vector<SyscallTable> out;
  for (const char* name : kTables) {
    const SymbolInfo* symbol = profile.find_symbol(name);
    if (!symbol) {
      if (out.empty()) profile.fail("no symbol sys_call_table: cannot check the system call table");
      continue;
    }
    SyscallTable table;
    table.name = name;
    table.address = symbol->address + kernel.virtual_shift();
    if (auto count = declared_count(profile, *symbol)) {
      table.count = *count;
      table.length_from = "the symbol's type";
    } else if (auto nr = std::string_view(name) == "sys_call_table" ? nr_syscalls(profile) : std::nullopt) {
      table.count = nr->first;
      table.length_from = nr->second;
    } else if (const SymbolInfo* next = next_symbol(profile, symbol->address)) {
      table.count = (next->address - symbol->address) / pointer;
      table.length_from = "the next symbol, " + std::string(profile.name(*next));
      table.estimated = true;
      warnings.add(std::string(name) + ": the profile gives no length; " + std::to_string(table.count) +
                   " entries estimated up to " + table.length_from);
    } else {
      warnings.add(std::string(name) + ": the profile gives no length and no symbol follows it; not checked");
      continue;
    }
    if (table.count > kMaxSyscalls) {
      warnings.add(std::string(name) + ": " + std::to_string(table.count) + " entries (from " + table.length_from +
                   ") is not plausible; checking the first " + std::to_string(kMaxSyscalls));
      table.count = kMaxSyscalls;
    }
    out.push_back(std::move(table));
  }
  return out;
}

std::vector<std::optional<uint64_t>> read_pointer_array(AddressSpace& space, uint64_t address, uint64_t count,
                                                        const std::string& what, Warnings& warnings) {
  constexpr uint64_t kPointer = 8;
  std::vector<std::optional<uint64_t>> out(count);
  std::vector<uint8_t> bytes(count * kPointer);
  uint64_t done = 0;
  uint64_t run_start = 0;  // first byte of the stretch read without a fault
  uint64_t next = 0;       // first entry not yet filled
  bool in_hole = false;
  while (done < bytes.size()) {
    const uint64_t at = address + done;
    const uint64_t chunk = std::min<uint64_t>(bytes.size() - done, kPage - at % kPage);
    IoResult r = space.read(at, bytes.data() + done, chunk);
    // Every pointer whose 8 bytes were all read in this stretch.
    const uint64_t good_end = done + r.done;
    for (next = std::max(next, (run_start + kPointer - 1) / kPointer); (next + 1) * kPointer <= good_end; ++next) {
      uint64_t value;
      std::memcpy(&value, bytes.data() + next * kPointer, kPointer);
      out[next] = value;
    }
    if (r.fault) {
      if (!in_hole) warnings.add(what + ": " + r.fault->message());
      in_hole = true;
      run_start = done + chunk;
    } else {
      in_hole = false;
    }
    done += chunk;
  }
  return out;
}

std::vector<std::optional<uint64_t>> read_syscall_table(const KernelView& kernel, const SyscallTable& table,
                                                        Warnings& warnings) {
  auto entries = read_pointer_array(kernel.kernel(), table.address, table.count,
                                    table.name + " at " + hex_address(table.address), warnings);
  if (table.estimated)
    while (!entries.empty() && entries.back() == std::optional<uint64_t>(0)) entries.pop_back();
  return entries;
}

}  // namespace memscope::linux_kernel
