// The profile format (docs/profile-format.md is its specification): the
// header, the table directory and the record layouts that a ProfileBuilder
// writes, a cache file holds and a Profile reads in place. Internal to
// core/types; everyone else goes through Profile.
//
// Little-endian, every table 8-byte aligned. Bump kFormatVersion whenever a
// layout or the meaning of a field changes: an entry of another version is
// refused (and rebuilt from its source by the cache).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/types/profile.h"

namespace memscope::profile_format {

static_assert(std::endian::native == std::endian::little, "the profile format is used in place: little-endian hosts only");

inline constexpr char kMagic[8] = {'M', 'S', 'P', 'R', 'O', 'F', '\r', '\n'};
inline constexpr uint32_t kFormatVersion = 3;  // 3: symbol repeats (SymbolInfo::flags)
inline constexpr uint64_t kAlignment = 8;

// Table ids, also their order in the directory and in the file.
enum TableId : uint32_t {
  kMetadata = 1,       // StringRef[6], see MetadataField
  kStrings,            // the string pool (bytes)
  kTypes,              // TypeInfo, indexed by TypeRef
  kMembers,            // MemberInfo: direct members, grouped by record, layout order
  kMemberLookup,       // MemberInfo: per record sorted by name, anonymous members flattened
  kEnumerators,        // EnumeratorInfo, grouped by enum
  kSymbols,            // SymbolInfo sorted by name (bytewise); a name twice only in repeats (flag 1)
  kSymbolsByAddress,   // SymbolAddressEntry sorted by (address, symbol index)
  kNamedTypes,         // NamedTypeEntry sorted by (name, defined first, namespace rank)
  kSymbolHash,         // SymbolHashSlot[2^k], or none without symbols
  kTableCount = kSymbolHash,
};

enum MetadataField : uint32_t {
  kSourcePath,
  kBanner,
  kOs,
  kProducerName,
  kProducerVersion,
  kIsfFormatVersion,
  kMetadataFieldCount,
};

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t header_size;      // this header and the table directory that follows it
  uint64_t file_size;        // the whole buffer
  uint32_t table_count;      // kTableCount
  uint32_t flags;            // 0
  uint64_t pointer_size;     // 1..8
  // The source file when it was read (FileIdentity); all zero: none.
  uint64_t source_device;
  uint64_t source_inode;
  uint64_t source_size;
  int64_t source_mtime_ns;
  int64_t source_ctime_ns;
  uint64_t reserved;         // 0
  uint64_t header_checksum;  // XXH3-64 of [0, kHeaderSize) with this field zero
};
static_assert(sizeof(Header) == 96);
static_assert(offsetof(Header, header_checksum) == 88);

struct TableEntry {
  uint32_t id;           // TableId
  uint32_t record_size;  // fixed per table (kRecordSize)
  uint64_t offset;       // from the start of the buffer, multiple of 8
  uint64_t length;       // bytes: count * record_size
  uint64_t count;        // records
  uint64_t checksum;     // XXH3-64 of the table's bytes
};
static_assert(sizeof(TableEntry) == 40);

inline constexpr uint64_t kHeaderSize = sizeof(Header) + kTableCount * sizeof(TableEntry);

// Record size of each table, by id (index 0 unused).
inline constexpr uint32_t kRecordSize[kTableCount + 1] = {
    0,
    sizeof(StringRef),
    1,
    sizeof(TypeInfo),
    sizeof(MemberInfo),
    sizeof(MemberInfo),
    sizeof(EnumeratorInfo),
    sizeof(SymbolInfo),
    sizeof(SymbolAddressEntry),
    sizeof(NamedTypeEntry),
    sizeof(SymbolHashSlot),
};

inline constexpr const char* kTableName[kTableCount + 1] = {
    "?", "metadata", "strings", "types", "members", "member lookup", "enumerators", "symbols",
    "symbols by address", "named types", "symbol hash",
};

// The records are the format: pin every field.
static_assert(sizeof(TypeRef) == 4);
static_assert(sizeof(StringRef) == 8 && offsetof(StringRef, length) == 4);
static_assert(sizeof(TypeInfo) == 64);
static_assert(offsetof(TypeInfo, id) == 0 && offsetof(TypeInfo, kind) == 4 && offsetof(TypeInfo, base) == 5 &&
              offsetof(TypeInfo, is_signed) == 6 && offsetof(TypeInfo, defined) == 7 &&
              offsetof(TypeInfo, bit_position) == 8 && offsetof(TypeInfo, bit_length) == 9 &&
              offsetof(TypeInfo, name) == 12 && offsetof(TypeInfo, target) == 20 &&
              offsetof(TypeInfo, members_begin) == 24 && offsetof(TypeInfo, members_end) == 28 &&
              offsetof(TypeInfo, lookup_begin) == 32 && offsetof(TypeInfo, lookup_end) == 36 &&
              offsetof(TypeInfo, enumerators_begin) == 40 && offsetof(TypeInfo, enumerators_end) == 44 &&
              offsetof(TypeInfo, size) == 48 && offsetof(TypeInfo, count) == 56);
static_assert(sizeof(MemberInfo) == 24 && offsetof(MemberInfo, offset) == 8 && offsetof(MemberInfo, type) == 16 &&
              offsetof(MemberInfo, anonymous) == 20);
static_assert(sizeof(EnumeratorInfo) == 16 && offsetof(EnumeratorInfo, value) == 8);
static_assert(sizeof(SymbolInfo) == 24 && offsetof(SymbolInfo, address) == 8 && offsetof(SymbolInfo, type) == 16 &&
              offsetof(SymbolInfo, flags) == 20);
static_assert(sizeof(NamedTypeEntry) == 16 && offsetof(NamedTypeEntry, type) == 8);
static_assert(sizeof(SymbolAddressEntry) == 16 && offsetof(SymbolAddressEntry, symbol) == 8);
static_assert(sizeof(SymbolHashSlot) == 8 && offsetof(SymbolHashSlot, symbol) == 4);

// The hash of a symbol name in kSymbolHash: XXH3-64, seed 0 (stable across
// xxHash versions and hosts).
uint64_t name_hash(std::string_view name);
// The number of slots for `symbols` symbols: 0 for none, else the smallest
// power of two of at least 1.5 times as many (probe sequences stay short).
uint64_t symbol_hash_slots(uint64_t symbols);

// Name namespaces of named types, in the order an unprefixed lookup
// prefers them (the third key of kNamedTypes).
enum Namespace : uint8_t { kUserNamespace = 0, kEnumNamespace = 1, kBaseNamespace = 2, kNoNamespace = 3 };

inline Namespace namespace_of(TypeKind kind) {
  switch (kind) {
    case TypeKind::kStruct:
    case TypeKind::kUnion: return kUserNamespace;
    case TypeKind::kEnum: return kEnumNamespace;
    case TypeKind::kBase: return kBaseNamespace;
    default: return kNoNamespace;
  }
}

// XXH3-64 of the kHeaderSize bytes of a header and its directory, with the
// checksum field taken as zero.
uint64_t header_checksum(const uint8_t* header);
// XXH3-64 of a table's bytes.
uint64_t table_checksum(const uint8_t* bytes, uint64_t length);

}  // namespace memscope::profile_format
