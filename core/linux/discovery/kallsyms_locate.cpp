// Finding the kallsyms tables by their structure, for kernels whose
// VMCOREINFO does not name them (before 6.0) and images without VMCOREINFO.
// See kallsyms.h for the layout this relies on.
#include <algorithm>
#include <cstring>

#include "core/linux/discovery/kallsyms.h"
#include "core/linux/discovery/kallsyms_tokens.h"
#include "core/layers/x86_64_paging.h"
#include "core/scan/physical_scanner.h"
#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope {

using namespace kallsyms_detail;

namespace {

constexpr uint64_t kAlign = 8;  // every table starts 8-byte aligned on 64-bit kernels
// How far after the digit tokens the token index may start: the rest of
// the token table (a few KiB at most: 256 short tokens).
constexpr size_t kIndexWindow = 16 * 1024;
// How far before the token table the names may start: the names, the
// markers and (6.1-6.3) seqs_of_names of the largest kernels fit in far less.
constexpr uint64_t kNamesWindow = uint64_t{32} << 20;
// Entries decoded before a candidate for the names is examined in full.
constexpr size_t kQuickEntries = 32;
// Candidates for the names examined in full (each decodes the names).
constexpr size_t kMaxNameCandidates = 16;
// The lowest address of the kernel's half of the address space: kernel
// text is above it on every 64-bit Linux architecture memscope reads.
constexpr uint64_t kKernelHalf = 0xffff800000000000ull;

uint64_t align_up(uint64_t v) { return (v + kAlign - 1) & ~(kAlign - 1); }

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '$' || c == '@' || c == '-';
}

bool is_type_letter(char c) { return c != '\0' && std::strchr("AaBbDdRrTtVvWwNnGgSsUu?", c) != nullptr; }

// The first entries at `names` decode to a type letter and a name made of
// identifier characters.
bool plausible_names(AddressSpace& space, uint64_t names, uint32_t count, const TokenTable& tokens) {
  uint8_t bytes[4096];
  IoResult got = space.read(names, bytes, sizeof bytes);
  size_t pos = 0;
  std::string expanded;
  const size_t entries = std::min<size_t>(count, kQuickEntries);
  for (size_t i = 0; i < entries; ++i) {
    if (pos >= got.done) return false;
    size_t length = bytes[pos++];
    if (length & 0x80) {
      if (pos >= got.done) return false;
      length = (length & 0x7f) | (size_t{bytes[pos++]} << 7);
    }
    if (length == 0 || pos + length > got.done) return false;
    expanded.clear();
    for (size_t k = 0; k < length; ++k) expanded += tokens[bytes[pos + k]];
    pos += length;
    if (expanded.size() < 2 || expanded.size() > kMaxKallsymsName || !is_type_letter(expanded[0])) return false;
    if (!std::all_of(expanded.begin() + 1, expanded.end(), is_name_char)) return false;
  }
  return true;
}

// The end of the names stream: `count` entries from `names`.
uint64_t names_end(AddressSpace& space, uint64_t names, uint32_t count) {
  StreamReader stream(space, names, "kallsyms_names at " + hex(names));
  std::vector<uint8_t> entry;
  for (uint32_t i = 0; i < count; ++i)
    if (read_entry(stream, entry) == 0) throw Error("empty entry " + std::to_string(i));
  return names + stream.consumed();
}

// A decoded candidate is the kernel's table: complete, ascending, with
// kernel text where kernel text is.
bool valid_table(const KallsymsTable& table, std::string& why) {
  if (!table.warnings.empty()) {
    why = table.warnings.front();
    return false;
  }
  const KallsymsSymbol* text = table.find("_text");
  if (!text) text = table.find("_stext");
  if (!text) {
    why = "no _text or _stext among the names";
    return false;
  }
  if (text->address < kKernelHalf) {
    why = text->name + " decodes to " + hex(text->address) + ", outside the kernel's half of the address space";
    return false;
  }
  return true;
}

class Locator {
 public:
  Locator(AddressSpace& space, uint64_t digits) : space_(space), digits_(digits) {}

  std::optional<KallsymsTable> run(std::string& why) {
    if (!find_token_index(why)) return std::nullopt;
    return find_names(why);
  }

 private:
  // The token index follows the token table: a u16[256] starting with 0
  // whose entries for '0'..'9' are d, d+2, ..., d+18, where the digits lie
  // at table + d.
  bool find_token_index(std::string& why) {
    std::vector<uint8_t> window(kIndexWindow);
    IoResult got = space_.read(digits_, window.data(), window.size());
    const size_t available = got.done;
    for (size_t p = kKallsymsDigitTokens.size(); p + 512 <= available; p += 2) {
      auto idx = [&](size_t k) {
        uint16_t v;
        std::memcpy(&v, window.data() + p + 2 * k, 2);
        return v;
      };
      if (idx(0) != 0) continue;
      const uint16_t d = idx('0');
      if (d > digits_ || d == 0) continue;
      bool digits = true;
      for (unsigned j = 1; j < 10 && digits; ++j) digits = idx('0' + j) == d + 2 * j;
      if (!digits) continue;
      const uint64_t table = digits_ - d, index = digits_ + p;
      try {
        tokens_.read(space_, index, table);
      } catch (const Error&) {
        continue;
      }
      // The index starts at the next aligned place after the table.
      if (index < tokens_.end() || index - tokens_.end() >= 2 * kAlign) continue;
      token_table_ = table;
      token_index_ = index;
      return true;
    }
    why = "no token index after the digit tokens at " + hex(digits_);
    return false;
  }

