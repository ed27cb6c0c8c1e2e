// Profile: opening a buffer in the profile format (header checks only) and
// the lookups, which read the tables in place and check every index and
// offset they follow.
#include "core/types/profile.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "core/types/profile_format.h"
#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope {

namespace pf = profile_format;

namespace {

// Splits "struct foo" into (kUserNamespace, "foo"); no prefix gives kNoNamespace.
std::pair<pf::Namespace, std::string_view> split_prefix(std::string_view name) {
  static constexpr std::pair<std::string_view, pf::Namespace> kPrefixes[] = {
      {"struct ", pf::kUserNamespace}, {"union ", pf::kUserNamespace}, {"class ", pf::kUserNamespace},
      {"enum ", pf::kEnumNamespace}};
  for (auto [prefix, ns] : kPrefixes)
    if (name.starts_with(prefix)) return {ns, name.substr(prefix.size())};
  return {pf::kNoNamespace, name};
}

template <typename T>
std::span<const T> table_span(const uint8_t* base, const pf::TableEntry& entry) {
  return std::span<const T>(reinterpret_cast<const T*>(base + entry.offset), size_t(entry.count));
}

}  // namespace

namespace profile_format {

uint64_t header_checksum(const uint8_t* header) {
  // A copy with the checksum field zero: the header is a few hundred bytes.
  uint8_t copy[kHeaderSize];
  std::memcpy(copy, header, kHeaderSize);
  std::memset(copy + offsetof(Header, header_checksum), 0, sizeof(uint64_t));
  return XXH3_64bits(copy, kHeaderSize);
}

uint64_t table_checksum(const uint8_t* bytes, uint64_t length) { return XXH3_64bits(bytes, size_t(length)); }

uint64_t name_hash(std::string_view name) { return XXH3_64bits(name.data(), name.size()); }

uint64_t symbol_hash_slots(uint64_t symbols) {
  if (symbols == 0) return 0;
  uint64_t slots = 8;
  while (slots < symbols + symbols / 2) slots *= 2;
  return slots;
}

}  // namespace profile_format

const char* type_kind_name(TypeKind kind) {
  switch (kind) {
    case TypeKind::kBase: return "base";
    case TypeKind::kPointer: return "pointer";
    case TypeKind::kArray: return "array";
    case TypeKind::kStruct: return "struct";
    case TypeKind::kUnion: return "union";
    case TypeKind::kEnum: return "enum";
    case TypeKind::kFunction: return "function";
    case TypeKind::kBitfield: return "bitfield";
  }
  return "?";
}

// ---------------------------------------------------------------------------
// Opening: the header and the directory, nothing else

