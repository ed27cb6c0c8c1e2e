#include "core/linux/tasks.h"

#include <algorithm>

#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/util/limits.h"
#include "core/linux/list.h"

namespace memscope::linux_kernel {
namespace {

std::optional<FieldRef> optional_field(const Profile& profile, const TypeInfo& type, std::string_view name) {
  if (!profile.find_member(type, name)) return std::nullopt;
  return profile.field(type, name);
}

// A cred id: kuid_t / kgid_t wrap the number in `val` (3.5+).
FieldRef id_field(const Profile& profile, const TypeInfo& cred, const std::string& name) {
  FieldRef field = profile.field(cred, name);
  const TypeInfo& type = profile.type(field.type);
  if (type.is_record()) return profile.field(cred, name + ".val");
  return field;
}

// CLOCK_BOOTTIME now, as of the kernel's last timekeeping update:
// tk_core.timekeeper.tkr_mono.base + offs_boot (kernel/time/timekeeping.c).
// tk_core is an anonymous struct { seqcount seq; struct timekeeper
// timekeeper; }: the member's offset comes from the symbol's type when the
// profile has it, else from the seqcount's size. nullopt when the profile
// lacks any of it, or the value read is not a plausible uptime.
std::optional<uint64_t> read_boot_time_now(const KernelView& kernel) {
  const Profile& profile = kernel.profile();
  try {
    const SymbolInfo* tk_core = profile.find_symbol("tk_core");
    const TypeInfo* timekeeper = profile.find_type("timekeeper");
    if (!tk_core || !timekeeper || !profile.find_member(*timekeeper, "offs_boot")) return std::nullopt;
    uint64_t offset = 0;
    if (tk_core->type.valid() && profile.type(tk_core->type).is_record() &&
        profile.find_member(profile.type(tk_core->type), "timekeeper")) {
      offset = profile.find_member(profile.type(tk_core->type), "timekeeper")->offset;
    } else {
      const TypeInfo* seq = profile.find_type("seqcount_raw_spinlock_t");
      if (!seq) seq = profile.find_type("seqcount_t");
      if (!seq) return std::nullopt;
      offset = (seq->size + 7) & ~uint64_t{7};
    }
    Object tk = kernel.object("timekeeper", kernel.symbol_address("tk_core") + offset);
    const uint64_t base = tk["tkr_mono"]["base"].as_u64();
    const uint64_t offs_boot = tk["offs_boot"].as_u64();
    const uint64_t now = base + offs_boot;
    // A century of uptime, or a sum that wrapped: not a clock.
    constexpr uint64_t kCentury = uint64_t{100} * 365 * 24 * 3600 * 1'000'000'000;
    if (now < base || now > kCentury) return std::nullopt;
    return now;
  } catch (const Error&) {
    return std::nullopt;
  }
}

// A comm as a name can be: no control bytes, UTF-8 (a multi-byte character
// the kernel cut at 15 bytes may end it unfinished).
bool printable_comm(const std::string& comm) {
  size_t i = 0;
  while (i < comm.size()) {
    const auto c = static_cast<unsigned char>(comm[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    const size_t extra = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 0;
    if (extra == 0 || c < 0xc2 || c > 0xf4) return false;
    for (size_t k = 1; k <= extra && i + k < comm.size(); ++k)
      if ((static_cast<unsigned char>(comm[i + k]) & 0xc0) != 0x80) return false;
    i += extra + 1;
  }
  return true;
}

// The bytes of a string as C writes them: printable ASCII as is, the rest
// as \xNN (for warnings about binary names).
std::string escaped(const std::string& text) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += ch;
    } else {
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

// The slack allowed past the kernel's last timekeeping update: a task
// created since (within a tick, longer on an idle tickless CPU).
constexpr uint64_t kStartTimeSlackNs = uint64_t{60} * 1'000'000'000;

}  // namespace

std::string task_state_letter(uint64_t state, uint64_t exit_state) {
  // TASK_REPORT bits, lowest first (include/linux/sched.h): running is 0.
  static const char kLetters[] = {'S', 'D', 'T', 't', 'X', 'Z', 'P'};
  // TASK_IDLE = TASK_UNINTERRUPTIBLE | TASK_NOLOAD (0x400): reported as "I".
  if (exit_state == 0 && state == 0x402) return "I";
  uint64_t bits = (state & 0x7f) | (exit_state & 0x30);
  if (bits == 0) return "R";
  int highest = 63 - __builtin_clzll(bits);
  return std::string(1, kLetters[highest]);
}

std::string Task::label() const {
  std::string out = "task " + hex_address(address);
  if (pid || comm) {
    out += " (";
    if (pid) out += "pid " + std::to_string(*pid);
    if (tid && pid && *tid != *pid) out += " tid " + std::to_string(*tid);
    if (comm) out += (pid ? " " : "") + *comm;
    out += ")";
  }
  return out;
}

TaskReader::TaskReader(const KernelView& kernel) : kernel_(kernel), profile_(kernel.profile()) {
  const TypeInfo& task = profile_.require_type("task_struct");
  task_type_ = task.id;
  pid_ = profile_.field(task, "pid");
  tgid_ = profile_.field(task, "tgid");
  comm_ = profile_.field(task, "comm");
  flags_ = profile_.field(task, "flags");
  real_parent_ = profile_.field(task, "real_parent");
  mm_ = profile_.field(task, "mm");
  cred_ = profile_.field(task, "cred");
  state_ = optional_field(profile_, task, "__state");
  if (!state_) state_ = optional_field(profile_, task, "state");
  exit_state_ = optional_field(profile_, task, "exit_state");
  for (const char* name : {"start_boottime", "real_start_time", "start_time"})
    if ((start_time_ = optional_field(profile_, task, name))) break;
  if (start_time_) start_time_is_timespec_ = profile_.type(start_time_->type).is_record();

  const TypeInfo* signal_struct = profile_.find_type("signal_struct");
  signal_ = optional_field(profile_, task, "signal");
  if (profile_.find_member(task, "thread_node") && signal_ && signal_struct &&
      profile_.find_member(*signal_struct, "thread_head"))
    thread_list_ = ThreadList::kSignalThreadHead;
  else if (profile_.find_member(task, "thread_group"))
    thread_list_ = ThreadList::kThreadGroup;

  const TypeInfo& cred = profile_.require_type("cred");
  uid_ = id_field(profile_, cred, "uid");
  gid_ = id_field(profile_, cred, "gid");
  euid_ = id_field(profile_, cred, "euid");
  egid_ = id_field(profile_, cred, "egid");
  boot_now_ = read_boot_time_now(kernel_);
}

void TaskReader::judge(Task& task) const {
  auto id = [&](const char* name, const std::optional<int64_t>& value) {
    if (value && (*value < 0 || *value > kPidMaxLimit))
      task.implausible.push_back(std::string(name) + " " + std::to_string(*value) + " is outside 0.." +
                                 std::to_string(kPidMaxLimit) + " (PID_MAX_LIMIT)");
  };
  id("pid", task.pid);
  id("tid", task.tid);
  if (task.comm) {
    const TypeInfo& comm_type = profile_.type(comm_.type);
    if (comm_type.kind == TypeKind::kArray && comm_type.count && task.comm->size() >= comm_type.count)
      task.implausible.push_back("comm has no NUL within its " + std::to_string(comm_type.count) + " bytes");
    else if (!printable_comm(*task.comm))
      task.implausible.push_back("comm \"" + escaped(*task.comm) + "\" holds non-printable bytes");
  }
  if (task.start_time && boot_now_ && *task.start_time > *boot_now_ + kStartTimeSlackNs)
    task.implausible.push_back("start time " + std::to_string(*task.start_time) +
                               " ns is after the boot clock's present (" + std::to_string(*boot_now_) + " ns)");
  task.valid = task.implausible.empty();
}

std::vector<uint64_t> TaskReader::processes(Warnings& warnings) const {
  Object init_task = kernel_.symbol("init_task", "task_struct");
  std::vector<uint64_t> out;
  for (const Object& t : list_entries_recovering(init_task["tasks"], "task_struct", "tasks", "task list", warnings))
    out.push_back(t.address());
  return out;
}

std::vector<uint64_t> TaskReader::threads(uint64_t leader, Warnings& warnings) const {
  std::vector<uint64_t> out{leader};
  const std::string what = "threads of task " + hex_address(leader);
  try {
    std::vector<Object> entries;
    if (thread_list_ == ThreadList::kSignalThreadHead) {
      uint64_t signal = task(leader)[*signal_].pointer();
      if (signal == 0) return out;  // released (a zombie being reaped): the leader alone
      Object head = kernel_.object("signal_struct", signal)["thread_head"];
      entries = list_entries_recovering(head, "task_struct", "thread_node", what, warnings);
    } else if (thread_list_ == ThreadList::kThreadGroup) {
      entries = list_entries_recovering(task(leader)["thread_group"], "task_struct", "thread_group", what, warnings);
    }
    for (const Object& t : entries)
      if (t.address() != leader) out.push_back(t.address());
  } catch (const Error& e) {
    warnings.add(what + ": " + e.what());
  }
  return out;
}

Task TaskReader::read(uint64_t address, Warnings& warnings) const {
  Task out;
  out.address = address;
  Object t = task(address);
  ItemFailures failed;
  failed.attempt("pid", [&] { out.tid = t[pid_].as_i64(); });
  failed.attempt("tgid", [&] { out.pid = t[tgid_].as_i64(); });
  failed.attempt("comm", [&] { out.comm = t[comm_].as_string(); });
  failed.attempt("flags", [&] { out.kernel_thread = (t[flags_].as_u64() & kPfKthread) != 0; });
  failed.attempt("real_parent", [&] {
    out.real_parent = t[real_parent_].pointer();
    if (out.real_parent) out.ppid = task(out.real_parent)[tgid_].as_i64();
  });
  failed.attempt("cred", [&] {
    uint64_t cred = t[cred_].pointer();
    if (cred == 0) {
      // A dead task's credentials are put when its task_struct is
      // released (exit_creds): no creds, not a damaged task.
      if (exit_state_ && t[*exit_state_].as_u64() != 0) return;
      throw Error("NULL");
    }
    Object c = kernel_.object("cred", cred);
    out.creds = Credentials{static_cast<uint32_t>(c[uid_].as_u64()), static_cast<uint32_t>(c[gid_].as_u64()),
                            static_cast<uint32_t>(c[euid_].as_u64()), static_cast<uint32_t>(c[egid_].as_u64())};
  });
  if (start_time_) {
    failed.attempt("start time", [&] {
      Object value = t[*start_time_];
      if (start_time_is_timespec_)
        out.start_time = value["tv_sec"].as_u64() * 1'000'000'000ull + value["tv_nsec"].as_u64();
      else
        out.start_time = value.as_u64();
    });
  }
  if (state_) {
    failed.attempt("state", [&] {
      uint64_t exit_state = exit_state_ ? t[*exit_state_].as_u64() : 0;
      out.state = task_state_letter(t[*state_].as_u64(), exit_state);
    });
  }
  failed.attempt("mm", [&] { out.mm = t[mm_].pointer(); });
  failed.report(warnings, "task", out.label());
  judge(out);
  if (!out.valid) {
    std::string why;
    for (const std::string& reason : out.implausible) why += (why.empty() ? "" : "; ") + reason;
    warnings.add("task: implausible fields", out.label() + ": not a plausible task (memory read as one: a smeared "
                                             "list or a wild pointer?): " + why + "; shown with valid=false");
  }
  return out;
}

std::optional<ProcessMemory> TaskReader::memory(const Task& task, Warnings& warnings) const {
  if (task.mm == 0) return std::nullopt;
  try {
    Object mm = kernel_.object("mm_struct", task.mm);
    ProcessMemory out;
    uint64_t pgd = mm["pgd"].pointer();
    Fault fault;
    auto translated = kernel_.kernel().translate(pgd, &fault);
    if (!translated) {
      warnings.add("task: mm->pgd does not translate",
                   task.label() + ": mm->pgd " + hex_address(pgd) + " does not translate: " + fault.message());
      return std::nullopt;
    }
    out.pgd_physical = translated->physical;
    out.arg_start = mm["arg_start"].as_u64();
    out.arg_end = mm["arg_end"].as_u64();
    out.env_start = mm["env_start"].as_u64();
    out.env_end = mm["env_end"].as_u64();
    std::string name = "process " + (task.pid ? std::to_string(*task.pid) : hex_address(task.address));
    out.space = kernel_.process_space(out.pgd_physical, name);
    return out;
  } catch (const Error& e) {
    warnings.add("task: cannot read its mm_struct",
                 task.label() + ": cannot read its mm_struct at " + hex_address(task.mm) + ": " + e.what());
    return std::nullopt;
  }
}

std::vector<std::string> TaskReader::read_strings(AddressSpace& space, uint64_t start, uint64_t end,
                                                  const std::string& what, Warnings& warnings) {
  std::vector<std::string> out;
  if (end < start) {
    warnings.add(what + ": end " + hex_address(end) + " is below start " + hex_address(start));
    return out;
  }
  uint64_t length = end - start;
  if (length > kMaxStringBlockBytes) {
    warnings.add(what + ": " + std::to_string(length) + " bytes at " + hex_address(start) +
                       " exceed the " + std::to_string(kMaxStringBlockBytes >> 20) +
                       " MiB the kernel allows; reading the first " + std::to_string(kMaxStringBlockBytes >> 20) +
                       " MiB");
    length = kMaxStringBlockBytes;
  }
  if (length > active_limits().max_object) {
    warnings.add(what + ": " + std::to_string(length) + " bytes at " + hex_address(start) + " are more than " +
                 limit_hint("max_object", active_limits().max_object, kMaxObjectOption) + "; reading the first " +
                 std::to_string(active_limits().max_object));
    length = active_limits().max_object;
  }
  std::string block(length, '\0');
  // Page by page, so that a page missing from the image (swapped out, not
  // captured) keeps what came before it.
  uint64_t done = 0;
  while (done < length) {
    uint64_t at = start + done;
    uint64_t chunk = std::min<uint64_t>(length - done, X86_64Paging::kPageSize - at % X86_64Paging::kPageSize);
    IoResult r = space.read(at, block.data() + done, chunk);
    done += r.done;
    if (!r.ok()) {
      warnings.add(what + ": " + r.fault->message() + "; kept the " + std::to_string(done) +
                         " bytes before it");
      break;
    }
  }
  block.resize(done);
  size_t from = 0;
  while (from < block.size()) {
    size_t nul = block.find('\0', from);
    if (nul == std::string::npos) nul = block.size();
    out.emplace_back(block, from, nul - from);
    from = nul + 1;
  }
  return out;
}

}  // namespace memscope::linux_kernel
