// Builds raw BTF blobs byte by byte for tests: well-formed ones to check the
// decoding, and broken ones (by editing the bytes afterwards) to check that
// the parser refuses them cleanly. Types get ids 1, 2, ... in the order they
// are added; next_id() lets a test refer to a type before adding it.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace memscope::test {

class BtfBlobBuilder {
 public:
  struct Member {
    std::string name;
    uint32_t type = 0;
    uint32_t bit_offset = 0;
    uint32_t bitfield_size = 0;
  };

  BtfBlobBuilder() { strings_.push_back('\0'); }

  uint32_t next_id() const { return next_id_; }

  uint32_t str(std::string_view s) {
    if (s.empty()) return 0;
    uint32_t off = static_cast<uint32_t>(strings_.size());
    strings_.insert(strings_.end(), s.begin(), s.end());
    strings_.push_back('\0');
    return off;
  }

  // A raw type record: name offset, kind, vlen, kind_flag, size/type, then
  // the kind-specific words.
  uint32_t raw(uint32_t name_off, uint32_t kind, uint32_t vlen, bool kind_flag, uint32_t size_or_type,
               const std::vector<uint32_t>& extra = {}) {
    words_.push_back(name_off);
    words_.push_back((kind_flag ? 1u << 31 : 0u) | (kind & 0x1f) << 24 | (vlen & 0xffff));
    words_.push_back(size_or_type);
    words_.insert(words_.end(), extra.begin(), extra.end());
    return next_id_++;
  }

  uint32_t int_type(std::string_view name, uint32_t size, uint8_t encoding, uint32_t bits = 0, uint32_t offset = 0) {
    if (bits == 0) bits = size * 8;
    return raw(str(name), 1, 0, false, size, {uint32_t{encoding} << 24 | offset << 16 | bits});
  }
  uint32_t pointer(uint32_t type) { return raw(0, 2, 0, false, type); }
  uint32_t array(uint32_t element, uint32_t index, uint32_t count) { return raw(0, 3, 0, false, 0, {element, index, count}); }
  uint32_t record(std::string_view name, uint32_t size, const std::vector<Member>& members, bool is_union = false) {
    bool kind_flag = false;
    for (const Member& m : members) kind_flag = kind_flag || m.bitfield_size != 0;
    std::vector<uint32_t> extra;
    for (const Member& m : members) {
      extra.push_back(str(m.name));
      extra.push_back(m.type);
      extra.push_back(kind_flag ? (m.bitfield_size << 24 | m.bit_offset) : m.bit_offset);
    }
    return raw(str(name), is_union ? 5 : 4, static_cast<uint32_t>(members.size()), kind_flag, size, extra);
  }
  uint32_t enumeration(std::string_view name, uint32_t size, const std::vector<std::pair<std::string, int32_t>>& values,
                       bool is_signed) {
    std::vector<uint32_t> extra;
    for (const auto& [n, v] : values) {
      extra.push_back(str(n));
      extra.push_back(static_cast<uint32_t>(v));
    }
    return raw(str(name), 6, static_cast<uint32_t>(values.size()), is_signed, size, extra);
  }
  uint32_t enumeration64(std::string_view name, const std::vector<std::pair<std::string, uint64_t>>& values,
                         bool is_signed) {
    std::vector<uint32_t> extra;
    for (const auto& [n, v] : values) {
      extra.push_back(str(n));
      extra.push_back(static_cast<uint32_t>(v));
      extra.push_back(static_cast<uint32_t>(v >> 32));
    }
    return raw(str(name), 19, static_cast<uint32_t>(values.size()), is_signed, 8, extra);
  }
  uint32_t forward(std::string_view name, bool is_union) { return raw(str(name), 7, 0, is_union, 0); }
  uint32_t typedef_of(std::string_view name, uint32_t type) { return raw(str(name), 8, 0, false, type); }
  uint32_t volatile_of(uint32_t type) { return raw(0, 9, 0, false, type); }
  uint32_t const_of(uint32_t type) { return raw(0, 10, 0, false, type); }
  uint32_t restrict_of(uint32_t type) { return raw(0, 11, 0, false, type); }
  uint32_t function(std::string_view name, uint32_t proto, uint32_t linkage = 1) {
    return raw(str(name), 12, linkage, false, proto);
  }
  uint32_t function_proto(uint32_t return_type, const std::vector<std::pair<std::string, uint32_t>>& params) {
    std::vector<uint32_t> extra;
    for (const auto& [n, t] : params) {
      extra.push_back(str(n));
      extra.push_back(t);
    }
    return raw(0, 13, static_cast<uint32_t>(params.size()), false, return_type, extra);
  }
  uint32_t variable(std::string_view name, uint32_t type, uint32_t linkage = 1) {
    return raw(str(name), 14, 0, false, type, {linkage});
  }
  struct SectionVar {
    uint32_t type, offset, size;
  };
  uint32_t data_section(std::string_view name, uint32_t size, const std::vector<SectionVar>& vars) {
    std::vector<uint32_t> extra;
    for (const SectionVar& v : vars) extra.insert(extra.end(), {v.type, v.offset, v.size});
    return raw(str(name), 15, static_cast<uint32_t>(vars.size()), false, size, extra);
  }
  uint32_t floating(std::string_view name, uint32_t size) { return raw(str(name), 16, 0, false, size); }
  uint32_t decl_tag(std::string_view name, uint32_t type, int32_t component) {
    return raw(str(name), 17, 0, false, type, {static_cast<uint32_t>(component)});
  }
  uint32_t type_tag(std::string_view name, uint32_t type) { return raw(str(name), 18, 0, false, type); }

  // The blob: header, type section, string section.
  std::vector<uint8_t> bytes(bool big_endian = false) const {
    std::vector<uint8_t> out;
    auto put16 = [&](uint16_t v) {
      if (big_endian) {
        out.push_back(static_cast<uint8_t>(v >> 8));
        out.push_back(static_cast<uint8_t>(v));
      } else {
        out.push_back(static_cast<uint8_t>(v));
        out.push_back(static_cast<uint8_t>(v >> 8));
      }
    };
    auto put32 = [&](uint32_t v) {
      for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(big_endian ? v >> (24 - 8 * i) : v >> (8 * i)));
    };
    const uint32_t type_len = static_cast<uint32_t>(words_.size() * 4);
    put16(0xeb9f);
    out.push_back(1);  // version
    out.push_back(0);  // flags
    put32(24);         // hdr_len
    put32(0);          // type_off
    put32(type_len);
    put32(type_len);   // str_off
    put32(static_cast<uint32_t>(strings_.size()));
    for (uint32_t w : words_) put32(w);
    out.insert(out.end(), strings_.begin(), strings_.end());
    return out;
  }

  // Offsets inside bytes(), for tests that corrupt a blob.
  static constexpr size_t kHeaderSize = 24;
  size_t string_section_size() const { return strings_.size(); }
  size_t type_section_size() const { return words_.size() * 4; }

 private:
  std::vector<uint32_t> words_;
  std::vector<char> strings_;
  uint32_t next_id_ = 1;
};

inline void put_le32(std::vector<uint8_t>& bytes, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) bytes.at(at + i) = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace memscope::test
