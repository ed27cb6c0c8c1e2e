// What a real kernel carries about itself, added to a synthetic kernel
// (support/synthetic_linux.h) so that it can be analysed with no profile:
// its BTF (the types of the synthetic profile, as pahole would emit them),
// its kallsyms tables (every symbol of the profile at its run-time address)
// and its VMCOREINFO text in RAM. Options leave parts out or damage them,
// for the tests of what memscope says then.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/synthetic_kallsyms.h"
#include "support/synthetic_linux.h"

namespace memscope::test {

// The BTF of the types an ISF document describes: integers, floats,
// structs and unions (ISF's anonymous "unnamed_*" ones nameless), enums,
// pointers, arrays, function pointers, bitfields, forward declarations of
// records it names without defining; and its per-CPU symbols (those below
// the kernel's half) as variables of a .data..percpu section.
std::vector<uint8_t> btf_from_isf(const nlohmann::json& isf);

struct SelfDescriptionOptions {
  bool btf = true;                   // __start_BTF .. __stop_BTF and the blob
  size_t btf_cut = 0;                // bytes cut from the blob's end (__stop_BTF moves with it)
  bool vmcoreinfo = true;            // the VMCOREINFO text in RAM
  bool vmcoreinfo_names_kallsyms = true;  // its SYMBOL(kallsyms_*) lines (6.0+)
  KallsymsBlobOptions kallsyms{};
};

// Where the parts were put.
struct SelfDescription {
  uint64_t kallsyms = 0;           // run-time address of the tables' blob
  KallsymsBlob blob;
  uint64_t btf = 0, btf_size = 0;  // run-time address and length of the BTF
  std::vector<uint8_t> btf_bytes;  // the whole blob (also with btf_cut)
  uint64_t vmcoreinfo_physical = 0;
  std::string build_id;
};

// Writes the parts into `image`'s kernel image (free space between its
// objects) and returns where.
SelfDescription add_self_description(SyntheticLinux& image, const SelfDescriptionOptions& options = {});

}  // namespace memscope::test
