// The kernel profile: types, field offsets and symbols of one kernel build.
//
// A Profile is source-independent: the ISF loader fills it today, a BTF +
// System.map generator or a kallsyms-from-memory source can fill it through
// the same ProfileBuilder tomorrow. Once built it is immutable and shared
// (std::shared_ptr<const Profile>), so every lookup is const and
// thread-safe.
//
// A Profile is a view over one contiguous buffer in the profile format
// (docs/profile-format.md): the builder serializes into a heap buffer, the
// binary cache writes that buffer to disk as it is, and a cached profile is
// the cache file mapped read-only and used where it lies. Nothing is
// decoded when a profile is opened: lookups are binary searches over the
// sorted tables of the buffer (and a hash table for symbol names), and the
// records below are the format's own records, so they hold indices (into
// the string pool and the other tables), never pointers. Names are
// therefore read through the profile: profile.name(type),
// profile.name(member), ...
//
// The buffer may come from a file someone else wrote: every lookup checks
// the indices and offsets it follows, and a record that points outside its
// tables is a FormatError naming the file and the offset, never a read out
// of bounds. verify() checks everything at once (checksums included).
#pragma once

#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/file_identity.h"

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

// A string in the profile's pool: read it with Profile::name(), which
// checks that it lies inside the pool.
struct StringRef {
  uint32_t offset = 0;
  uint32_t length = 0;
  bool empty() const { return length == 0; }
};

// The records below are laid out exactly as in the format (fixed widths,
// little-endian, no pointers); core/types/profile_format.h pins every
// offset. Flags are bytes, not bools: a forged file may hold any value.
struct TypeInfo {
  TypeRef id;                      // this type's own reference
  TypeKind kind = TypeKind::kBase;
  BaseKind base = BaseKind::kInt;  // meaningful for kBase only
  uint8_t is_signed = 0;           // kBase; for enums and bitfields see Profile::is_signed
  uint8_t defined = 0;             // 0: only referred to by name, never defined
  uint8_t bit_position = 0;        // kBitfield: lowest bit, counted from `offset`
  uint8_t bit_length = 0;          // kBitfield: width in bits (1..64)
  uint8_t reserved[2] = {};
  StringRef name;                  // named types; empty for pointers, arrays, ... (Profile::name)
  TypeRef target;                  // see TypeKind
  // Ranges in the profile's tables (see Profile::members / enumerators).
  uint32_t members_begin = 0, members_end = 0;
  uint32_t lookup_begin = 0, lookup_end = 0;
  uint32_t enumerators_begin = 0, enumerators_end = 0;
  uint64_t size = 0;               // bytes (pointer size, count * element, ...)
  uint64_t count = 0;              // kArray: number of elements (0: flexible)

  bool is_record() const { return kind == TypeKind::kStruct || kind == TypeKind::kUnion; }
  bool is_pointer() const { return kind == TypeKind::kPointer; }
  bool is_array() const { return kind == TypeKind::kArray; }
  bool is_void() const { return kind == TypeKind::kBase && base == BaseKind::kVoid; }
};

struct MemberInfo {
  StringRef name;          // empty for an anonymous member (Profile::name)
  uint64_t offset = 0;     // bytes from the start of the outer struct
  TypeRef type;
  uint8_t anonymous = 0;   // an unnamed struct/union member (its members are
                           // reachable by their own names)
  uint8_t reserved[3] = {};
};

struct EnumeratorInfo {
  StringRef name;
  int64_t value = 0;  // enumerators above INT64_MAX keep their bit pattern
};

struct SymbolInfo {
  // flags: a repeat is one more address of the name the symbol before it
  // has. System.map lists a static symbol once per file defining one of
  // that name (a function `watchdog` and a variable `watchdog`); the name
  // finds one address (find_symbol: the one the source gave last, as
  // dwarf2json keeps), and every address is found by address
  // (nearest_symbol), so that a pointer into either is named.
  static constexpr uint32_t kRepeat = 1;

