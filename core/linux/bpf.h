// Loaded BPF programs and the maps they use, as the kernel indexes them:
// `prog_idr` (4.13+), an IDR of struct bpf_prog *, each with its
// bpf_prog_aux (id, name, load time, used maps). Programs a rootkit loads
// (XDP filters hiding traffic, kprobes hiding files) are listed here even
// when nothing in user space holds them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/linux/kernel_view.h"
#include "core/linux/warnings.h"

namespace memscope::linux_kernel {

struct BpfMap {
  uint64_t address = 0;
  std::optional<uint32_t> id;
  std::optional<std::string> name;
  std::optional<std::string> type;  // "hash", "percpu_array", ...
};

struct BpfProgram {
  uint64_t address = 0;             // struct bpf_prog
  uint64_t id = 0;                  // its id in prog_idr
  std::optional<std::string> type;  // "xdp", "kprobe", ... (bpftool's names)
  std::optional<std::string> name;
  std::optional<std::string> tag;        // 16 hex digits
  std::optional<uint64_t> load_time_ns;  // boot-time clock
  std::vector<BpfMap> maps;
};

// "BPF_PROG_TYPE_SCHED_CLS" -> "sched_cls" (how bpftool names them).
std::string bpf_type_name(std::string_view enumerator, std::string_view prefix);

class BpfReader {
 public:
  // Throws ProfileError naming what the profile lacks (prog_idr, struct
  // bpf_prog, bpf_prog_aux).
  explicit BpfReader(const KernelView& kernel);

  // Every program of prog_idr, by id. A program whose fields cannot be
  // read is listed with what could be, and one warning naming it.
  std::vector<BpfProgram> programs(Warnings& warnings) const;

 private:
  BpfMap read_map(uint64_t address, Warnings& warnings) const;

  const KernelView& kernel_;
};

}  // namespace memscope::linux_kernel