std::shared_ptr<const Profile> Profile::open(std::shared_ptr<const void> owner, std::span<const uint8_t> bytes,
                                             std::string origin) {
  auto refuse = [&](const std::string& what) -> void {
    throw FormatError(origin + ": not a usable profile: " + what);
  };
  // Records are read in place: the buffer must be aligned as they are.
  if (reinterpret_cast<uintptr_t>(bytes.data()) % pf::kAlignment)
    refuse("buffer not aligned to " + std::to_string(pf::kAlignment) + " bytes");
  if (bytes.size() < sizeof(pf::Header))
    refuse("shorter (" + std::to_string(bytes.size()) + " bytes) than a profile header");
  pf::Header header;
  std::memcpy(&header, bytes.data(), sizeof header);
  if (std::memcmp(header.magic, pf::kMagic, sizeof pf::kMagic) != 0) refuse("no profile magic at offset 0");
  if (header.version != pf::kFormatVersion)
    refuse("format version " + std::to_string(header.version) + " (this memscope reads version " +
           std::to_string(pf::kFormatVersion) + ")");
  if (header.file_size != bytes.size())
    refuse("header says " + std::to_string(header.file_size) + " bytes, the file has " +
           std::to_string(bytes.size()) + " (truncated or padded)");
  if (header.table_count != pf::kTableCount || header.header_size != pf::kHeaderSize)
    refuse("header at offset 0 announces " + std::to_string(header.table_count) + " tables in " +
           std::to_string(header.header_size) + " bytes (expected " + std::to_string(pf::kTableCount) + " in " +
           std::to_string(pf::kHeaderSize) + ")");
  if (bytes.size() < pf::kHeaderSize) refuse("truncated inside the table directory");
  if (pf::header_checksum(bytes.data()) != header.header_checksum)
    refuse("header checksum mismatch (offset " + hex(offsetof(pf::Header, header_checksum)) + ")");
  if (header.flags != 0 || header.reserved != 0) refuse("unknown flags in the header");
  if (header.pointer_size == 0 || header.pointer_size > 8)
    refuse("pointer size " + std::to_string(header.pointer_size));

  pf::TableEntry tables[pf::kTableCount + 1] = {};
  for (uint32_t i = 0; i < pf::kTableCount; ++i) {
    uint64_t at = sizeof(pf::Header) + uint64_t(i) * sizeof(pf::TableEntry);
    pf::TableEntry entry;
    std::memcpy(&entry, bytes.data() + at, sizeof entry);
    std::string where = "table directory entry " + std::to_string(i + 1) + " (offset " + hex(at) + ")";
    if (entry.id != i + 1) refuse(where + ": table id " + std::to_string(entry.id) + ", expected " + std::to_string(i + 1));
    const char* table = pf::kTableName[entry.id];
    if (entry.record_size != pf::kRecordSize[entry.id])
      refuse(where + ": " + table + " records of " + std::to_string(entry.record_size) + " bytes, expected " +
             std::to_string(pf::kRecordSize[entry.id]));
    if (entry.offset % pf::kAlignment || entry.offset < pf::kHeaderSize || entry.offset > bytes.size() ||
        entry.length > bytes.size() - entry.offset)
      refuse(where + ": " + table + " table [" + hex(entry.offset) + ", +" + hex(entry.length) +
             ") lies outside the file (" + hex(bytes.size()) + " bytes) or is misaligned");
    if (entry.count > entry.length / entry.record_size || entry.count * entry.record_size != entry.length)
      refuse(where + ": " + table + " table of " + std::to_string(entry.length) + " bytes cannot hold " +
             std::to_string(entry.count) + " records of " + std::to_string(entry.record_size) + " bytes");
    // Indices are 32-bit: a table they cannot address is a lie.
    if (entry.id != pf::kStrings && entry.count > 0xffffffffull) refuse(where + ": too many records");
    if (entry.id == pf::kStrings && entry.count > 0xffffffffull) refuse(where + ": string pool above 4 GiB");
    tables[entry.id] = entry;
  }
  if (tables[pf::kMetadata].count != pf::kMetadataFieldCount)
    refuse("metadata table has " + std::to_string(tables[pf::kMetadata].count) + " fields, expected " +
           std::to_string(pf::kMetadataFieldCount));

  std::shared_ptr<Profile> profile(new Profile());
  Profile& p = *profile;
  p.owner_ = std::move(owner);
  p.base_ = bytes.data();
  p.size_ = bytes.size();
  p.origin_ = origin;
  p.pointer_size_ = header.pointer_size;
  p.source_identity_ = FileIdentity{header.source_device, header.source_inode, header.source_size,
                                    header.source_mtime_ns, header.source_ctime_ns};
  p.pool_ = std::string_view(reinterpret_cast<const char*>(p.base_ + tables[pf::kStrings].offset),
                             size_t(tables[pf::kStrings].length));
  p.types_ = table_span<TypeInfo>(p.base_, tables[pf::kTypes]);
  p.members_ = table_span<MemberInfo>(p.base_, tables[pf::kMembers]);
  p.lookup_ = table_span<MemberInfo>(p.base_, tables[pf::kMemberLookup]);
  p.enumerators_ = table_span<EnumeratorInfo>(p.base_, tables[pf::kEnumerators]);
  p.symbols_ = table_span<SymbolInfo>(p.base_, tables[pf::kSymbols]);
  p.symbols_by_address_ = table_span<SymbolAddressEntry>(p.base_, tables[pf::kSymbolsByAddress]);
  p.named_types_ = table_span<NamedTypeEntry>(p.base_, tables[pf::kNamedTypes]);
  p.symbol_hash_ = table_span<SymbolHashSlot>(p.base_, tables[pf::kSymbolHash]);
  // A power of two (the probe wraps with a mask) with room for every symbol.
  const size_t slots = p.symbol_hash_.size();
  if ((slots & (slots - 1)) != 0 || slots < p.symbols_.size() || (slots == 0) != p.symbols_.empty())
    refuse("symbol hash of " + std::to_string(slots) + " slots for " + std::to_string(p.symbols_.size()) +
           " symbols");
  if (p.symbols_by_address_.size() != p.symbols_.size())
    refuse("symbols-by-address table has " + std::to_string(p.symbols_by_address_.size()) + " entries for " +
           std::to_string(p.symbols_.size()) + " symbols");

  // The metadata: six short strings, copied (callers keep references).
  auto fields = table_span<StringRef>(p.base_, tables[pf::kMetadata]);
  std::string* targets[pf::kMetadataFieldCount] = {&p.metadata_.source_path,      &p.metadata_.banner,
                                                   &p.metadata_.os,               &p.metadata_.producer_name,
                                                   &p.metadata_.producer_version, &p.metadata_.format_version};
  for (uint32_t i = 0; i < pf::kMetadataFieldCount; ++i) *targets[i] = std::string(p.pool_string(fields[i], &fields[i]));
  return profile;
}