  StringRef name;
  uint64_t address = 0;  // link-time address (before any KASLR slide)
  TypeRef type;          // may be invalid: not every symbol has a type
  uint32_t flags = 0;

  bool repeat() const { return (flags & kRepeat) != 0; }
};

// The index of named types: sorted by (name, defined first, namespace),
// with the name beside the id so that a search reads this table only.
struct NamedTypeEntry {
  StringRef name;
  TypeRef type;
  uint32_t reserved = 0;
};

// The index of symbols by address: sorted by (address, symbol), with the
// address beside the symbol's index so that a search reads this table only.
struct SymbolAddressEntry {
  uint64_t address = 0;
  uint32_t symbol = 0;  // index into Profile::symbols()
  uint32_t reserved = 0;
};

// A slot of the hash index of symbol names: open addressing, linear
// probing from the slot the name's XXH3-64 hash selects.
struct SymbolHashSlot {
  uint32_t tag = 0;     // the hash's high 32 bits
  uint32_t symbol = 0;  // index into Profile::symbols() + 1; 0: an empty slot
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
  // The profile held in `bytes` (the format of docs/profile-format.md),
  // which `owner` keeps alive: a mapped cache file or a heap buffer. Only
  // the header and the table directory are checked (magic, version, sizes,
  // every table inside the buffer, the header's checksum): no table is
  // read, so opening costs the same whatever the profile's size. Throws
  // FormatError naming `origin` (the file's path) and what is wrong.
  static std::shared_ptr<const Profile> open(std::shared_ptr<const void> owner, std::span<const uint8_t> bytes,
                                             std::string origin);

  // True when `first_bytes` start with the format's magic (8 bytes).
  static bool has_magic(std::span<const uint8_t> first_bytes);
  // The format version written in a buffer that has the magic (nullopt
  // without), and the version this build reads: an entry of another
  // version is not damaged, only from another memscope.
  static std::optional<uint32_t> format_version_of(std::span<const uint8_t> first_bytes);
  static uint32_t format_version();

  Profile(const Profile&) = delete;
  Profile& operator=(const Profile&) = delete;
  ~Profile();

  // The whole profile in its format: what a cache file holds.
  std::span<const uint8_t> bytes() const { return {base_, size_}; }
  // Where the bytes come from, for messages: the cache file's path, or the
  // source's for a profile built in memory.
  const std::string& origin() const { return origin_; }
  // The source file the profile was made from, as it was when it was read
  // (all zero for a profile made from memory).
  const FileIdentity& source_identity() const { return source_identity_; }
  // Everything open() leaves out: every table's checksum, every reference,
  // range and name, the sort order the lookups rely on, no type that
  // contains itself. Reads the whole buffer; throws FormatError naming
  // origin() and the table and record at fault.
  void verify() const;

  const ProfileMetadata& metadata() const { return metadata_; }
  const std::string& source() const { return metadata_.source_path; }
  const std::string& banner() const { return metadata_.banner; }
  uint64_t pointer_size() const { return pointer_size_; }

  // --- Names -----------------------------------------------------------
  // Views into the buffer (valid while the Profile lives). A name outside
  // the string pool is a FormatError.
  std::string_view name(StringRef ref) const { return pool_string(ref, nullptr); }
  std::string_view name(const TypeInfo& type) const { return pool_string(type.name, &type); }
  std::string_view name(const MemberInfo& member) const { return pool_string(member.name, &member); }
  std::string_view name(const EnumeratorInfo& enumerator) const { return pool_string(enumerator.name, &enumerator); }
  std::string_view name(const SymbolInfo& symbol) const { return pool_string(symbol.name, &symbol); }

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
  // Every record as stored: prefer type(), which checks what it returns.
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
  // The symbol with the highest address at or below `address` (link-time,
  // before any KASLR slide): "which symbol does this pointer fall in".
  // Of several symbols at that address, the first by name. nullptr when
  // every symbol lies above `address`. Symbols have no sizes, so the answer
  // may be a symbol that ends before `address`: callers bound the distance.
  const SymbolInfo* nearest_symbol(uint64_t address) const;
  // Sorted by name; a name's repeats (SymbolInfo::repeat) follow it. Code
  // that wants one entry per name skips the repeats.
  std::span<const SymbolInfo> symbols() const { return symbols_; }

