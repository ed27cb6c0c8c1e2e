#include "core/linux/discovery/kallsyms.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <set>

#include "core/linux/discovery/kallsyms_tokens.h"
#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope {

std::optional<KallsymsTables> kallsyms_tables(const VmcoreInfo& v) {
  auto names = v.symbol("kallsyms_names"), num = v.symbol("kallsyms_num_syms"),
       table = v.symbol("kallsyms_token_table"), index = v.symbol("kallsyms_token_index"),
       offsets = v.symbol("kallsyms_offsets"), base = v.symbol("kallsyms_relative_base"),
       addresses = v.symbol("kallsyms_addresses");
  if (!names || !num || !table || !index) return std::nullopt;
  KallsymsTables t;
  t.names = *names;
  t.num_syms = *num;
  t.token_table = *table;
  t.token_index = *index;
  if (offsets && base) {
    t.offsets = *offsets;
    t.relative_base = *base;
  } else if (addresses) {
    t.addresses = *addresses;
  } else {
    return std::nullopt;
  }
  // Not in 6.x VMCOREINFO today, but cheap to honour if a kernel adds them.
  if (auto markers = v.symbol("kallsyms_markers")) t.markers = *markers;
  if (auto seqs = v.symbol("kallsyms_seqs_of_names")) t.seqs_of_names = *seqs;
  t.found_by = "VMCOREINFO";
  return t;
}

const KallsymsSymbol* KallsymsTable::find(std::string_view name) const {
  for (const KallsymsSymbol& s : symbols)
    if (s.name == name) return &s;
  return nullptr;
}

bool KallsymsTable::has_data_symbols() const { return find("init_task") != nullptr; }

namespace kallsyms_detail {

void TokenTable::read(AddressSpace& space, uint64_t index_address, uint64_t table_address) {
  std::array<uint16_t, 256> index{};
  IoResult got = space.read(index_address, index.data(), sizeof index);
  if (!got.ok())
    throw ReadError(got.fault->address, got.fault->layer,
                    "kallsyms_token_index at " + hex(index_address) + ": " + got.fault->message());
  if (index[0] != 0)
    throw Error("kallsyms_token_index at " + hex(index_address) + ": the first token is not at offset 0");
  for (size_t i = 1; i < 256; ++i)
    if (index[i] <= index[i - 1])
      throw Error("kallsyms_token_index at " + hex(index_address) + ": token offsets do not increase at token " +
                  std::to_string(i));
  // The last token is short: read what the table can hold after it.
  const size_t size = size_t{index[255]} + kMaxToken + 1;
  bytes_.assign(size, '\0');
  got = space.read(table_address, bytes_.data(), size);
  if (got.done <= index[255])
    throw ReadError(table_address + got.done, space.name(),
                    "kallsyms_token_table at " + hex(table_address) + ": unreadable at " +
                        hex(table_address + got.done));
  bytes_.resize(got.done);
  for (size_t i = 0; i < 256; ++i) {
    const size_t start = index[i];
    const size_t limit = i < 255 ? index[i + 1] : bytes_.size();
    const void* nul = std::memchr(bytes_.data() + start, '\0', limit - start);
    if (!nul)
      throw Error("kallsyms_token_table at " + hex(table_address) + ": token " + std::to_string(i) +
                  " is not NUL-terminated where the index puts the next one");
    const size_t length = static_cast<size_t>(static_cast<const char*>(nul) - (bytes_.data() + start));
    if (i < 255 && start + length + 1 != limit)
      throw Error("kallsyms_token_table at " + hex(table_address) + ": token " + std::to_string(i) +
                  " does not end where the next begins");
    for (size_t k = 0; k < length; ++k) {
      const unsigned char c = static_cast<unsigned char>(bytes_[start + k]);
      if (c < 0x20 || c > 0x7e)
        throw Error("kallsyms_token_table at " + hex(table_address) + ": token " + std::to_string(i) +
                    " holds a non-printable byte");
    }
    tokens_[i] = std::string_view(bytes_.data() + start, length);
  }
  end_ = table_address + index[255] + tokens_[255].size() + 1;
}

StreamReader::StreamReader(AddressSpace& space, uint64_t address, std::string what)
    : space_(space), start_(address), next_(address), what_(std::move(what)) {}

void StreamReader::refill() {
  buffer_.resize(kBlock);
  IoResult got = space_.read(next_, buffer_.data(), kBlock);
  if (got.done == 0) {
    if (got.fault)
      throw ReadError(got.fault->address, got.fault->layer, what_ + ": " + got.fault->message());
    throw ReadError(next_, space_.name(), what_ + ": cannot read " + hex(next_));
  }
  buffer_.resize(got.done);
  next_ += got.done;
  pos_ = 0;
}

// One entry of kallsyms_names: its length and token indices.
size_t read_entry(StreamReader& stream, std::vector<uint8_t>& entry) {
  size_t length = stream.byte();
  if (length & 0x80) length = (length & 0x7f) | (size_t{stream.byte()} << 7);  // "big" symbols (6.1+)
  entry.resize(length);
  for (size_t k = 0; k < length; ++k) entry[k] = stream.byte();
  return length;
}

uint32_t read_count(AddressSpace& space, uint64_t address) {
  uint32_t count = space.read_value<uint32_t>(address);
  if (count == 0 || count > kMaxKallsyms)
    throw Error("kallsyms_num_syms at " + hex(address) + ": implausible symbol count " + std::to_string(count));
  return count;
}

uint64_t symbol_address(int32_t offset, uint64_t relative_base, bool absolute_percpu) {
  if (!absolute_percpu) return relative_base + static_cast<uint32_t>(offset);
  if (offset >= 0) return static_cast<uint64_t>(offset);
  return relative_base - 1 - static_cast<uint64_t>(static_cast<int64_t>(offset));
}

}  // namespace kallsyms_detail

