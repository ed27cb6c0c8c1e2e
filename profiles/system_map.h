// System.map (or a /proc/kallsyms copy): "address type name" per line, as
// nm prints it. The addresses are link-time addresses, unsigned 64-bit.
//
// The file is untrusted: lines that do not parse (blank, too long, address
// not hex, module symbols of a kallsyms copy) are skipped and counted, never
// fatal; a file with no symbol at all, or whose addresses are all zero (a
// kallsyms read without privilege), is rejected with a FormatError.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace memscope {

struct SystemMapSymbol {
  uint64_t address = 0;
  char type = '?';  // nm's letter: T/t text, D/d data, B/b bss, R/r rodata, A absolute, W/V weak...
  std::string name;
};

struct SystemMap {
  std::string source;
  std::vector<SystemMapSymbol> symbols;  // in file order; a name may repeat (static symbols)
  uint64_t lines = 0;                    // lines read
  uint64_t skipped_lines = 0;            // lines that were not a symbol
  uint64_t first_skipped_line = 0;      // 1-based number of the first one, 0 if none
};

// Limits that keep a hostile file from costing more than a real one could.
inline constexpr uint64_t kSystemMapMaxBytes = uint64_t{1} << 30;  // real ones: a few MB
inline constexpr size_t kSystemMapMaxLine = 4096;                   // KSYM_NAME_LEN is 512

// Parses the text; `source` names it in errors.
SystemMap parse_system_map(std::string_view text, std::string source);
// Reads and parses a file (read-only, memory-mapped).
SystemMap load_system_map(const std::string& path);

}  // namespace memscope