  // Totals, for messages and tests.
  size_t member_count() const { return members_.size(); }
  size_t enumerator_count() const { return enumerators_.size(); }

  // Throws ProfileError "profile <source>: <what>".
  [[noreturn]] void fail(const std::string& what) const;

 private:
  Profile() = default;
  // A record that lies: FormatError "<origin>: corrupt profile: <what> (at
  // file offset 0x...)", `where` being the record inside the buffer.
  [[noreturn]] void corrupt(const void* where, const std::string& what) const;
  // A string of the pool; `holder` is the record that refers to it (named
  // in the error when the string lies outside the pool).
  std::string_view pool_string(StringRef ref, const void* holder) const {
    if (ref.offset > pool_.size() || ref.length > pool_.size() - ref.offset) bad_name(ref, holder);
    return std::string_view(pool_.data() + ref.offset, ref.length);
  }
  [[noreturn]] void bad_name(StringRef ref, const void* holder) const;
  // The type record at `index` of the type table, checked: its own id,
  // kind, bitfield geometry, target and ranges.
  const TypeInfo& type_at(uint32_t index) const;
  // The range [begin, end) of a table, checked against its size.
  template <typename T>
  std::span<const T> range(std::span<const T> table, uint32_t begin, uint32_t end, const void* owner,
                           const char* what) const;
  void verify_types() const;
  // The first entry of the named-type index whose name is not below `name`.
  const NamedTypeEntry* first_named(std::string_view name) const;
  void verify_tables() const;

  std::shared_ptr<const void> owner_;  // keeps the buffer alive
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  std::string origin_;
  FileIdentity source_identity_;
  ProfileMetadata metadata_;
  uint64_t pointer_size_ = 8;
  std::string_view pool_;                     // the string pool
  std::span<const TypeInfo> types_;
  std::span<const MemberInfo> members_;       // direct members, grouped by record, layout order
  std::span<const MemberInfo> lookup_;        // per record: sorted by name, flattened
  std::span<const EnumeratorInfo> enumerators_;
  std::span<const SymbolInfo> symbols_;       // sorted by name
  std::span<const SymbolAddressEntry> symbols_by_address_;  // by (address, symbol index)
  std::span<const NamedTypeEntry> named_types_;  // by (name, defined first, namespace)
  std::span<const SymbolHashSlot> symbol_hash_;  // a power of two of slots, or none
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
  // The source file as it was when it was read (taken before reading it,
  // so that a change during the read makes the record stale, not wrong).
  void set_source_identity(const FileIdentity& identity);
  // Load-time checks, for sources of real profiles (the ISF loader, BTF):
  // finish() then refuses, naming the field or symbol, what a truthful
  // source never gives, instead of building a profile that reads wrong
  // values: a member (or a bitfield's bits) outside its struct or union, a
  // member whose type (or whose array's element type) the profile does not
  // define (a pointer to one is fine: an opaque pointer), a symbol given
  // twice at two addresses.
  void check_consistency();

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
  // Another address of a name add_symbol gives (or gave): found by address
  // only (SymbolInfo::repeat). An address equal to the name's own is
  // dropped; a name never given to add_symbol takes the lowest of its
  // repeats' addresses as its own.
  void add_symbol_repeat(std::string_view name, uint64_t address);

  size_t type_count() const;
  size_t symbol_count() const;

  // Sorts, computes derived sizes, flattens anonymous members and writes
  // the profile format into one heap buffer, which the Profile views. The
  // builder is spent afterwards. Throws ProfileError naming what is wrong
  // on inconsistent input (array sizes overflowing 64 bits, bitfields
  // wider than their base, and with check_consistency() what it checks).
  std::shared_ptr<const Profile> finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace memscope
