// The kernel profile: types, field offsets and symbols of one kernel build.
//
// A Profile is source-independent: the ISF loader fills it today, a BTF +
// System.map generator or a kallsyms-from-memory source can fill it through
// the same ProfileBuilder tomorrow. Once built it is immutable and shared
// (std::shared_ptr<const Profile>), so every lookup is const and
// thread-safe.
//
// Storage is flat: one string pool, and vectors of small records that refer
// to each other by index. Names are std::string_views into the pool (valid
// as long as the Profile lives). Lookups by name are binary searches over
// sorted tables, which need no rebuilding when a profile is read back from
// the binary cache.
#pragma once

#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace memscope {

// Index of a type inside one Profile. Small, copyable, meaningless across
// profiles. A default-constructed TypeRef refers to no type.
struct TypeRef {
  static constexpr uint32_t kNone = 0xffffffffu;
  uint32_t id = kNone;
  constexpr TypeRef() = default;
  constexpr explicit TypeRef(uint32_t value) : id(value) {}
  constexpr bool valid() const { return id != kNone; }
  constexpr explicit operator bool() const { return valid(); }
  constexpr auto operator<=>(const TypeRef&) const = default;
};

enum class TypeKind : uint8_t {
  kBase,      // int, char, bool, float or void (see BaseKind)
  kPointer,   // target: the pointed-to type
  kArray,     // target: the element type; count: number of elements
  kStruct,    // members; also ISF's "class"
  kUnion,     // members, all overlapping
  kEnum,      // target: the underlying base type; enumerators
  kFunction,  // only ever pointed to
  kBitfield,  // target: the underlying int or enum; bit_position, bit_length
};

enum class BaseKind : uint8_t { kInt, kChar, kBool, kFloat, kVoid };

const char* type_kind_name(TypeKind kind);

struct TypeInfo {
  TypeRef id;                    // this type's own reference
  TypeKind kind = TypeKind::kBase;
  BaseKind base = BaseKind::kInt;  // meaningful for kBase only
  bool is_signed = false;        // kBase; for enums and bitfields see Profile::is_signed
  bool defined = false;          // false: only referred to by name, never defined
  uint8_t bit_position = 0;      // kBitfield: lowest bit, counted from `offset`
  uint8_t bit_length = 0;        // kBitfield: width in bits (1..64)
  std::string_view name;         // named types; "" for pointers, arrays, ...
  uint64_t size = 0;             // bytes (pointer size, count * element, ...)
  uint64_t count = 0;            // kArray: number of elements (0: flexible)
  TypeRef target;                // see TypeKind
  // Ranges in the profile's tables (see Profile::members / enumerators).
  uint32_t members_begin = 0, members_end = 0;
  uint32_t lookup_begin = 0, lookup_end = 0;
  uint32_t enumerators_begin = 0, enumerators_end = 0;

  bool is_record() const { return kind == TypeKind::kStruct || kind == TypeKind::kUnion; }
  bool is_pointer() const { return kind == TypeKind::kPointer; }
  bool is_array() const { return kind == TypeKind::kArray; }
  bool is_void() const { return kind == TypeKind::kBase && base == BaseKind::kVoid; }
};

struct MemberInfo {
  std::string_view name;
  uint64_t offset = 0;   // bytes from the start of the outer struct
  TypeRef type;
  bool anonymous = false;  // an unnamed struct/union member (its members are
                           // reachable by their own names)
};

struct EnumeratorInfo {
  std::string_view name;
  int64_t value = 0;  // enumerators above INT64_MAX keep their bit pattern
};

struct SymbolInfo {
  std::string_view name;
  uint64_t address = 0;  // link-time address (before any KASLR slide)
  TypeRef type;          // may be invalid: not every symbol has a type
};

// A member resolved once and reused on many objects: plugins walking
// thousands of tasks resolve `task_struct.pid` once instead of searching by
// name on every task.
struct FieldRef {
  TypeRef owner;        // the struct/union it belongs to
  TypeRef type;         // the field's type
  uint64_t offset = 0;  // accumulated through anonymous and embedded members
};

struct ProfileMetadata {
  std::string source_path;       // the file (or source description) it came from
  std::string banner;            // linux_banner, without trailing newline/NULs
  std::string os;                // "linux", "windows", "mac" or ""
  std::string producer_name;     // e.g. "dwarf2json"
  std::string producer_version;
  std::string format_version;    // e.g. ISF "6.2.0"
};

class Profile {
 public:
  Profile(const Profile&) = delete;
  Profile& operator=(const Profile&) = delete;

  const ProfileMetadata& metadata() const { return metadata_; }
  const std::string& source() const { return metadata_.source_path; }
  const std::string& banner() const { return metadata_.banner; }
  uint64_t pointer_size() const { return pointer_size_; }

