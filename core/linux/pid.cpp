#include "core/linux/pid.h"

#include <algorithm>

#include "core/linux/idr.h"
#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {
namespace {

// pidhash_shift is at most 12 in every kernel that had the pid hash
// (kernel/pid.c: min(12, ...)); a larger one read from the image is forged.
constexpr uint64_t kMaxPidHashShift = 16;

}  // namespace

PidTable::PidTable(const KernelView& kernel) : kernel_(kernel) {
  const Profile& profile = kernel.profile();
  const TypeInfo& task = profile.require_type("task_struct");
  if (const MemberInfo* links = profile.find_member(task, "pid_links")) {
    task_link_ = "pid_links";
    task_link_offset_ = links->offset;
    task_link_stride_ = profile.size_of("hlist_node");
  } else if (const MemberInfo* pids = profile.find_member(task, "pids")) {
    task_link_ = "pids";
    task_link_offset_ = pids->offset;
    task_link_stride_ = profile.size_of("pid_link");
    node_in_link_ = profile.offset_of("pid_link", "node");
  } else {
    profile.fail("task_struct has neither pid_links (4.19+) nor pids: cannot find a struct pid's tasks");
  }
  const TypeInfo& pid = profile.require_type("pid");
  pid_tasks_offset_ = profile.require_member(pid, "tasks").offset;
  hlist_head_size_ = profile.size_of("hlist_head");
  numbers_offset_ = profile.require_member(pid, "numbers").offset;
  upid_nr_offset_ = profile.offset_of("upid", "nr");
  upid_size_ = profile.size_of("upid");
  profile.require_symbol("init_pid_ns");
  if (profile.has_member("pid_namespace", "idr")) {
    kind_ = Kind::kIdr;
    source_ = "init_pid_ns.idr";
  } else if (profile.find_symbol("pid_hash") && profile.find_symbol("pidhash_shift") &&
             profile.has_member("upid", "pid_chain")) {
    kind_ = Kind::kPidHash;
    source_ = "pid_hash";
  } else {
    profile.fail("neither pid_namespace.idr (4.15+) nor the pid hash (pid_hash, pidhash_shift, upid.pid_chain)");
  }
}

uint64_t PidTable::pid_type_index(const std::string& name) const {
  auto value = kernel_.profile().enum_constant("pid_type", name);
  if (!value && name == "PIDTYPE_PID") return 0;  // the first enumerator in every kernel
  if (!value || *value < 0) kernel_.profile().fail("no pid_type enumerator " + name);
  return static_cast<uint64_t>(*value);
}

std::vector<uint64_t> PidTable::tasks_of(uint64_t pid, const std::string& pid_type, Warnings& warnings) const {
  const uint64_t type = pid_type_index(pid_type);
  const Object head = kernel_.object("hlist_head", pid + pid_tasks_offset_ + type * hlist_head_size_);
  const TypeRef task = kernel_.profile().require_type("task_struct").id;
  HlistOptions options;
  options.chain_limit = 4u << 20;
  std::vector<uint64_t> out;
  for (const Object& t : hlist_chain(head, task, task_link_offset_ + type * task_link_stride_ + node_in_link_,
                                     "tasks of struct pid " + hex(pid), warnings, options))
    out.push_back(t.address());
  return out;
}

std::optional<int64_t> PidTable::number(uint64_t pid, Warnings& warnings) const {
  int32_t nr = 0;
  IoResult r = kernel_.kernel().read(pid + numbers_offset_ + upid_nr_offset_, &nr, sizeof nr);
  if (!r.ok()) {
    warnings.add("struct pid: unreadable number",
                 "struct pid " + hex(pid) + ": cannot read its number: " + r.fault->message());
    return std::nullopt;
  }
  return nr;
}

std::vector<PidTableEntry> PidTable::entries(Warnings& warnings, size_t limit) const {
  const Profile& profile = kernel_.profile();
  std::vector<PidTableEntry> out;
  if (kind_ == Kind::kIdr) {
    IdrWalker idr(profile);
    Object ns = kernel_.symbol("init_pid_ns", "pid_namespace");
    XArrayOptions options;
    options.limit = limit;
    for (const IdrEntry& e : idr.entries(ns["idr"], "PID table (init_pid_ns.idr)", warnings, options)) {
      PidTableEntry entry{static_cast<int64_t>(e.id), e.pointer, 0};
      if (auto nr = number(e.pointer, warnings); nr && *nr != entry.nr)
        warnings.add("PID table: struct pid " + hex(e.pointer) + " is filed under " + std::to_string(entry.nr) +
                     " but its number is " + std::to_string(*nr));
      out.push_back(entry);
    }
  } else {
    uint32_t shift = 0;
    IoResult r = kernel_.kernel().read(kernel_.symbol_address("pidhash_shift"), &shift, sizeof shift);
    uint64_t table = 0;
    IoResult t = r.ok() ? kernel_.kernel().read(kernel_.symbol_address("pid_hash"), &table, 8) : IoResult{};
    if (!r.ok() || !t.ok()) {
      warnings.add("PID table (pid_hash): cannot read " + std::string(!r.ok() ? "pidhash_shift" : "pid_hash") + ": " +
                   (!r.ok() ? r.fault->message() : t.fault->message()));
      return out;
    }
    if (shift > kMaxPidHashShift) {
      warnings.add("PID table (pid_hash): pidhash_shift is " + std::to_string(shift) + ", more than any kernel uses");
      return out;
    }
    const uint64_t ns = kernel_.symbol_address("init_pid_ns");
    const uint64_t ns_offset = profile.offset_of("upid", "ns");
    HlistOptions options;
    options.table_limit = limit;
    for (const Object& upid : hlist_table_entries(profile, kernel_.kernel(), table, uint64_t{1} << shift, "upid",
                                                  "pid_chain", "PID table (pid_hash)", warnings, options)) {
      uint64_t upid_ns = 0;
      int32_t nr = 0;
      if (!kernel_.kernel().read(upid.address() + ns_offset, &upid_ns, 8).ok() ||
          !kernel_.kernel().read(upid.address() + upid_nr_offset_, &nr, sizeof nr).ok()) {
        warnings.add("PID table: unreadable upid",
                     "PID table (pid_hash): cannot read the upid at " + hex(upid.address()));
        continue;
      }
      if (upid_ns != ns) continue;  // a number in another namespace (numbers[level > 0])
      out.push_back({nr, upid.address() - numbers_offset_, 0});
    }
    std::sort(out.begin(), out.end(), [](const PidTableEntry& a, const PidTableEntry& b) { return a.nr < b.nr; });
  }
  for (PidTableEntry& entry : out) {
    std::vector<uint64_t> tasks = tasks_of(entry.pid, "PIDTYPE_PID", warnings);
    if (!tasks.empty()) entry.task = tasks.front();
    if (tasks.size() > 1)
      warnings.add("PID table: struct pid " + hex(entry.pid) + " (" + std::to_string(entry.nr) + ") has " +
                   std::to_string(tasks.size()) + " tasks as its PID; the first is used");
  }
  return out;
}

}  // namespace memscope::linux_kernel