Profile::~Profile() = default;

std::optional<uint32_t> Profile::format_version_of(std::span<const uint8_t> first_bytes) {
  if (first_bytes.size() < offsetof(pf::Header, version) + sizeof(uint32_t) || !has_magic(first_bytes))
    return std::nullopt;
  uint32_t version;
  std::memcpy(&version, first_bytes.data() + offsetof(pf::Header, version), sizeof version);
  return version;
}

uint32_t Profile::format_version() { return pf::kFormatVersion; }

bool Profile::has_magic(std::span<const uint8_t> first_bytes) {
  return first_bytes.size() >= sizeof pf::kMagic && std::memcmp(first_bytes.data(), pf::kMagic, sizeof pf::kMagic) == 0;
}

// ---------------------------------------------------------------------------
// Checked access to the tables

void Profile::fail(const std::string& what) const {
  throw ProfileError("profile " + metadata_.source_path + ": " + what);
}

void Profile::corrupt(const void* where, const std::string& what) const {
  std::string at;
  auto address = reinterpret_cast<uintptr_t>(where);
  auto base = reinterpret_cast<uintptr_t>(base_);
  if (where && address >= base && address < base + size_) at = " (at file offset " + hex(address - base) + ")";
  throw FormatError(origin_ + ": corrupt profile: " + what + at);
}

void Profile::bad_name(StringRef ref, const void* holder) const {
  corrupt(holder, "a name [" + std::to_string(ref.offset) + ", +" + std::to_string(ref.length) +
                      ") lies outside the string pool of " + std::to_string(pool_.size()) + " bytes");
}

const TypeInfo& Profile::type_at(uint32_t index) const {
  if (index >= types_.size())
    corrupt(nullptr, "type index " + std::to_string(index) + " out of range (" + std::to_string(types_.size()) +
                         " types)");
  const TypeInfo& t = types_[index];
  const char* problem = nullptr;
  if (t.id.id != index) problem = "its own id differs from its index";
  else if (uint8_t(t.kind) > uint8_t(TypeKind::kBitfield)) problem = "unknown kind";
  else if (uint8_t(t.base) > uint8_t(BaseKind::kVoid)) problem = "unknown base kind";
  else if (t.kind == TypeKind::kBitfield && (t.bit_length == 0 || t.bit_length > 64 || t.bit_position > 127))
    problem = "impossible bitfield";
  else if (t.target.valid() && t.target.id >= types_.size()) problem = "target out of range";
  else if (!t.target.valid() &&
           (t.kind == TypeKind::kPointer || t.kind == TypeKind::kArray || t.kind == TypeKind::kBitfield))
    problem = "no target";
  else if (t.members_begin > t.members_end || t.members_end > members_.size() || t.lookup_begin > t.lookup_end ||
           t.lookup_end > lookup_.size() || t.enumerators_begin > t.enumerators_end ||
           t.enumerators_end > enumerators_.size())
    problem = "member or enumerator range out of its table";
  if (problem) corrupt(&t, "type record " + std::to_string(index) + ": " + problem);
  return t;
}

template <typename T>
std::span<const T> Profile::range(std::span<const T> table, uint32_t begin, uint32_t end, const void* owner,
                                  const char* what) const {
  if (begin > end || end > table.size())
    corrupt(owner, std::string(what) + " range [" + std::to_string(begin) + ", " + std::to_string(end) +
                       ") outside its table of " + std::to_string(table.size()));
  return table.subspan(begin, end - begin);
}

// ---------------------------------------------------------------------------
// Types