  // --- Types ---------------------------------------------------------
  // The type a reference names; throws ProfileError for an invalid ref.
  const TypeInfo& type(TypeRef ref) const;
  // A defined type by name, or nullptr. Accepts "task_struct",
  // "struct task_struct", "union x", "enum pid_type", "unsigned int".
  // Without a prefix, structs/unions win over enums, enums over base types.
  const TypeInfo* find_type(std::string_view name) const;
  // Same, throwing ProfileError "profile <path>: no type 'x'".
  const TypeInfo& require_type(std::string_view name) const;
  uint64_t size_of(std::string_view type_name) const { return require_type(type_name).size; }
  // C-like spelling: "struct list_head *", "char [16]", "unsigned int :3".
  std::string type_name(TypeRef ref) const;
  // Signedness of integers, enums (their base) and bitfields (their base).
  bool is_signed(const TypeInfo& type) const;
  std::span<const TypeInfo> types() const { return types_; }

  // --- Members -------------------------------------------------------
  // A member of a struct/union by name, also through anonymous members (the
  // offset is then accumulated). nullptr when absent or `record` is not a
  // struct/union. No allocation: safe for hot paths.
  const MemberInfo* find_member(const TypeInfo& record, std::string_view name) const;
  const MemberInfo& require_member(const TypeInfo& record, std::string_view name) const;
  // Direct members in layout order (anonymous members appear once, as such).
  std::span<const MemberInfo> members(const TypeInfo& record) const;
  bool has_member(std::string_view type_name, std::string_view member) const;
  // `path` may name members of embedded (by-value) structs: "thread.sp".
  uint64_t offset_of(std::string_view type_name, std::string_view path) const;
  FieldRef field(std::string_view type_name, std::string_view path) const;
  FieldRef field(const TypeInfo& record, std::string_view path) const;

  // --- Enums ---------------------------------------------------------
  std::span<const EnumeratorInfo> enumerators(const TypeInfo& enum_type) const;
  std::optional<int64_t> enum_constant(std::string_view enum_name, std::string_view constant) const;
  std::optional<std::string_view> enumerator_name(const TypeInfo& enum_type, int64_t value) const;

  // --- Symbols -------------------------------------------------------
  const SymbolInfo* find_symbol(std::string_view name) const;
  std::optional<uint64_t> symbol(std::string_view name) const;
  uint64_t require_symbol(std::string_view name) const;
  std::span<const SymbolInfo> symbols() const { return symbols_; }

  // Totals, for messages, tests and cache validation.
  size_t member_count() const { return members_.size(); }
  size_t enumerator_count() const { return enumerators_.size(); }

  // Throws ProfileError "profile <source>: <what>".
  [[noreturn]] void fail(const std::string& what) const;

 private:
  friend class ProfileBuilder;
  friend class ProfileCodec;
  Profile() = default;

  ProfileMetadata metadata_;
  uint64_t pointer_size_ = 8;
  std::string strings_;                   // the pool every string_view points into
  std::vector<TypeInfo> types_;
  std::vector<MemberInfo> members_;       // direct members, grouped by record, layout order
  std::vector<MemberInfo> lookup_;        // per record: sorted by name, flattened
  std::vector<EnumeratorInfo> enumerators_;
  std::vector<SymbolInfo> symbols_;       // sorted by name
  std::vector<TypeRef> named_types_;      // sorted by (name, namespace rank)
};

// Builds a Profile from any source. Named types (base, struct/union, enum)
// are referred to by name before or after they are defined; derived types
// (pointers, arrays, bitfields) are interned so each exists once.
class ProfileBuilder {
 public:
  explicit ProfileBuilder(std::string source_path);
  ~ProfileBuilder();
  ProfileBuilder(const ProfileBuilder&) = delete;
  ProfileBuilder& operator=(const ProfileBuilder&) = delete;

  ProfileMetadata& metadata();

  // The type named `name` in the namespace of `kind` (kBase; kStruct or
  // kUnion share one namespace; kEnum), created undefined on first use.
  TypeRef named(TypeKind kind, std::string_view name);
  void define_base(TypeRef type, uint64_t size, BaseKind base, bool is_signed);
  // kind: kStruct or kUnion. Members may be added before or after.
  void define_record(TypeRef type, TypeKind kind, uint64_t size);
  void add_member(TypeRef record, std::string_view name, uint64_t offset, TypeRef type, bool anonymous);
  void define_enum(TypeRef type, uint64_t size, TypeRef base);
  void add_enumerator(TypeRef enum_type, std::string_view name, int64_t value);

  TypeRef pointer_to(TypeRef target);
  TypeRef array_of(TypeRef element, uint64_t count);
  TypeRef bitfield(TypeRef underlying, unsigned bit_position, unsigned bit_length);
  TypeRef function();
  // Size of every pointer (default 8).
  void set_pointer_size(uint64_t size);

  void add_symbol(std::string_view name, uint64_t address, TypeRef type = TypeRef());

  size_t type_count() const;
  size_t symbol_count() const;

  // Sorts, computes derived sizes, flattens anonymous members. The builder
  // is spent afterwards. Throws ProfileError on inconsistent input (array
  // sizes overflowing 64 bits, bitfields wider than their base, ...).
  std::shared_ptr<const Profile> finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace memscope
