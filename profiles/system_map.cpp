#include "profiles/system_map.h"

#include <charconv>

#include "core/util/error.h"
#include "core/layers/mapped_file.h"

namespace memscope {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Splits a line into at most `max` whitespace-separated fields; returns how
// many there were (max + 1 when there were more).
size_t split_fields(std::string_view line, std::string_view* fields, size_t max) {
  size_t n = 0, i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_blank(line[i])) ++i;
    if (i == line.size()) break;
    size_t start = i;
    while (i < line.size() && !is_blank(line[i])) ++i;
    if (n == max) return max + 1;
    fields[n++] = line.substr(start, i - start);
  }
  return n;
}

bool parse_hex_address(std::string_view text, uint64_t& value) {
  if (text.empty() || text.size() > 16) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  return ec == std::errc() && ptr == text.data() + text.size();
}

bool printable_name(std::string_view name) {
  for (char c : name)
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) return false;
  return !name.empty();
}

}  // namespace

SystemMap parse_system_map(std::string_view text, std::string source) {
  if (text.size() > kSystemMapMaxBytes)
    throw FormatError(source + ": " + std::to_string(text.size()) + " bytes is too large for a System.map");
  SystemMap map;
  map.source = std::move(source);
  auto skip = [&map] {
    ++map.skipped_lines;
    if (map.first_skipped_line == 0) map.first_skipped_line = map.lines;
  };
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++map.lines;
    if (line.size() > kSystemMapMaxLine) {
      skip();
      continue;
    }
    std::string_view fields[4];
    size_t n = split_fields(line, fields, 4);
    // "address type name", or kallsyms' "address type name [module]": module
    // symbols do not belong in a kernel profile.
    uint64_t address = 0;
    if (n != 3 || !parse_hex_address(fields[0], address) || fields[1].size() != 1 ||
        !printable_name(fields[1]) || !printable_name(fields[2])) {
      skip();
      continue;
    }
    map.symbols.push_back(SystemMapSymbol{address, fields[1][0], std::string(fields[2])});
  }
  if (map.symbols.empty())
    throw FormatError(map.source + ": no \"address type name\" line in " + std::to_string(map.lines) +
                      " lines: not a System.map");
  bool all_zero = true;
  for (const SystemMapSymbol& s : map.symbols) all_zero = all_zero && s.address == 0;
  if (all_zero && map.symbols.size() > 1)
    throw FormatError(map.source + ": every address is zero (a /proc/kallsyms read without privilege?)");
  return map;
}

SystemMap load_system_map(const std::string& path) {
  MappedFile file(path);
  if (file.size() > kSystemMapMaxBytes)
    throw FormatError(path + ": " + std::to_string(file.size()) + " bytes is too large for a System.map");
  file.advise_sequential();
  return parse_system_map(file.bytes(0, file.size()), path);
}

}  // namespace memscope