const TypeInfo& Profile::type(TypeRef ref) const {
  if (ref.id >= types_.size()) fail("invalid type reference " + std::to_string(ref.id));
  return type_at(ref.id);
}

const NamedTypeEntry* Profile::first_named(std::string_view name) const {
  size_t low = 0, high = named_types_.size();
  while (low < high) {
    size_t mid = low + (high - low) / 2;
    if (pool_string(named_types_[mid].name, &named_types_[mid]) < name) low = mid + 1;
    else high = mid;
  }
  return named_types_.data() + low;
}

const TypeInfo* Profile::find_type(std::string_view full_name) const {
  auto [ns, name] = split_prefix(full_name);
  for (const NamedTypeEntry* e = first_named(name); e != named_types_.data() + named_types_.size(); ++e) {
    if (pool_string(e->name, e) != name) break;
    if (e->type.id >= types_.size()) corrupt(e, "named-type entry names type " + std::to_string(e->type.id));
    const TypeInfo& candidate = type_at(e->type.id);
    if (!candidate.defined) continue;
    if (ns == pf::kNoNamespace || pf::namespace_of(candidate.kind) == ns) return &candidate;
  }
  return nullptr;
}

const TypeInfo& Profile::require_type(std::string_view name) const {
  if (const TypeInfo* found = find_type(name)) return *found;
  fail("no type '" + std::string(name) + "'");
}

std::string Profile::type_name(TypeRef ref) const {
  std::string suffix;
  for (int depth = 0; depth < 32; ++depth) {
    if (ref.id >= types_.size()) return "<invalid>" + suffix;
    const TypeInfo& t = type_at(ref.id);
    switch (t.kind) {
      case TypeKind::kPointer:
        suffix = " *" + suffix;
        ref = t.target;
        continue;
      case TypeKind::kArray:
        suffix += " [" + std::to_string(t.count) + "]";
        ref = t.target;
        continue;
      case TypeKind::kBitfield:
        suffix += " :" + std::to_string(t.bit_length);
        ref = t.target;
        continue;
      case TypeKind::kFunction: return "function" + suffix;
      case TypeKind::kStruct:
      case TypeKind::kUnion:
      case TypeKind::kEnum:
        return std::string(type_kind_name(t.kind)) + " " + std::string(name(t)) + suffix;
      case TypeKind::kBase: return std::string(name(t)) + suffix;
    }
  }
  return "<too deep>" + suffix;
}

bool Profile::is_signed(const TypeInfo& t) const {
  const TypeInfo* at = &t;
  for (int depth = 0; depth < 4; ++depth) {
    if (at->kind == TypeKind::kBase) return at->is_signed != 0;
    if ((at->kind != TypeKind::kEnum && at->kind != TypeKind::kBitfield) || !at->target.valid()) return false;
    at = &type_at(at->target.id);
  }
  return false;
}

// ---------------------------------------------------------------------------
// Members

const MemberInfo* Profile::find_member(const TypeInfo& record, std::string_view name) const {
  if (!record.is_record()) return nullptr;
  auto index = range(lookup_, record.lookup_begin, record.lookup_end, &record, "member lookup");
  size_t low = 0, high = index.size();
  while (low < high) {
    size_t mid = low + (high - low) / 2;
    if (this->name(index[mid]) < name) low = mid + 1;
    else high = mid;
  }
  if (low < index.size() && this->name(index[low]) == name) return &index[low];
  return nullptr;
}

const MemberInfo& Profile::require_member(const TypeInfo& record, std::string_view name) const {
  if (const MemberInfo* m = find_member(record, name)) return *m;
  fail("no member '" + std::string(name) + "' in " + type_name(record.id));
}

std::span<const MemberInfo> Profile::members(const TypeInfo& record) const {
  if (!record.is_record()) return {};
  return range(members_, record.members_begin, record.members_end, &record, "members");
}

bool Profile::has_member(std::string_view type_name, std::string_view member) const {
  const TypeInfo* t = find_type(type_name);
  return t && find_member(*t, member) != nullptr;
}

uint64_t Profile::offset_of(std::string_view type_name, std::string_view path) const {
  return field(require_type(type_name), path).offset;
}

FieldRef Profile::field(std::string_view type_name, std::string_view path) const {
  return field(require_type(type_name), path);
}

