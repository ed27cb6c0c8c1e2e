// Builds a kernel's kallsyms tables byte for byte, as scripts/kallsyms.c
// lays them out, for tests of the decoder and of the structure search: the
// token compression (every character a name uses is a one-character token
// at its own byte value; the free slots hold frequent pairs), the names
// with their "big" two-byte lengths, markers, seqs_of_names, and the
// addresses as offsets from relative_base (with or without the
// absolute-per-CPU encoding) or as absolute pointers; in the table order of
// kernels up to 6.3 or from 6.4 on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/linux/discovery/kallsyms.h"

namespace memscope::test {

struct KallsymsInput {
  std::string name;
  char type = 'T';
  uint64_t address = 0;  // run-time; below the kernel half: an absolute (per-CPU) value
};

enum class KallsymsOrder {
  kUpTo6_3,   // offsets, relative_base, num_syms, names, markers, seqs, token table, token index
  kFrom6_4,   // num_syms, names, markers, token table, token index, offsets, relative_base, seqs
};

struct KallsymsBlobOptions {
  KallsymsOrder order = KallsymsOrder::kUpTo6_3;
  bool base_relative = true;     // offsets + relative_base, else one pointer per symbol
  bool absolute_percpu = true;   // KALLSYMS_ABSOLUTE_PERCPU
  unsigned marker_size = 4;      // 4, or 8 (older kernels)
  bool seqs_of_names = true;
};

// The tables as they lie in the kernel's rodata, relative to the blob's start.
struct KallsymsBlob {
  std::vector<uint8_t> bytes;
  uint64_t num_syms = 0, names = 0, markers = 0, seqs_of_names = 0, token_table = 0, token_index = 0;
  bool base_relative = true;  // offsets + relative_base, else addresses
  uint64_t offsets = 0, relative_base = 0, addresses = 0;
  uint64_t names_end = 0;  // first byte after the names

  // The tables' addresses once the blob is placed at `base`.
  KallsymsTables at(uint64_t base) const;
  // VMCOREINFO's lines naming them (6.0+ kernels print these).
  std::string vmcoreinfo_lines(uint64_t base) const;
};

// `symbols` sorted by address, as the kernel sorts them.
KallsymsBlob build_kallsyms(const std::vector<KallsymsInput>& symbols, const KallsymsBlobOptions& options = {});

}  // namespace memscope::test
