#include "core/linux/discovery/vmcoreinfo.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <vector>

#include "core/util/hex.h"

namespace memscope {
namespace {

// The kernel prints most values with %lx (SYMBOL, KERNELOFFSET) or %ld/%lu
// (NUMBER, OFFSET, SIZE, LENGTH); some architectures print NUMBER(...) with
// an explicit 0x. Accept exactly those spellings.
std::optional<uint64_t> parse_unsigned(std::string_view text, int base) {
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<int64_t> parse_signed(std::string_view text) {
  bool negative = !text.empty() && text[0] == '-';
  if (negative) text.remove_prefix(1);
  std::optional<uint64_t> magnitude = parse_unsigned(text, 10);
  if (!magnitude) return std::nullopt;
  if (negative) {
    if (*magnitude > uint64_t{1} << 63) return std::nullopt;
    return static_cast<int64_t>(0 - *magnitude);  // two's complement, no overflow
  }
  // Positive values above INT64_MAX (a hex mask) keep their bit pattern.
  return static_cast<int64_t>(*magnitude);
}

// "SYMBOL(init_top_pgt)" -> "init_top_pgt" when key starts with `prefix(`.
std::optional<std::string_view> inside(std::string_view key, std::string_view prefix) {
  if (key.size() < prefix.size() + 2 || key.substr(0, prefix.size()) != prefix || key[prefix.size()] != '(' ||
      key.back() != ')')
    return std::nullopt;
  return key.substr(prefix.size() + 1, key.size() - prefix.size() - 2);
}

bool printable_name(std::string_view text) {
  return !text.empty() && text.size() <= 64 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c > ' ' && c < 127 && c != '%'; });
}

}  // namespace

std::optional<uint64_t> VmcoreInfo::symbol(std::string_view name) const {
  auto it = symbols.find(name);
  if (it == symbols.end()) return std::nullopt;
  return it->second;
}

std::optional<uint64_t> VmcoreInfo::offset(std::string_view type_member) const {
  auto it = offsets.find(type_member);
  if (it == offsets.end()) return std::nullopt;
  return it->second;
}

std::optional<uint64_t> VmcoreInfo::top_page_table() const {
  if (auto v = symbol("init_top_pgt")) return v;
  return symbol("swapper_pg_dir");
}

bool VmcoreInfo::plausible() const { return printable_name(os_release) && top_page_table().has_value(); }

VmcoreInfo parse_vmcoreinfo(std::string_view text, std::string source) {
  VmcoreInfo info;
  info.source = std::move(source);
  text = text.substr(0, std::min(text.size(), kMaxVmcoreinfoBytes));
  if (size_t nul = text.find('\0'); nul != std::string_view::npos) text = text.substr(0, nul);
  info.text = std::string(text);

  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      ++info.malformed_lines;
      continue;
    }
    std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
    bool ok = true;
    if (auto name = inside(key, "SYMBOL")) {
      auto v = parse_unsigned(value, 16);
      if ((ok = v.has_value())) info.symbols.emplace(std::string(*name), *v);
    } else if (auto number = inside(key, "NUMBER")) {
      auto v = parse_signed(value);
      if ((ok = v.has_value())) {
        info.numbers.emplace(std::string(*number), *v);
        if (*number == "phys_base") info.phys_base = static_cast<uint64_t>(*v);
        if (*number == "pgtable_l5_enabled") info.pgtable_l5_enabled = *v != 0;
      }
    } else if (auto member = inside(key, "OFFSET")) {
      auto v = parse_unsigned(value, 10);
      if ((ok = v.has_value())) info.offsets.emplace(std::string(*member), *v);
    } else if (auto type = inside(key, "SIZE")) {
      auto v = parse_unsigned(value, 10);
      if ((ok = v.has_value())) info.sizes.emplace(std::string(*type), *v);
    } else if (auto length = inside(key, "LENGTH")) {
      auto v = parse_unsigned(value, 10);
      if ((ok = v.has_value())) info.lengths.emplace(std::string(*length), *v);
    } else if (key == "OSRELEASE") {
      info.os_release = std::string(value);
    } else if (key == "BUILD-ID") {
      info.build_id = std::string(value);
    } else if (key == "PAGESIZE") {
      info.page_size = parse_unsigned(value, 10);
      ok = info.page_size.has_value();
    } else if (key == "KERNELOFFSET") {
      info.kernel_offset = parse_unsigned(value, 16);
      ok = info.kernel_offset.has_value();
    } else {
      info.other.emplace(std::string(key), std::string(value));
    }
    if (!ok) ++info.malformed_lines;
  }
  return info;
}

std::optional<VmcoreInfo> read_vmcoreinfo_at(AddressSpace& space, uint64_t address) {
  // Read page by page so that a text ending just before a hole is still
  // read whole, and stop at the first NUL.
  std::string text;
  std::vector<char> page(4096);
  while (text.size() < kMaxVmcoreinfoBytes) {
    uint64_t at = address + text.size();
    if (at < address) break;  // wrapped past 2^64
    size_t want = std::min<size_t>(4096 - at % 4096, kMaxVmcoreinfoBytes - text.size());
    IoResult got = space.read(at, page.data(), want);
    const char* nul = static_cast<const char*>(std::memchr(page.data(), '\0', got.done));
    text.append(page.data(), nul ? static_cast<size_t>(nul - page.data()) : got.done);
    if (nul || got.done < want) break;
  }
  VmcoreInfo info = parse_vmcoreinfo(text, "physical memory at " + hex(address));
  if (!info.plausible()) return std::nullopt;
  return info;
}

}  // namespace memscope