using namespace kallsyms_detail;

namespace {

bool is_type_letter(char c) { return std::strchr("AaBbCcDdGgNnRrSsTtUuVvWw?", c) != nullptr && c != '\0'; }

// Reads `count` elements of `size` bytes at `address` in blocks, naming the
// table in errors.
std::vector<uint8_t> read_array(AddressSpace& space, uint64_t address, uint64_t count, size_t size, const char* what) {
  std::vector<uint8_t> out(count * size);
  constexpr size_t kBlock = 1 << 20;
  for (size_t done = 0; done < out.size();) {
    size_t n = std::min(kBlock, out.size() - done);
    IoResult got = space.read(address + done, out.data() + done, n);
    if (!got.ok())
      throw ReadError(got.fault->address, got.fault->layer,
                      std::string(what) + " at " + hex(address) + ": element " +
                          std::to_string((done + got.done) / size) + " of " + std::to_string(count) + ": " +
                          got.fault->message());
    done += n;
  }
  return out;
}

// Compares the markers at `address` with the names offsets of every 256th
// entry. Markers are u32 on current kernels, pointer-sized on some older
// ones (`size` 0: the second marker tells which; the first is 0 either
// way). On agreement records them in `out`; else says why (when asked).
bool check_markers(AddressSpace& space, uint64_t address, unsigned size, const std::vector<uint64_t>& expected,
                   KallsymsTable& out, std::string* why) {
  const bool probing = why == nullptr;
  unsigned width = size ? size : 4;
  std::vector<uint8_t> raw(expected.size() * 8);
  auto load = [&]() {
    IoResult got = space.read(address, raw.data(), expected.size() * width);
    if (!got.ok() && !probing)
      throw ReadError(got.fault->address, got.fault->layer, "kallsyms_markers at " + hex(address) + ": " +
                                                                got.fault->message());
    return got.ok();
  };
  auto marker = [&](size_t k) -> uint64_t {
    uint64_t v = 0;
    std::memcpy(&v, raw.data() + k * width, width);
    return v;
  };
  if (!load()) return false;
  if (!size && expected.size() > 1 && marker(1) != expected[1]) {
    width = 8;
    if (!load()) return false;
  }
  for (size_t k = 0; k < expected.size(); ++k)
    if (marker(k) != expected[k]) {
      if (why)
        *why = "marker " + std::to_string(k) + " is " + std::to_string(marker(k)) + ", but entry " +
               std::to_string(k * 256) + " starts at " + std::to_string(expected[k]) + " of the names";
      return false;
    }
  out.tables.markers = address;
  out.tables.marker_size = width;
  out.markers_checked = expected.size();
  return true;
}

}  // namespace