FieldRef Profile::field(const TypeInfo& record, std::string_view path) const {
  FieldRef result{record.id, record.id, 0};
  const TypeInfo* current = &record;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string_view segment = path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (current->kind == TypeKind::kPointer)
      fail("'" + std::string(path.substr(0, start ? start - 1 : 0)) + "' in " + type_name(record.id) +
           " is a pointer: a field path follows embedded members only");
    const MemberInfo& m = require_member(*current, segment);
    result.offset += m.offset;
    result.type = m.type;
    if (dot == std::string_view::npos) return result;
    current = &type(m.type);
    start = dot + 1;
  }
}

// ---------------------------------------------------------------------------
// Enums

std::span<const EnumeratorInfo> Profile::enumerators(const TypeInfo& enum_type) const {
  if (enum_type.kind != TypeKind::kEnum) return {};
  return range(enumerators_, enum_type.enumerators_begin, enum_type.enumerators_end, &enum_type, "enumerators");
}

std::optional<int64_t> Profile::enum_constant(std::string_view enum_name, std::string_view constant) const {
  std::string_view name = split_prefix(enum_name).second;
  for (const NamedTypeEntry* e = first_named(name); e != named_types_.data() + named_types_.size(); ++e) {
    if (pool_string(e->name, e) != name) break;
    if (e->type.id >= types_.size()) corrupt(e, "named-type entry names type " + std::to_string(e->type.id));
    const TypeInfo& candidate = type_at(e->type.id);
    if (candidate.kind != TypeKind::kEnum) continue;
    for (const EnumeratorInfo& en : enumerators(candidate))
      if (this->name(en) == constant) return en.value;
  }
  return std::nullopt;
}

std::optional<std::string_view> Profile::enumerator_name(const TypeInfo& enum_type, int64_t value) const {
  for (const EnumeratorInfo& e : enumerators(enum_type))
    if (e.value == value) return name(e);
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Symbols

const SymbolInfo* Profile::find_symbol(std::string_view name) const {
  const size_t slots = symbol_hash_.size();
  if (slots == 0) return nullptr;
  const uint64_t hash = pf::name_hash(name);
  const uint32_t tag = uint32_t(hash >> 32);
  // Bounded by the table's size: a forged table without an empty slot ends.
  for (size_t probe = 0, at = hash & (slots - 1); probe < slots; ++probe, at = (at + 1) & (slots - 1)) {
    const SymbolHashSlot& slot = symbol_hash_[at];
    if (slot.symbol == 0) return nullptr;
    if (slot.tag != tag) continue;
    if (slot.symbol > symbols_.size())
      corrupt(&slot, "symbol hash slot names symbol " + std::to_string(slot.symbol - 1) + " of " +
                         std::to_string(symbols_.size()));
    const SymbolInfo& candidate = symbols_[slot.symbol - 1];
    if (this->name(candidate) == name) return &candidate;
  }
  return nullptr;
}

std::optional<uint64_t> Profile::symbol(std::string_view name) const {
  if (const SymbolInfo* s = find_symbol(name)) return s->address;
  return std::nullopt;
}

uint64_t Profile::require_symbol(std::string_view name) const {
  if (const SymbolInfo* s = find_symbol(name)) return s->address;
  fail("no symbol '" + std::string(name) + "'");
}

const SymbolInfo* Profile::nearest_symbol(uint64_t address) const {
  // The first entry whose address is above `address`; the answer precedes it.
  size_t low = 0, high = symbols_by_address_.size();
  while (low < high) {
    size_t mid = low + (high - low) / 2;
    if (symbols_by_address_[mid].address <= address) low = mid + 1;
    else high = mid;
  }
  if (low == 0) return nullptr;
  // Aliases share an address: the first of them, which is the first by
  // name (entries of one address are in symbol order, which is name order).
  const uint64_t found = symbols_by_address_[low - 1].address;
  size_t first = 0, last = low - 1;
  while (first < last) {
    size_t mid = first + (last - first) / 2;
    if (symbols_by_address_[mid].address < found) first = mid + 1;
    else last = mid;
  }
  const SymbolAddressEntry& entry = symbols_by_address_[first];
  if (entry.symbol >= symbols_.size())
    corrupt(&entry, "symbols-by-address entry names symbol " + std::to_string(entry.symbol) + " of " +
                        std::to_string(symbols_.size()));
  return &symbols_[entry.symbol];
}

}  // namespace memscope