  // kallsyms_num_syms precedes kallsyms_names (in both orders of the
  // tables), both 8-byte aligned: a count followed by zero padding, then
  // names that decode. Searched backwards from the token table.
  std::optional<KallsymsTable> find_names(std::string& why) {
    const uint64_t lowest = align_up(token_table_ > kNamesWindow ? token_table_ - kNamesWindow : 0);
    std::vector<uint8_t> block(1 << 20);
    size_t candidates = 0;
    std::string last_why = "no symbol count followed by decodable names within " +
                           std::to_string(kNamesWindow >> 20) + " MiB before the token table at " + hex(token_table_);
    uint64_t block_end = token_table_ & ~(kAlign - 1);
    while (block_end > lowest) {
      const uint64_t block_start = std::max(lowest, block_end > block.size() ? block_end - block.size() : 0);
      const size_t length = size_t(block_end - block_start);
      // Holes read as zeros, which hold no count: the names lie in what can be read.
      space_.read(block_start, block.data(), length, kReadPad);
      for (int64_t q = int64_t(length) - int64_t(kAlign); q >= 0; q -= int64_t(kAlign)) {
        uint32_t count, padding;
        std::memcpy(&count, block.data() + q, 4);
        std::memcpy(&padding, block.data() + q + 4, 4);
        if (padding != 0 || count < 16 || count > kMaxKallsyms) continue;
        const uint64_t num_syms = block_start + uint64_t(q);
        if (!plausible_names(space_, num_syms + 8, count, tokens_)) continue;
        if (++candidates > kMaxNameCandidates) {
          why = last_why;
          return std::nullopt;
        }
        if (auto table = examine(num_syms, count, last_why)) return table;
      }
      block_end = block_start;
    }
    why = last_why;
    return std::nullopt;
  }

  // A count and names that look right: the markers after the names, and
  // each known layout of the addresses, validated by decoding everything.
  std::optional<KallsymsTable> examine(uint64_t num_syms, uint32_t count, std::string& why) {
    KallsymsTables t;
    t.num_syms = num_syms;
    t.names = num_syms + 8;
    t.token_table = token_table_;
    t.token_index = token_index_;
    uint64_t end;
    try {
      end = names_end(space_, t.names, count);
    } catch (const Error& e) {
      why = "names at " + hex(t.names) + ": " + e.what();
      return std::nullopt;
    }
    t.markers = align_up(end);
    uint32_t first_marker = 1;
    if (space_.read(t.markers, &first_marker, 4).done != 4 || first_marker != 0) {
      why = "no markers after the names at " + hex(t.names);
      return std::nullopt;
    }
    const uint64_t markers_end = t.markers + uint64_t{(count + 255) / 256} * 4;
    if (token_table_ >= align_up(markers_end) + uint64_t{3} * count)
      t.seqs_of_names = align_up(markers_end);  // 6.1-6.3: between the markers and the token table
    t.found_by = "structure search at " + space_.name() + " " + hex(digits_);

    struct Layout {
      const char* name;
      uint64_t offsets, relative_base, addresses;
    };
    const uint64_t after_index = align_up(token_index_ + 512);
    const Layout layouts[] = {
        // Up to 6.3: offsets, relative_base, num_syms, names, ...
        {"offsets before the count", num_syms - 8 - align_up(uint64_t{4} * count), num_syms - 8, 0},
        // 6.4+: ..., token_index, offsets, relative_base, seqs_of_names.
        {"offsets after the token index", after_index, align_up(after_index + uint64_t{4} * count), 0},
        // Without KALLSYMS_BASE_RELATIVE: one pointer per symbol.
        {"addresses before the count", 0, 0, num_syms - uint64_t{8} * count},
        {"addresses after the token index", 0, 0, after_index},
    };
    std::string reasons;
    for (const Layout& layout : layouts) {
      KallsymsTables candidate = t;
      candidate.offsets = layout.offsets;
      candidate.relative_base = layout.relative_base;
      candidate.addresses = layout.addresses;
      if (layout.relative_base) {
        uint64_t base = 0;
        if (space_.read(layout.relative_base, &base, 8).done != 8 || base < kKernelHalf) continue;
      }
      try {
        KallsymsTable table = read_kallsyms(space_, candidate);
        std::string reason;
        if (valid_table(table, reason)) return table;
        reasons += (reasons.empty() ? "" : "; ") + std::string(layout.name) + ": " + reason;
      } catch (const Error& e) {
        reasons += (reasons.empty() ? "" : "; ") + std::string(layout.name) + ": " + e.what();
      }
    }
    why = "names at " + hex(t.names) + " (" + std::to_string(count) + " symbols) decode, but no address table fits" +
          (reasons.empty() ? std::string() : " (" + reasons + ")");
    return std::nullopt;
  }

