// BTF (BPF Type Format): the compact type information the kernel carries in
// /sys/kernel/btf/vmlinux and in the `.BTF` section of vmlinux. memscope
// reads it to build profiles without DWARF (see isf_from_btf.h), and later to
// analyse images with no profile at all (BTF found in memory).
//
// The format is described in the kernel's Documentation/bpf/btf.rst and
// include/uapi/linux/btf.h. Everything is validated when parsed: every
// offset and count against the blob, every string offset against the string
// section, every type id against the number of types, and every chain of
// pointers/arrays/typedefs/qualifiers is proved finite (no cycles) and
// shallow, so consumers may follow chains recursively without further checks.
// Bad input gets a memscope::FormatError naming the file and offset.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace memscope {

// Values are the BTF_KIND_* numbers, except kVoid: type id 0, which the
// format reserves for `void` and never stores.
enum class BtfKind : uint8_t {
  kVoid = 0,
  kInt = 1,
  kPointer = 2,
  kArray = 3,
  kStruct = 4,
  kUnion = 5,
  kEnum = 6,
  kForward = 7,
  kTypedef = 8,
  kVolatile = 9,
  kConst = 10,
  kRestrict = 11,
  kFunction = 12,
  kFunctionProto = 13,
  kVariable = 14,
  kDataSection = 15,
  kFloat = 16,
  kDeclTag = 17,
  kTypeTag = 18,
  kEnum64 = 19,
};

const char* btf_kind_name(BtfKind kind);
// Kinds whose `type` field leads on to another type (pointer, array,
// typedef, qualifiers, type/decl tags, variables): the links of a chain.
bool btf_is_chain_kind(BtfKind kind);

// BTF_INT_* encoding bits of an integer type.
inline constexpr uint8_t kBtfIntSigned = 1;
inline constexpr uint8_t kBtfIntChar = 2;
inline constexpr uint8_t kBtfIntBool = 4;

struct BtfMember {
  std::string_view name;     // "" for an anonymous struct/union member
  uint32_t type = 0;
  uint32_t bit_offset = 0;   // from the start of the enclosing struct/union
  uint32_t bitfield_size = 0;  // bits; 0 for members that are not bitfields
};

struct BtfEnumerator {
  std::string_view name;
  // The value's bits, sign-extended for signed 32-bit enums and zero-extended
  // for unsigned ones (BTF's kind_flag); ENUM64 values as stored.
  uint64_t bits = 0;
  int64_t as_signed() const { return static_cast<int64_t>(bits); }
};

struct BtfParam {
  std::string_view name;  // may be ""; a last param {"" , 0} marks varargs
  uint32_t type = 0;
};

// One variable of a DATASEC (e.g. a per-CPU variable in .data..percpu).
struct BtfSectionVar {
  uint32_t type = 0;    // a kVariable type
  uint32_t offset = 0;  // within the section
  uint32_t size = 0;
};

// One decoded type. Which fields are meaningful depends on `kind`.
struct BtfType {
  BtfKind kind = BtfKind::kVoid;
  bool kind_flag = false;  // struct/union: members carry bitfield sizes;
                           // forward: union; enum: signed
  std::string_view name;
  // Bytes: kInt, kEnum, kEnum64, kStruct, kUnion, kFloat, kDataSection.
  uint32_t size = 0;
  // Referenced type: kPointer, kTypedef, qualifiers, kTypeTag, kFunction
  // (its prototype), kFunctionProto (return type), kVariable, kDeclTag, and
  // kArray (the element type).
  uint32_t type = 0;
  uint32_t index_type = 0;  // kArray
  uint32_t count = 0;       // kArray: number of elements (0: flexible array)
  uint8_t int_encoding = 0, int_offset = 0, int_bits = 0;  // kInt
  uint32_t linkage = 0;          // kFunction (static/global/extern), kVariable
  int32_t component_index = -1;  // kDeclTag: member/param index or -1
  // Members / enumerators / params / section variables (by kind).
  uint32_t item_count = 0;
  uint32_t first_item = 0;  // index into the Btf's table of that item kind
  uint64_t file_offset = 0;  // where the type record starts, for messages
};

class Btf {
 public:
  // Chains of pointer/array/typedef/qualifier/tag references longer than this
  // are rejected: the kernel's are a handful long, and consumers recurse.
  static constexpr unsigned kMaxChainDepth = 256;

  // Parses raw BTF (the bytes are copied). `source` names the input in
  // errors; `base_offset` is added to offsets in messages (the position of
  // the blob in its file).
  static Btf parse(std::span<const uint8_t> blob, std::string source, uint64_t base_offset = 0);
  // Loads a raw BTF file (/sys/kernel/btf/vmlinux) or the `.BTF` section of
  // an ELF file (vmlinux). Throws FormatError for anything else.
  static Btf load(const std::string& path);

  Btf(Btf&&) noexcept = default;
  Btf& operator=(Btf&&) noexcept = default;
  Btf(const Btf&) = delete;
  Btf& operator=(const Btf&) = delete;

  const std::string& source() const { return source_; }
  bool big_endian() const { return big_endian_; }
  // From the ELF class when loaded from ELF, else from the size of `long`.
  uint32_t pointer_size() const { return pointer_size_; }

  // Number of type ids, including id 0 (void).
  uint32_t type_count() const { return static_cast<uint32_t>(types_.size()); }
  // Throws FormatError for an id out of range.
  const BtfType& type(uint32_t id) const;
  std::span<const BtfType> types() const { return types_; }

  std::span<const BtfMember> members(const BtfType& type) const;          // struct, union
  std::span<const BtfEnumerator> enumerators(const BtfType& type) const;  // enum, enum64
  std::span<const BtfParam> params(const BtfType& type) const;            // function proto
  std::span<const BtfSectionVar> section_vars(const BtfType& type) const; // datasec

  // Follows typedefs, qualifiers and type tags to the type they stand for.
  uint32_t strip_typedefs(uint32_t id) const;
  // Follows qualifiers and type tags only (not typedefs).
  uint32_t strip_qualifiers(uint32_t id) const;
  // The first type of `kind` named `name`, or 0.
  uint32_t find(BtfKind kind, std::string_view name) const;

 private:
  Btf() = default;
  void decode(std::span<const uint8_t> blob, uint64_t base_offset);
  void validate_references() const;
  void validate_chains() const;
  [[noreturn]] void fail(uint64_t offset, const std::string& what) const;

  std::string source_;
  bool big_endian_ = false;
  uint32_t pointer_size_ = 8;
  std::vector<char> strings_;  // the string section; views point into it
  std::vector<BtfType> types_;
  std::vector<BtfMember> members_;
  std::vector<BtfEnumerator> enumerators_;
  std::vector<BtfParam> params_;
  std::vector<BtfSectionVar> section_vars_;
};

}  // namespace memscope
