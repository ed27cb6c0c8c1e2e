// The named limits (docs/limits.md): how far memscope follows what an
// image says before it stops and says so. An image is untrusted input: a
// list that never ends, a string without NUL, a length field of 2^60, a
// memory full of forged structures would otherwise cost unbounded time or
// memory. Each limit has a default a real kernel never reaches, a global
// option that raises it (--max-list N, ...), and every warning that a
// limit cut something names it and the option (limit_hint()).
//
// A session's limits come from SessionOptions::limits; run_plugin makes
// them the active limits of the thread that runs the plugin (ScopedLimits),
// which is where the walkers read them (active_limits()), so that no walker
// needs them passed down. Outside a scope, the defaults apply.
#pragma once

#include <cstdint>
#include <string>

namespace memscope {

struct Limits {
  // Entries one walk of a kernel list or tree yields at most (task list,
  // module list, a process's threads, ...). PID_MAX_LIMIT: no list of
  // tasks can be longer on any kernel.
  uint64_t max_list = uint64_t{4} << 20;
  // Bytes of one string read through a pointer (a name, a path) before a
  // NUL must have come: kernel names are at most a page long.
  uint64_t max_string = 4096;
  // Bytes memscope allocates for one object whose size the image states (a
  // buffer, a block of arguments): a forged length must not exhaust memory.
  uint64_t max_object = uint64_t{64} << 20;
  // Candidates a carver (psscan, hidden_processes) validates per scanned
  // chunk of memory: a memory stuffed with forged structures costs
  // bounded time, with a warning counting what was dropped.
  uint64_t max_candidates = 4096;

  bool operator==(const Limits&) const = default;
};

// The global option that raises each limit.
inline constexpr const char* kMaxListOption = "--max-list";
inline constexpr const char* kMaxStringOption = "--max-string";
inline constexpr const char* kMaxObjectOption = "--max-object";
inline constexpr const char* kMaxCandidatesOption = "--max-candidates";

// "the max_list limit of 4194304 (raise it with --max-list N)": what a
// warning says when `name` ("max_list") cut something.
std::string limit_hint(const char* name, uint64_t value, const char* option);

// The limits of the analysis running on this thread (the defaults outside
// a ScopedLimits).
const Limits& active_limits();

// Makes `limits` the active limits of this thread while it lives (nests).
class ScopedLimits {
 public:
  explicit ScopedLimits(const Limits& limits);
  ~ScopedLimits();
  ScopedLimits(const ScopedLimits&) = delete;
  ScopedLimits& operator=(const ScopedLimits&) = delete;

 private:
  const Limits* previous_;
  Limits limits_;
};

}  // namespace memscope
