#include "core/linux/task_carver.h"

#include <algorithm>

#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/util/limits.h"
#include "core/util/unaligned.h"

namespace memscope::linux_kernel {
namespace {

constexpr uint64_t kAlignment = 16;
// PID_MAX_LIMIT (include/linux/threads.h): 4M on 64-bit.
constexpr int64_t kPidMax = 4 * 1024 * 1024;
// LIST_POISON2 (include/linux/poison.h), with and without x86_64's
// POISON_POINTER_DELTA: what list_del leaves in prev.
constexpr uint64_t kListPoison2 = 0x122, kPoisonDelta = 0xdead000000000000ull;
// The highest task state bit (TASK_STATE_MAX, 0x2000 in 6.x) and the
// exit states (EXIT_DEAD 0x10, EXIT_ZOMBIE 0x20, EXIT_TRACE both).
constexpr uint64_t kStateLimit = 0x10000;

bool is_poison2(uint64_t value) { return value == kListPoison2 || value == (kPoisonDelta | kListPoison2); }

}  // namespace

TaskCarver::Field TaskCarver::field(const char* name) const {
  const Profile& profile = kernel_.profile();
  FieldRef f = profile.field("task_struct", name);
  return Field{f.offset, profile.type(f.type).size};
}

TaskCarver::TaskCarver(const KernelView& kernel) : kernel_(kernel) {
  const Profile& profile = kernel.profile();
  const TypeInfo& task = profile.require_type("task_struct");
  pid_ = field("pid");
  tgid_ = field("tgid");
  comm_ = field("comm");
  tasks_ = field("tasks");
  real_parent_ = field("real_parent");
  parent_ = field("parent");
  group_leader_ = field("group_leader");
  cred_ = field("cred");
  real_cred_ = field("real_cred");
  mm_ = field("mm");
  if (profile.find_member(task, "__state"))
    state_ = field("__state");
  else if (profile.find_member(task, "state"))
    state_ = field("state");
  if (profile.find_member(task, "exit_state")) exit_state_ = field("exit_state");
  if (profile.find_member(task, "active_mm")) active_mm_ = field("active_mm");
  tasks_next_ = profile.offset_of("list_head", "next");
  tasks_prev_ = profile.offset_of("list_head", "prev");
  mm_pgd_ = profile.offset_of("mm_struct", "pgd");
  kernel_half_ = kernel.kernel().levels() == 5 ? 0xff00000000000000ull : 0xffff800000000000ull;
  if (pid_.size != 4 || tgid_.size != 4 || comm_.size == 0 || comm_.size > 64)
    profile.fail("task_struct.pid, tgid or comm has an unexpected size");
  for (const Field& f : {pid_, tgid_, comm_, tasks_, real_parent_, parent_, group_leader_, cred_, real_cred_, mm_})
    needed_ = std::max<size_t>(needed_, f.offset + f.size);
  for (const auto& f : {state_, exit_state_, active_mm_})
    if (f) needed_ = std::max<size_t>(needed_, f->offset + f->size);
}

// TASK_DEAD (0x80) in the state, or an exit state (EXIT_ZOMBIE, EXIT_DEAD).
bool TaskCarver::dead_bytes(const uint8_t* data) const {
  if (exit_state_ && load_little_endian(data + exit_state_->offset, exit_state_->size) != 0) return true;
  return state_ && (load_little_endian(data + state_->offset, state_->size) & 0x80) != 0;
}

bool TaskCarver::plausible_bytes(const uint8_t* data) const {
  // Most selective first, on whole words: memory is mostly zeros, code and
  // text, where a kernel pointer at the group leader's and the parent's
  // places is rare (one 64-bit compare each). The comm comes after.
  const uint64_t low = kernel_half_;
  auto kernel_pointer = [low](uint64_t p) { return p >= low && (p & 7) == 0; };
  if (!kernel_pointer(load_unaligned<uint64_t>(data + group_leader_.offset)) ||
      !kernel_pointer(load_unaligned<uint64_t>(data + real_parent_.offset)) ||
      !kernel_pointer(load_unaligned<uint64_t>(data + parent_.offset)))
    return false;
  const uint64_t next = load_unaligned<uint64_t>(data + tasks_.offset + tasks_next_);
  const uint64_t prev = load_unaligned<uint64_t>(data + tasks_.offset + tasks_prev_);
  if (!kernel_pointer(next) || !(kernel_pointer(prev) || is_poison2(prev))) return false;
  // A comm of printable characters, NUL-padded (set_task_comm: strscpy_pad).
  const uint8_t* comm = data + comm_.offset;
  if (comm[0] < 0x20 || comm[0] > 0x7e) return false;
  size_t length = 1;
  while (length < comm_.size && comm[length] != 0) {
    if (comm[length] < 0x20 || comm[length] > 0x7e) return false;
    ++length;
  }
  if (length == comm_.size) return false;  // no NUL
  for (size_t i = length; i < comm_.size; ++i)
    if (comm[i] != 0) return false;
  const int32_t pid = load_unaligned<int32_t>(data + pid_.offset), tgid = load_unaligned<int32_t>(data + tgid_.offset);
  if (pid < 0 || pid > kPidMax || tgid < 0 || tgid > kPidMax || (pid == 0) != (tgid == 0)) return false;
  // A dead task's credentials are put (exit_creds leaves NULL behind).
  const bool dead = dead_bytes(data);
  for (const Field& f : {cred_, real_cred_}) {
    const uint64_t cred = load_unaligned<uint64_t>(data + f.offset);
    if (!kernel_pointer(cred) && !(dead && cred == 0)) return false;
  }
  const uint64_t mm = load_unaligned<uint64_t>(data + mm_.offset);
  if (mm != 0 && !kernel_pointer(mm)) return false;
  if (active_mm_) {
    const uint64_t active = load_unaligned<uint64_t>(data + active_mm_->offset);
    if (active != 0 && !kernel_pointer(active)) return false;
  }
  if (state_ && load_little_endian(data + state_->offset, state_->size) >= kStateLimit) return false;
  if (exit_state_ && (load_little_endian(data + exit_state_->offset, exit_state_->size) & ~uint64_t{0x30})) return false;
  return true;
}

bool TaskCarver::validate(uint64_t address, std::string* why, bool* dead) const {
  auto fail = [&](const std::string& reason) {
    if (why) *why = reason;
    return false;
  };
  X86_64Paging& space = kernel_.kernel();
  std::vector<uint8_t> bytes(needed_);
  if (!space.read(address, bytes.data(), bytes.size()).ok()) return fail("unreadable");
  const uint8_t* data = bytes.data();
  if (!plausible_bytes(data)) return fail("fields out of range");
  auto pointer = [&](uint64_t at, uint64_t& value) { return space.read(at, &value, 8).ok(); };

  // The task list links: self-consistent, self-linked (unlinked by hand) or
  // left by list_del_rcu (next kept, prev poisoned).
  const uint64_t self = address + tasks_.offset;
  const uint64_t next = load_unaligned<uint64_t>(data + tasks_.offset + tasks_next_);
  const uint64_t prev = load_unaligned<uint64_t>(data + tasks_.offset + tasks_prev_);
  if (!(next == self && prev == self) && !is_poison2(prev)) {
    uint64_t back = 0, forward = 0;
    const bool next_ok = pointer(next + tasks_prev_, back) && back == self;
    const bool prev_ok = pointer(prev + tasks_next_, forward) && forward == self;
    if (!next_ok && !prev_ok) return fail("tasks links do not point back");
  }
  // Parents and the group leader are tasks; the leader leads this group.
  const int32_t tgid = load_unaligned<int32_t>(data + tgid_.offset);
  for (const Field* f : {&real_parent_, &group_leader_}) {
    const uint64_t other = load_unaligned<uint64_t>(data + f->offset);
    if (other == address) continue;
    int32_t other_pid = -1, other_tgid = -1;
    uint8_t comm[64] = {};
    if (!space.read(other + pid_.offset, &other_pid, 4).ok() ||
        !space.read(other + tgid_.offset, &other_tgid, 4).ok() ||
        !space.read(other + comm_.offset, comm, comm_.size).ok())
      return fail("its parent or group leader is unreadable");
    if (other_pid < 0 || other_pid > kPidMax || comm[comm_.size - 1] != 0)
      return fail("its parent or group leader is not a task");
    if (f == &group_leader_ && other_tgid != tgid) return fail("its group leader leads another group");
  }
  // Credentials (a dead task may have put them) and memory translate.
  const uint64_t cred = load_unaligned<uint64_t>(data + cred_.offset);
  if (cred && !space.translate(cred)) return fail("its cred does not translate");
  const uint64_t mm = load_unaligned<uint64_t>(data + mm_.offset);
  if (mm) {
    uint64_t pgd = 0;
    if (!pointer(mm + mm_pgd_, pgd) || !space.translate(pgd)) return fail("its mm's pgd does not translate");
  }
  if (dead) *dead = dead_bytes(data);
  return true;
}

CarveResult TaskCarver::carve(AddressSpace& physical, uint64_t direct_map, Warnings& warnings,
                              const CarveOptions& options) const {
  CarveResult out;
  ScanOptions scan;
  scan.threads = options.threads;
  scan.begin = options.begin;
  scan.end = options.end;
  scan.lookahead = needed_ - 1;
  scan.max_hits_per_chunk = options.max_candidates_per_chunk;
  scan.progress = options.progress;
  scan.cancel = options.cancel;
  const size_t needed = needed_;
  const uint64_t leader = group_leader_.offset, low = kernel_half_;
  out.stats = scan_chunks(
      physical,
      [this, needed, leader, low](const ScanChunk& chunk, CandidateSink& sink) {
        // Start at the first aligned address of the chunk. The group
        // leader's pointer is tested inline (it rejects nearly every
        // position), the rest only where it passes.
        size_t at = static_cast<size_t>((kAlignment - chunk.address % kAlignment) % kAlignment);
        const size_t stop = chunk.readable >= needed ? std::min(chunk.size, chunk.readable - needed + 1) : 0;
        const uint8_t* data = chunk.data;
        for (; at < stop; at += kAlignment) {
          const uint64_t pointer = load_unaligned<uint64_t>(data + at + leader);
          if (pointer < low || (pointer & 7)) continue;
          if (plausible_bytes(data + at)) sink.add(chunk.address + at);
        }
      },
      [&](const ScanCandidate& candidate) {
        ++out.candidates;
        bool dead = false;
        if (validate(direct_map + candidate.address, nullptr, &dead))
          out.tasks.push_back({candidate.address, direct_map + candidate.address, dead});
        else
          ++out.rejected;
        return true;
      },
      scan);
  if (out.stats.dropped_hits)
    warnings.add("task carve: " + std::to_string(out.stats.dropped_hits) +
                 " candidates dropped in chunks holding more than " + std::to_string(options.max_candidates_per_chunk) +
                 " (forged or repeated structures?): " +
                 limit_hint("max_candidates", options.max_candidates_per_chunk, kMaxCandidatesOption));
  if (out.stats.interrupted) warnings.add("task carve: incomplete: interrupted");
  for (const std::string& fault : out.stats.fault_messages) warnings.add("task carve: " + fault);
  return out;
}

}  // namespace memscope::linux_kernel
