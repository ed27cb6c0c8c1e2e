// The kernel's own compressed symbol table (kallsyms), read from an image:
// every symbol's name, nm type letter and run-time address, with no
// profile. Linux 6.x names the tables in VMCOREINFO; older kernels (or an
// image without VMCOREINFO) have them found by their structure.
//
// Layout (kernel/kallsyms.c, scripts/kallsyms.c):
// - kallsyms_num_syms: the symbol count N (an unsigned int; older kernels
//   write a pointer-sized word).
// - kallsyms_names: N entries, each a length (one byte; two, little-endian
//   base-128, when the first has bit 7 set: "big" symbols, 6.1+) followed by
//   that many token indices. The expanded entry's first character is the
//   symbol's nm type letter (T text, D data, B bss, R rodata, A absolute...).
// - kallsyms_markers: the names offset of every 256th entry (u32 since 4.x
//   on most architectures; pointer-sized on some older kernels).
// - kallsyms_token_table: 256 NUL-terminated tokens; kallsyms_token_index:
//   u16[256], each token's offset in the table. Every character that occurs
//   in a name is a single-character token at its own byte value, so the
//   table holds "0", "1", ... "9" consecutively: what the structure search
//   looks for.
// - addresses: kallsyms_offsets (s32 per symbol) + kallsyms_relative_base
//   (KALLSYMS_BASE_RELATIVE, 4.6+), or kallsyms_addresses (one pointer per
//   symbol). With KALLSYMS_ABSOLUTE_PERCPU (x86_64 SMP) a non-negative
//   offset is an absolute value (per-CPU symbols) and a negative one is
//   relative_base - 1 - offset; without it every offset is relative_base +
//   (u32)offset. Which one a kernel uses is read off the table: only the
//   absolute-per-CPU encoding has negative offsets.
// - kallsyms_seqs_of_names (6.1+): the entries in name order (3 bytes each);
//   not needed to decode.
// The tables are written in that order up to 6.3; from 6.4 the order is
// num_syms, names, markers, token table, token index, offsets,
// relative_base, seqs_of_names. Each starts 8-byte aligned on 64-bit.
//
// Everything read from the image is untrusted: counts and lengths are
// capped, every read is checked, and a table is only believed once it
// decodes completely, its markers agree with its names and its addresses
// come in ascending order (the kernel sorts them).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/layers/address_space.h"
#include "core/layers/image_notes.h"
#include "core/linux/discovery/vmcoreinfo.h"

namespace memscope {

// Where the tables are, in the address space they are read through (kernel
// virtual addresses from VMCOREINFO, or physical ones from the structure
// search). 0: not known.
struct KallsymsTables {
  uint64_t names = 0;          // kallsyms_names
  uint64_t num_syms = 0;       // kallsyms_num_syms
  uint64_t token_table = 0;    // kallsyms_token_table
  uint64_t token_index = 0;    // kallsyms_token_index (u16[256])
  uint64_t offsets = 0;        // kallsyms_offsets (s32 per symbol), with
  uint64_t relative_base = 0;  // kallsyms_relative_base (an unsigned long)
  uint64_t addresses = 0;      // or kallsyms_addresses (one pointer per symbol)
  uint64_t markers = 0;        // kallsyms_markers (optional: checked when known)
  unsigned marker_size = 0;    // 4 or 8 bytes per marker; 0: found out when read
  uint64_t seqs_of_names = 0;  // kallsyms_seqs_of_names (optional, not needed)
  std::string found_by;        // "VMCOREINFO", "structure search at physical 0x..."

  bool base_relative() const { return offsets != 0; }
};

// The table addresses VMCOREINFO gives (Linux 6.0+): names, num_syms, token
// table and index, and offsets + relative_base or addresses. nullopt when
// any of those is missing.
std::optional<KallsymsTables> kallsyms_tables(const VmcoreInfo& vmcoreinfo);

// Most symbols a kernel can have before the table is judged corrupt.
constexpr uint64_t kMaxKallsyms = uint64_t{1} << 22;
// Longest expanded entry (type letter + name): KSYM_NAME_LEN is 512 on 6.1+.
constexpr size_t kMaxKallsymsName = 1024;

struct KallsymsSymbol {
  std::string name;
  uint64_t address = 0;  // run-time (per-CPU symbols: their offset in the per-CPU area)
  char type = '?';       // nm's letter: T/t text, D/d data, B/b bss, R/r rodata, A absolute, W/V weak
};

// A whole decoded table.
struct KallsymsTable {
  KallsymsTables tables;
  std::vector<KallsymsSymbol> symbols;  // in the table's order: ascending addresses
  bool absolute_percpu = false;         // the KALLSYMS_ABSOLUTE_PERCPU encoding
  size_t markers_checked = 0;           // markers compared with the names
  std::vector<std::string> warnings;