KallsymsTable read_kallsyms(AddressSpace& space, const KallsymsTables& t) {
  if (!t.names || !t.num_syms || !t.token_table || !t.token_index || (!t.offsets && !t.addresses))
    throw Error("kallsyms: the table addresses are incomplete");
  KallsymsTable out;
  out.tables = t;
  const uint32_t count = read_count(space, t.num_syms);
  TokenTable tokens;
  tokens.read(space, t.token_index, t.token_table);

  // The names. Markers (every 256th entry's offset) are compared as the
  // stream passes them, when their place is known.
  out.symbols.resize(count);
  StreamReader stream(space, t.names, "kallsyms_names at " + hex(t.names));
  std::vector<uint8_t> entry;
  std::string expanded;
  std::vector<uint64_t> marker_offsets;
  marker_offsets.reserve(count / 256 + 1);
  for (uint32_t i = 0; i < count; ++i) {
    if (i % 256 == 0) marker_offsets.push_back(stream.consumed());
    const uint64_t at = t.names + stream.consumed();
    size_t length;
    try {
      length = read_entry(stream, entry);
    } catch (const ReadError& e) {
      throw ReadError(e.address(), e.layer(),
                      "kallsyms: symbol " + std::to_string(i) + " of " + std::to_string(count) + ": " + e.what());
    }
    expanded.clear();
    for (uint8_t token : entry) {
      expanded += tokens[token];
      if (expanded.size() > kMaxKallsymsName) break;
    }
    if (length == 0 || expanded.size() < 2 || expanded.size() > kMaxKallsymsName || !is_type_letter(expanded[0]))
      throw Error("kallsyms_names: entry " + std::to_string(i) + " of " + std::to_string(count) + " at " + hex(at) +
                  " does not decode to a type letter and a name");
    out.symbols[i].type = expanded[0];
    out.symbols[i].name.assign(expanded, 1);
  }

  // The markers follow the names (8-byte aligned) in every layout: where
  // the caller does not know them, that place is probed, and kept only if
  // what lies there agrees with the names.
  const uint64_t names_end = t.names + stream.consumed();
  if (t.markers) {
    std::string why;
    if (!check_markers(space, t.markers, t.marker_size, marker_offsets, out, &why))
      throw Error("kallsyms_markers at " + hex(t.markers) + ": " + why);
  } else {
    check_markers(space, (names_end + 7) & ~uint64_t{7}, 0, marker_offsets, out, nullptr);
  }

  // Addresses.
  if (t.offsets) {
    const uint64_t base = space.read_value<uint64_t>(t.relative_base);
    std::vector<uint8_t> raw = read_array(space, t.offsets, count, 4, "kallsyms_offsets");
    const auto* offsets = reinterpret_cast<const int32_t*>(raw.data());
    out.absolute_percpu = std::any_of(offsets, offsets + count, [](int32_t o) { return o < 0; });
    for (uint32_t i = 0; i < count; ++i) out.symbols[i].address = symbol_address(offsets[i], base, out.absolute_percpu);
  } else {
    std::vector<uint8_t> raw = read_array(space, t.addresses, count, 8, "kallsyms_addresses");
    for (uint32_t i = 0; i < count; ++i) std::memcpy(&out.symbols[i].address, raw.data() + size_t{i} * 8, 8);
  }
  size_t descents = 0;
  for (uint32_t i = 1; i < count; ++i) descents += out.symbols[i].address < out.symbols[i - 1].address;
  if (descents)
    out.warnings.push_back("kallsyms: " + std::to_string(descents) +
                           " addresses are lower than the one before (the kernel sorts them): the table may be damaged");
  return out;
}

std::map<std::string, uint64_t> lookup_kallsyms(AddressSpace& kernel, const KallsymsTables& t,
                                                const std::vector<std::string>& names) {
  std::map<std::string, uint64_t> found;
  std::set<std::string, std::less<>> wanted(names.begin(), names.end());
  if (wanted.empty()) return found;
  if (!t.offsets && !t.addresses) throw Error("kallsyms: the table addresses are incomplete");

  const uint32_t count = read_count(kernel, t.num_syms);
  const uint64_t relative_base = t.offsets ? kernel.read_value<uint64_t>(t.relative_base) : 0;
  TokenTable tokens;
  tokens.read(kernel, t.token_index, t.token_table);

  // Most of the ~100k entries are not wanted: an entry's expanded length is
  // the sum of its tokens' lengths, so only entries as long as a wanted
  // name (plus the type letter) are expanded and compared.
  std::set<size_t> wanted_lengths;
  for (const std::string& name : wanted) wanted_lengths.insert(name.size() + 1);
  StreamReader stream(kernel, t.names, "kallsyms_names at " + hex(t.names));
  std::vector<uint8_t> entry;
  std::string name;
  for (uint32_t i = 0; i < count && found.size() < wanted.size(); ++i) {
    read_entry(stream, entry);
    size_t expanded = 0;
    for (uint8_t token : entry) expanded += tokens[token].size();
    if (!wanted_lengths.count(expanded)) continue;
    name.clear();
    for (uint8_t token : entry) name += tokens[token];
    std::string_view symbol = std::string_view(name).substr(1);  // drop the type letter
    auto it = wanted.find(symbol);
    if (it == wanted.end() || found.count(*it)) continue;
    uint64_t address;
    if (t.offsets) {
      // A kernel-image symbol: a negative offset under the absolute-per-CPU
      // encoding, a non-negative one otherwise.
      int32_t offset = kernel.read_value<int32_t>(t.offsets + uint64_t{i} * 4);
      address = symbol_address(offset, relative_base, offset < 0);
    } else {
      address = kernel.read_value<uint64_t>(t.addresses + uint64_t{i} * 8);
    }
    found.emplace(*it, address);
  }
  return found;
}

}  // namespace memscope
