#include "core/linux/discovery/kallsyms.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <set>

#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope {
namespace {

// Reads a byte stream from an address space in large blocks.
class StreamReader {
 public:
  StreamReader(AddressSpace& space, uint64_t address) : space_(space), next_(address) {}

  uint8_t byte() {
    if (pos_ == buffer_.size()) refill();
    return buffer_[pos_++];
  }

 private:
  void refill() {
    buffer_.resize(kBlock);
    // Do not read past the page the stream ends in more than needed: a
    // strict read that stops at a hole still yields what precedes it.
    IoResult got = space_.read(next_, buffer_.data(), kBlock);
    if (got.done == 0) {
      if (got.fault) throw ReadError(got.fault->address, got.fault->layer, "kallsyms_names: " + got.fault->message());
      throw ReadError(next_, space_.name(), "kallsyms_names: cannot read " + hex(next_));
    }
    buffer_.resize(got.done);
    next_ += got.done;
    pos_ = 0;
  }

  static constexpr size_t kBlock = 64 * 1024;
  AddressSpace& space_;
  uint64_t next_;
  std::vector<uint8_t> buffer_;
  size_t pos_ = 0;
};

}  // namespace

std::optional<KallsymsTables> kallsyms_tables(const VmcoreInfo& v) {
  auto names = v.symbol("kallsyms_names"), num = v.symbol("kallsyms_num_syms"),
       table = v.symbol("kallsyms_token_table"), index = v.symbol("kallsyms_token_index"),
       offsets = v.symbol("kallsyms_offsets"), base = v.symbol("kallsyms_relative_base");
  if (!names || !num || !table || !index || !offsets || !base) return std::nullopt;
  return KallsymsTables{*names, *num, *table, *index, *offsets, *base};
}

std::map<std::string, uint64_t> lookup_kallsyms(AddressSpace& kernel, const KallsymsTables& t,
                                                const std::vector<std::string>& names) {
  std::map<std::string, uint64_t> found;
  std::set<std::string, std::less<>> wanted(names.begin(), names.end());
  if (wanted.empty()) return found;

  uint32_t count = kernel.read_value<uint32_t>(t.num_syms);
  if (count == 0 || count > kMaxKallsyms)
    throw Error("kallsyms: implausible symbol count " + std::to_string(count) + " at " + hex(t.num_syms));
  uint64_t relative_base = kernel.read_value<uint64_t>(t.relative_base);

  // The 256 tokens. The table is small (a few KiB); cap what is read.
  std::array<uint16_t, 256> token_offsets;
  kernel.read_exact(t.token_index, token_offsets.data(), sizeof token_offsets);
  size_t table_size = static_cast<size_t>(*std::max_element(token_offsets.begin(), token_offsets.end())) + 256;
  std::vector<char> table(table_size, '\0');
  IoResult got = kernel.read(t.token_table, table.data(), table.size());
  if (got.done == 0)
    throw ReadError(t.token_table, kernel.name(), "kallsyms: cannot read the token table at " + hex(t.token_table));
  table.resize(got.done);
  table.push_back('\0');  // every token ends within the buffer
  std::array<std::string_view, 256> tokens;
  for (size_t i = 0; i < 256; ++i)
    if (token_offsets[i] < table.size()) tokens[i] = std::string_view(table.data() + token_offsets[i]);

  // Most of the ~100k entries are not wanted: an entry's expanded length is
  // the sum of its tokens' lengths, so only entries as long as a wanted
  // name (plus the type letter) are expanded and compared.
  std::set<size_t> wanted_lengths;
  for (const std::string& name : wanted) wanted_lengths.insert(name.size() + 1);
  StreamReader stream(kernel, t.names);
  std::vector<uint8_t> entry;
  std::string name;
  for (uint32_t i = 0; i < count && found.size() < wanted.size(); ++i) {
    size_t length = stream.byte();
    if (length & 0x80) length = (length & 0x7f) | (size_t{stream.byte()} << 7);  // "big" symbols (6.1+)
    entry.resize(length);
    size_t expanded = 0;
    for (size_t k = 0; k < length; ++k) {
      entry[k] = stream.byte();
      expanded += tokens[entry[k]].size();
    }
    if (!wanted_lengths.count(expanded)) continue;
    name.clear();
    for (uint8_t token : entry) name += tokens[token];
    std::string_view symbol = std::string_view(name).substr(1);  // drop the type letter
    auto it = wanted.find(symbol);
    if (it == wanted.end() || found.count(*it)) continue;
    int32_t offset = kernel.read_value<int32_t>(t.offsets + uint64_t{i} * 4);
    uint64_t address = offset < 0 ? relative_base - 1 - static_cast<uint64_t>(static_cast<int64_t>(offset))
                                  : relative_base + static_cast<uint64_t>(offset);
    found.emplace(*it, address);
  }
  return found;
}

}  // namespace memscope
