// Pieces shared by the kallsyms reader and the structure search
// (kallsyms.cpp, kallsyms_locate.cpp): the token table, a buffered reader
// of the names stream, one entry, the address encodings. Not a public API.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/layers/address_space.h"

namespace memscope::kallsyms_detail {

// The 256 tokens, checked: the index starts at 0 and increases, each token
// is printable and NUL-terminated exactly where the next one starts.
class TokenTable {
 public:
  // Longest token read after the last one's offset.
  static constexpr size_t kMaxToken = 256;
  // Throws ReadError / Error naming the table's address.
  void read(AddressSpace& space, uint64_t index_address, uint64_t table_address);
  std::string_view operator[](uint8_t token) const { return tokens_[token]; }
  // First address after the table's last token.
  uint64_t end() const { return end_; }

 private:
  std::vector<char> bytes_;
  std::array<std::string_view, 256> tokens_{};
  uint64_t end_ = 0;
};

// Reads a byte stream from an address space in large blocks. A block that
// ends at a hole still yields what precedes it.
class StreamReader {
 public:
  StreamReader(AddressSpace& space, uint64_t address, std::string what);
  uint8_t byte() {
    if (pos_ == buffer_.size()) refill();
    return buffer_[pos_++];
  }
  // Bytes handed out so far.
  uint64_t consumed() const { return next_ - start_ - (buffer_.size() - pos_); }

 private:
  void refill();
  static constexpr size_t kBlock = 64 * 1024;
  AddressSpace& space_;
  uint64_t start_, next_;
  std::string what_;
  std::vector<uint8_t> buffer_;
  size_t pos_ = 0;
};

// One entry of kallsyms_names into `entry` (its token indices); returns its
// length.
size_t read_entry(StreamReader& stream, std::vector<uint8_t>& entry);

// kallsyms_num_syms, checked against kMaxKallsyms.
uint32_t read_count(AddressSpace& space, uint64_t address);

// A symbol's address from its kallsyms_offsets entry (see kallsyms.h).
uint64_t symbol_address(int32_t offset, uint64_t relative_base, bool absolute_percpu);

}  // namespace memscope::kallsyms_detail