  // The first symbol of that name, or nullptr (a linear search: build a
  // map for many lookups).
  const KallsymsSymbol* find(std::string_view name) const;
  // True when data symbols are there (KALLSYMS_ALL): init_task is one.
  bool has_data_symbols() const;
};

// Decodes every symbol, reading through `space` (a kernel virtual space for
// VMCOREINFO's addresses, or the physical space for the structure search's).
// Throws ReadError naming the address and the table when part of it cannot
// be read, Error when it does not decode (naming the entry and address).
KallsymsTable read_kallsyms(AddressSpace& space, const KallsymsTables& tables);

// Run-time addresses of those of `names` that the table holds (first
// occurrence of each), without decoding the rest: only entries as long as a
// wanted name are expanded. For kernel-image symbols (a per-CPU symbol's
// absolute value is not told apart here). Throws as read_kallsyms does.
std::map<std::string, uint64_t> lookup_kallsyms(AddressSpace& kernel, const KallsymsTables& tables,
                                                const std::vector<std::string>& names);

// --- Finding the tables by their structure ------------------------------

// The digit tokens, consecutive in every token table.
inline constexpr std::string_view kKallsymsDigitTokens{"0\0" "1\0" "2\0" "3\0" "4\0" "5\0" "6\0" "7\0" "8\0" "9\0", 20};

// The table around a token table whose digit tokens lie at
// `digits_address` in `space`: the token index after the token table, the
// names and their count before it, the markers after the names, the
// addresses in whichever layout of the kernel's versions fits. A candidate
// is believed only once it decodes whole (read_kallsyms's checks), its
// addresses ascend without exception, kernel text lies in the kernel's half
// of the address space and _text or _stext is among its names. nullopt
// when nothing validates, with the reason in *why.
std::optional<KallsymsTable> kallsyms_at(AddressSpace& space, uint64_t digits_address, std::string* why = nullptr);

struct KallsymsSearchOptions {
  uint64_t begin = 0;          // physical window to search
  uint64_t end = UINT64_MAX;
  unsigned threads = 0;        // scanner threads; 0: one per core
  size_t max_candidates = 64;  // digit-token hits examined at most
};

// Scans the physical space for token tables and returns the first table
// that validates (its KallsymsTables hold physical addresses), or nullopt
// with what was tried in *why.
std::optional<KallsymsTable> find_kallsyms(AddressSpace& physical, const KallsymsSearchOptions& options = {},
                                           std::string* why = nullptr);

// --- The kernel's page table from a table found in physical memory ------

// Where a kernel whose kallsyms table was found in physical memory (no
// VMCOREINFO to say it) keeps its page table.
struct KernelFromKallsyms {
  uint64_t dtb = 0;           // physical address of the top-level page table
  int paging_levels = 4;
  uint64_t text_virtual = 0;  // run-time _text (or _stext)
  uint64_t text_physical = 0;
  std::string detail;         // how it was found and validated
};

// The kernel image is loaded 2 MiB-aligned and physically contiguous, so
// _text lies at a 2 MiB boundary below the token table; with init_top_pgt
// among the symbols (KALLSYMS_ALL), its page table is at the same distance
// from _text physically as virtually, and must map its own address to
// itself and _text to where it lies. Without init_top_pgt, a CPU note's CR3
// that maps _text there serves. nullopt, with the reason in *why, when
// neither validates.
std::optional<KernelFromKallsyms> locate_kernel_by_kallsyms(AddressSpace& physical, const KallsymsTable& table,
                                                            const ImageNotes& notes, std::string* why = nullptr);

}  // namespace memscope