  AddressSpace& space_;
  uint64_t digits_;
  TokenTable tokens_;
  uint64_t token_table_ = 0, token_index_ = 0;
};

}  // namespace

std::optional<KallsymsTable> kallsyms_at(AddressSpace& space, uint64_t digits_address, std::string* why) {
  std::string reason;
  std::optional<KallsymsTable> table = Locator(space, digits_address).run(reason);
  if (!table && why) *why = reason;
  return table;
}

std::optional<KallsymsTable> find_kallsyms(AddressSpace& physical, const KallsymsSearchOptions& options,
                                           std::string* why) {
  ScanOptions scan;
  scan.threads = options.threads;
  scan.begin = options.begin;
  scan.end = options.end;
  std::optional<KallsymsTable> found;
  size_t hits = 0;
  std::string first_reason;
  scan_physical(
      physical, {ScanPattern{std::string(kKallsymsDigitTokens)}},
      [&](const ScanHit& hit) {
        if (++hits > options.max_candidates) return false;
        std::string reason;
        found = kallsyms_at(physical, hit.address, &reason);
        if (!found && first_reason.empty()) first_reason = hex(hit.address) + ": " + reason;
        return !found;
      },
      scan);
  if (!found && why) {
    if (hits == 0)
      *why = "no kallsyms token table (the digit tokens \"0\".\"9\") in memory";
    else
      *why = std::to_string(std::min(hits, options.max_candidates)) + " token table candidate(s), none validated (" +
             first_reason + ")";
  }
  return found;
}

std::optional<KernelFromKallsyms> locate_kernel_by_kallsyms(AddressSpace& physical, const KallsymsTable& table,
                                                            const ImageNotes& notes, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<KernelFromKallsyms> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  const KallsymsSymbol* text = table.find("_text");
  if (!text) text = table.find("_stext");
  if (!text) return fail("the table has no _text or _stext");
  constexpr uint64_t k2M = uint64_t{2} << 20, kPage = 4096;
  constexpr uint64_t kImageSpan = uint64_t{1} << 30;  // KERNEL_IMAGE_SIZE: the tables lie within it
  // Small translation caches: a handful of reads per candidate.
  constexpr size_t kProbePages = 16;
  const uint64_t tables_physical = table.tables.token_table;

  const KallsymsSymbol* root = table.find("init_top_pgt");
  if (!root) root = table.find("swapper_pg_dir");
  if (root && root->address > text->address && root->address - text->address < kImageSpan) {
    const uint64_t distance = root->address - text->address;
    for (uint64_t k = 0, base = tables_physical & ~(k2M - 1); k < kImageSpan / k2M && base >= k * k2M; ++k) {
      const uint64_t text_physical = base - k * k2M;
      const uint64_t dtb = text_physical + distance;
      if (dtb % kPage || !physical.is_readable(dtb, kPage)) continue;
      for (int levels : {4, 5}) {
        X86_64Paging paging(physical, dtb, levels, "", kProbePages);
        auto self = paging.translate(root->address);
        auto start = paging.translate(text->address);
        if (self && self->physical == dtb && start && start->physical == text_physical)
          return KernelFromKallsyms{dtb, levels, text->address, text_physical,
                                    "page table found from kallsyms' " + root->name + " at physical " + hex(dtb) +
                                        " (_text at physical " + hex(text_physical) + "), validated by its self-map"};
      }
    }
  }
  for (const CpuState& cpu : notes.cpus) {
    if (!cpu.cr3) continue;
    const uint64_t cr3 = *cpu.cr3 & 0x000ffffffffff000ull;
    for (int levels : {4, 5}) {
      X86_64Paging paging(physical, cr3, levels, "", kProbePages);
      auto start = paging.translate(text->address);
      if (start && start->physical % k2M == 0 && start->physical <= tables_physical &&
          tables_physical - start->physical < kImageSpan)
        return KernelFromKallsyms{cr3, levels, text->address, start->physical,
                                  "CPU " + std::to_string(cpu.index) + "'s CR3 " + hex(cr3) + " maps kallsyms' " +
                                      text->name + " to physical " + hex(start->physical)};
    }
  }
  return fail(root ? "no 2 MiB-aligned load of the kernel puts a page table mapping itself at " + root->name +
                         "'s place, and no CPU note's CR3 maps _text"
                   : "the table has no init_top_pgt (kernel built without KALLSYMS_ALL) and no CPU note's CR3 maps "
                     "_text");
}

}  // namespace memscope
