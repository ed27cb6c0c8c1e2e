#include "core/linux/percpu.h"

#include <algorithm>

#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {
namespace {

// CONFIG_NR_CPUS is at most 8192 (arch/x86/Kconfig): a longer possible
// mask or offset array read from an untyped symbol would be forged.
constexpr uint64_t kMaxCpus = 8192;

}  // namespace

PerCpu::PerCpu(const KernelView& kernel, Warnings& warnings) : kernel_(kernel) {
  const Profile& profile = kernel.profile();
  AddressSpace& space = kernel.kernel();
  const SymbolInfo* start = profile.find_symbol("__per_cpu_start");
  const SymbolInfo* end = profile.find_symbol("__per_cpu_end");
  if (start && end && end->address > start->address) {
    section_start_ = start->address;
    section_end_ = end->address;
  }
  zero_based_ = start && start->address == 0;

  const SymbolInfo* offsets = profile.find_symbol("__per_cpu_offset");
  if (!offsets) {
    // A uniprocessor build: one copy of each variable, where its symbol is.
    cpus_ = {0};
    offsets_ = {0};
    source_ = "uniprocessor (no __per_cpu_offset)";
    return;
  }
  uint64_t slots = kMaxCpus;
  if (offsets->type.valid()) {
    const TypeInfo& type = profile.type(offsets->type);
    if (type.is_array() && type.count > 0) slots = std::min<uint64_t>(type.count, kMaxCpus);
  }

  // Which CPUs exist: the possible mask, else nr_cpu_ids.
  std::vector<unsigned> possible;
  auto read_mask = [&](std::string_view symbol, uint64_t bytes) {
    std::vector<uint64_t> words((bytes + 7) / 8);
    IoResult r = space.read(kernel.symbol_address(symbol), words.data(), words.size() * 8);
    if (!r.ok()) {
      warnings.add("per-CPU: cannot read " + std::string(symbol) + ": " + r.fault->message());
      return false;
    }
    for (uint64_t cpu = 0; cpu < std::min<uint64_t>(words.size() * 64, slots); ++cpu)
      if (words[cpu / 64] >> (cpu % 64) & 1) possible.push_back(static_cast<unsigned>(cpu));
    source_ = std::string(symbol);
    return true;
  };
  const uint64_t mask_bytes = (slots + 7) / 8;
  bool have_mask = false;
  for (const char* symbol : {"__cpu_possible_mask", "cpu_possible_bits"})
    if (!have_mask && profile.find_symbol(symbol)) have_mask = read_mask(symbol, mask_bytes);
  std::optional<uint64_t> nr_cpu_ids;
  if (profile.find_symbol("nr_cpu_ids")) {
    uint32_t value = 0;
    IoResult r = space.read(kernel.symbol_address("nr_cpu_ids"), &value, sizeof value);
    if (r.ok() && value > 0 && value <= slots)
      nr_cpu_ids = value;
    else
      warnings.add("per-CPU: nr_cpu_ids at " + hex(kernel.symbol_address("nr_cpu_ids")) +
                   (r.ok() ? " is " + std::to_string(value) + ", not a CPU count" : ": " + r.fault->message()));
  }
  if (have_mask && nr_cpu_ids) std::erase_if(possible, [&](unsigned cpu) { return cpu >= *nr_cpu_ids; });
  if (!have_mask || possible.empty()) {
    possible.clear();
    const uint64_t count = nr_cpu_ids.value_or(1);
    for (uint64_t cpu = 0; cpu < count; ++cpu) possible.push_back(static_cast<unsigned>(cpu));
    source_ = nr_cpu_ids ? "nr_cpu_ids" : "CPU 0 only (no possible mask or nr_cpu_ids)";
    if (!nr_cpu_ids) warnings.add("per-CPU: no possible-CPU mask or nr_cpu_ids readable: only CPU 0 is looked at");
  }

  const uint64_t table = kernel.symbol_address("__per_cpu_offset");
  offsets_.assign(possible.back() + 1, 0);
  for (unsigned cpu : possible) {
    uint64_t offset = 0;
    IoResult r = space.read(table + uint64_t{cpu} * 8, &offset, 8);
    if (!r.ok()) {
      warnings.add("per-CPU: cannot read __per_cpu_offset[" + std::to_string(cpu) + "]: " + r.fault->message());
      continue;
    }
    offsets_[cpu] = offset;
    // this_cpu_off (x86) holds each CPU's own offset: a copy that does not
    // is not that CPU's area. Without it, the area's start must be readable.
    uint64_t check = 0;
    std::string check_what;
    bool plausible = true;
    if (profile.find_symbol("this_cpu_off")) {
      check = address("this_cpu_off", cpu);
      check_what = "this_cpu_off";
      uint64_t value = 0;
      IoResult c = space.read(check, &value, 8);
      plausible = c.ok() && value == offset;
    } else if (section_end_) {
      check = address("__per_cpu_start", cpu);
      check_what = "the start of its area";
      plausible = space.is_readable(check, 8);
    }
    if (!plausible) {
      warnings.add("per-CPU: CPU " + std::to_string(cpu) + "'s offset " + hex(offset) +
                   " is not usable: " + check_what + " at " + hex(check) + " does not hold it; CPU left out");
      continue;
    }
    cpus_.push_back(cpu);
  }
}

uint64_t PerCpu::offset(unsigned cpu) const {
  if (cpu >= offsets_.size()) throw Error("per-CPU: no CPU " + std::to_string(cpu));
  return offsets_[cpu];
}

uint64_t PerCpu::address(std::string_view symbol, unsigned cpu) const {
  const uint64_t link = kernel_.profile().require_symbol(symbol);
  // A zero-based per-CPU section does not move with KASLR. Without the
  // section's bounds, an address in the lower half cannot be a kernel
  // image address, so it is a per-CPU offset too.
  const bool in_section = section_end_ ? (link >= section_start_ && link < section_end_) : link < (uint64_t{1} << 63);
  const uint64_t base = in_section && (zero_based_ || !section_end_) ? link : link + kernel_.virtual_shift();
  return base + offset(cpu);
}

Object PerCpu::object(std::string_view symbol, std::string_view type_name, unsigned cpu) const {
  return kernel_.object(type_name, address(symbol, cpu));
}

}  // namespace memscope::linux_kernel
