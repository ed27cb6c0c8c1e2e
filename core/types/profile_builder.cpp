// ProfileBuilder: collects types, members, enumerators and symbols from a
// source in any order, then writes them in the profile format (see
// core/types/profile_format.h) into one heap buffer that the Profile views.
#include <algorithm>
#include <cstring>
#include <functional>
#include <unordered_map>

#include "core/types/profile.h"
#include "core/types/profile_format.h"
#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope {

namespace pf = profile_format;

namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

struct DerivedKey {
  TypeKind kind;
  uint32_t target;
  uint64_t extra;  // array count, or bit position << 8 | bit length
  bool operator==(const DerivedKey&) const = default;
};
struct DerivedKeyHash {
  size_t operator()(const DerivedKey& k) const {
    uint64_t h = (uint64_t(k.target) << 8 | uint64_t(k.kind)) * 0x9e3779b97f4a7c15ull;
    return size_t(h ^ (k.extra * 0xc2b2ae3d27d4eb4full));
  }
};

struct PendingMember {
  uint32_t record;
  uint32_t sequence;
  StringRef name;
  uint64_t offset;
  TypeRef type;
  bool anonymous;
};

struct PendingEnumerator {
  uint32_t enum_type;
  uint32_t sequence;
  StringRef name;
  int64_t value;
};

// One table of the buffer being written.
struct TableBytes {
  const void* data = nullptr;
  uint64_t length = 0;
  uint64_t count = 0;
};

template <typename T>
TableBytes table_of(const std::vector<T>& records) {
  return TableBytes{records.data(), records.size() * sizeof(T), records.size()};
}

}  // namespace

struct ProfileBuilder::State {
  ProfileMetadata metadata;
  FileIdentity identity;
  uint64_t pointer_size = 8;
  std::string pool;
  StringMap<StringRef> interned;
  std::vector<TypeInfo> types;
  std::vector<pf::Namespace> type_namespaces;
  StringMap<TypeRef> by_name[3];
  std::unordered_map<DerivedKey, TypeRef, DerivedKeyHash> derived;
  TypeRef function_type;
  std::vector<PendingMember> members;
  std::vector<PendingEnumerator> enumerators;
  std::vector<SymbolInfo> symbols;
  std::vector<SymbolInfo> repeats;  // add_symbol_repeat's, merged by sort_symbols
  bool finished = false;
  bool check_consistency = false;

  [[noreturn]] void fail(const std::string& what) const {
    throw ProfileError("profile " + metadata.source_path + ": " + what);
  }

  std::string_view view(StringRef ref) const { return std::string_view(pool).substr(ref.offset, ref.length); }

  StringRef append(std::string_view s) {
    if (pool.size() + s.size() + 1 > 0xffffffffull) fail("more than 4 GiB of names");
    StringRef result{uint32_t(pool.size()), uint32_t(s.size())};
    pool.append(s);
    pool.push_back('\0');  // not needed by lookups; keeps the pool readable in a hex dump
    return result;
  }
  // Names repeat a lot ("next", "prev", "list"): store each once.
  StringRef intern(std::string_view s) {
    auto it = interned.find(s);
    if (it != interned.end()) return it->second;
    StringRef stored = append(s);
    interned.emplace(std::string(s), stored);
    return stored;
  }

  TypeRef add_type(TypeKind kind, StringRef name, pf::Namespace ns) {
    if (types.size() >= TypeRef::kNone) fail("too many types");
    TypeInfo info;
    info.id = TypeRef(uint32_t(types.size()));
    info.kind = kind;
    info.name = name;
    types.push_back(info);
    type_namespaces.push_back(ns);
    return info.id;
  }

  TypeInfo& at(TypeRef ref, const char* what) {
    if (ref.id >= types.size()) fail(std::string(what) + ": invalid type reference");
    return types[ref.id];
  }

  TypeRef intern_derived(TypeKind kind, TypeRef target, uint64_t extra) {
    at(target, type_kind_name(kind));
    DerivedKey key{kind, target.id, extra};
    auto it = derived.find(key);
    if (it != derived.end()) return it->second;
    TypeRef ref = add_type(kind, StringRef{}, pf::kNoNamespace);
    TypeInfo& t = types[ref.id];
    t.defined = 1;
    t.target = target;
    derived.emplace(key, ref);
    return ref;
  }

  void compute_sizes();
  std::vector<MemberInfo> sorted_members();
  void check_layouts(const std::vector<MemberInfo>& members) const;
  std::vector<MemberInfo> member_lookup(const std::vector<MemberInfo>& members);
  std::vector<EnumeratorInfo> sorted_enumerators();
  void sort_symbols();
  std::vector<SymbolAddressEntry> symbols_by_address() const;
  std::vector<NamedTypeEntry> named_types() const;
  std::vector<SymbolHashSlot> symbol_hash() const;
};

namespace {

// Lays the string pool out again in the order lookups read it: the
// metadata, the names of named types in index order, then symbol names in
// order, then each record's member names and the enumerators. A binary search
// then reads neighbouring bytes at its last steps, and a mapped profile
// pages in little of the pool. Each distinct string is stored once.
class Repool {
 public:
  explicit Repool(const std::string& old) : old_(old) { pool_.reserve(old.size()); }
  StringRef operator()(StringRef ref) {
    if (ref.length == 0) return StringRef{};
    std::string_view text = std::string_view(old_).substr(ref.offset, ref.length);
    auto [it, inserted] = placed_.emplace(text, StringRef{});
    if (inserted) {
      room_for(text.size());
      it->second = StringRef{uint32_t(pool_.size()), ref.length};
      pool_.append(text);
      pool_.push_back('\0');
    }
    return it->second;
  }
  // Stored again even if already there: keeps a record's names together.
  StringRef fresh(StringRef ref) {
    if (ref.length == 0) return StringRef{};
    room_for(ref.length);
    StringRef placed{uint32_t(pool_.size()), ref.length};
    pool_.append(std::string_view(old_).substr(ref.offset, ref.length));
    pool_.push_back('\0');
    return placed;
  }
  std::string take() { return std::move(pool_); }

 private:
  void room_for(size_t length) const {
    if (pool_.size() + length + 1 > 0xffffffffull) throw ProfileError("profile: more than 4 GiB of names");
  }
  const std::string& old_;
  std::string pool_;
  std::unordered_map<std::string_view, StringRef> placed_;
};

}  // namespace

ProfileBuilder::ProfileBuilder(std::string source_path) : state_(std::make_unique<State>()) {
  state_->metadata.source_path = std::move(source_path);
}
ProfileBuilder::~ProfileBuilder() = default;

ProfileMetadata& ProfileBuilder::metadata() { return state_->metadata; }
void ProfileBuilder::set_source_identity(const FileIdentity& identity) { state_->identity = identity; }
void ProfileBuilder::check_consistency() { state_->check_consistency = true; }
size_t ProfileBuilder::type_count() const { return state_->types.size(); }
size_t ProfileBuilder::symbol_count() const { return state_->symbols.size(); }

TypeRef ProfileBuilder::named(TypeKind kind, std::string_view name) {
  pf::Namespace ns = pf::namespace_of(kind);
  if (ns == pf::kNoNamespace) state_->fail(std::string("a ") + type_kind_name(kind) + " type has no name");
  if (name.empty()) state_->fail(std::string("empty ") + type_kind_name(kind) + " type name");
  auto& map = state_->by_name[ns];
  auto it = map.find(name);
  if (it != map.end()) return it->second;
  TypeRef ref = state_->add_type(kind, state_->intern(name), ns);
  map.emplace(std::string(name), ref);
  return ref;
}

void ProfileBuilder::define_base(TypeRef ref, uint64_t size, BaseKind base, bool is_signed) {
  TypeInfo& t = state_->at(ref, "base type");
  t.kind = TypeKind::kBase;
  t.base = base;
  t.size = size;
  t.is_signed = is_signed ? 1 : 0;
  t.defined = 1;
}

void ProfileBuilder::define_record(TypeRef ref, TypeKind kind, uint64_t size) {
  TypeInfo& t = state_->at(ref, "struct");
  if (kind != TypeKind::kStruct && kind != TypeKind::kUnion) state_->fail("define_record: not a struct or union");
  t.kind = kind;
  t.size = size;
  t.defined = 1;
}

void ProfileBuilder::add_member(TypeRef record, std::string_view name, uint64_t offset, TypeRef type, bool anonymous) {
  state_->at(record, "member owner");
  state_->at(type, "member type");
  auto& members = state_->members;
  if (members.size() >= 0xffffffffull) state_->fail("too many members");
  members.push_back(PendingMember{record.id, uint32_t(members.size()), state_->intern(name), offset, type,
                                  anonymous || name.empty()});
}

void ProfileBuilder::define_enum(TypeRef ref, uint64_t size, TypeRef base) {
  TypeInfo& t = state_->at(ref, "enum");
  if (base.valid()) state_->at(base, "enum base");
  t.kind = TypeKind::kEnum;
  t.size = size;
  t.target = base;
  t.defined = 1;
}

void ProfileBuilder::add_enumerator(TypeRef enum_type, std::string_view name, int64_t value) {
  state_->at(enum_type, "enumerator owner");
  auto& list = state_->enumerators;
  if (list.size() >= 0xffffffffull) state_->fail("too many enumerators");
  list.push_back(PendingEnumerator{enum_type.id, uint32_t(list.size()), state_->intern(name), value});
}

TypeRef ProfileBuilder::pointer_to(TypeRef target) { return state_->intern_derived(TypeKind::kPointer, target, 0); }

TypeRef ProfileBuilder::array_of(TypeRef element, uint64_t count) {
  TypeRef ref = state_->intern_derived(TypeKind::kArray, element, count);
  state_->types[ref.id].count = count;
  return ref;
}

TypeRef ProfileBuilder::bitfield(TypeRef underlying, unsigned bit_position, unsigned bit_length) {
  if (bit_length == 0 || bit_length > 64 || bit_position > 127)
    state_->fail("unsupported bitfield (position " + std::to_string(bit_position) + ", length " +
                 std::to_string(bit_length) + ")");
  TypeRef ref = state_->intern_derived(TypeKind::kBitfield, underlying, uint64_t(bit_position) << 8 | bit_length);
  TypeInfo& t = state_->types[ref.id];
  t.bit_position = uint8_t(bit_position);
  t.bit_length = uint8_t(bit_length);
  return ref;
}

TypeRef ProfileBuilder::function() {
  if (!state_->function_type.valid()) {
    state_->function_type = state_->add_type(TypeKind::kFunction, StringRef{}, pf::kNoNamespace);
    state_->types[state_->function_type.id].defined = 1;
  }
  return state_->function_type;
}

void ProfileBuilder::set_pointer_size(uint64_t size) {
  if (size == 0 || size > 8) state_->fail("unsupported pointer size " + std::to_string(size));
  state_->pointer_size = size;
}

void ProfileBuilder::add_symbol(std::string_view name, uint64_t address, TypeRef type) {
  if (type.valid()) state_->at(type, "symbol type");
  auto& list = state_->symbols;
  if (list.size() >= 0xffffffffull) state_->fail("too many symbols");
  // Symbol names are (nearly: repeats) unique: no point interning them.
  SymbolInfo symbol;
  symbol.name = state_->append(name);
  symbol.address = address;
  symbol.type = type;
  list.push_back(symbol);
}

void ProfileBuilder::add_symbol_repeat(std::string_view name, uint64_t address) {
  if (state_->symbols.size() + state_->repeats.size() >= 0xffffffffull) state_->fail("too many symbols");
  SymbolInfo symbol;
  symbol.name = state_->append(name);
  symbol.address = address;
  symbol.flags = SymbolInfo::kRepeat;
  state_->repeats.push_back(symbol);
}

// ---------------------------------------------------------------------------
// finish(): the tables, then the buffer

// The sizes that derive from other types. A derived type is always created
// after its target, so one pass in id order sees every target's size
// already computed.
void ProfileBuilder::State::compute_sizes() {
  for (TypeInfo& t : types) {
    switch (t.kind) {
      case TypeKind::kPointer: t.size = pointer_size; break;
      case TypeKind::kArray: {
        uint64_t element = types[t.target.id].size;
        if (element && t.count > UINT64_MAX / element)
          fail("array of " + std::to_string(t.count) + " x " + std::to_string(element) + " bytes overflows");
        t.size = element * t.count;
        break;
      }
      case TypeKind::kBitfield: {
        const TypeInfo& base = types[t.target.id];
        if (base.kind != TypeKind::kBase && base.kind != TypeKind::kEnum)
          fail("bitfield of a " + std::string(type_kind_name(base.kind)) + " type");
        t.size = base.size;
        break;
      }
      case TypeKind::kEnum:
        if (t.size == 0 && t.target.valid()) t.size = types[t.target.id].size;
        break;
      default: break;
    }
  }
}

// Direct members, per record in layout order.
std::vector<MemberInfo> ProfileBuilder::State::sorted_members() {
  std::sort(members.begin(), members.end(), [](const PendingMember& a, const PendingMember& b) {
    if (a.record != b.record) return a.record < b.record;
    if (a.offset != b.offset) return a.offset < b.offset;
    return a.sequence < b.sequence;
  });
  std::vector<MemberInfo> out;
  out.reserve(members.size());
  for (size_t i = 0; i < members.size();) {
    uint32_t record = members[i].record;
    TypeInfo& t = types[record];
    t.members_begin = uint32_t(out.size());
    for (; i < members.size() && members[i].record == record; ++i) {
      const PendingMember& m = members[i];
      MemberInfo info;
      info.name = m.name;
      info.offset = m.offset;
      info.type = m.type;
      info.anonymous = m.anonymous ? 1 : 0;
      out.push_back(info);
    }
    t.members_end = uint32_t(out.size());
  }
  members = {};
  return out;
}

// The name index of each record, flattened through anonymous members.
// Entries carry their depth so that a direct member wins over a nested one
// of the same name.
std::vector<MemberInfo> ProfileBuilder::State::member_lookup(const std::vector<MemberInfo>& direct) {
  struct Entry {
    MemberInfo member;
    uint32_t depth;
  };
  std::vector<std::vector<Entry>> flat(types.size());
  std::vector<uint8_t> state(types.size(), 0);  // 0 todo, 1 in progress, 2 done
  std::function<void(uint32_t, int)> flatten = [&](uint32_t id, int level) {
    state[id] = 1;
    const TypeInfo& t = types[id];
    std::vector<Entry> entries;
    for (uint32_t m = t.members_begin; m < t.members_end; ++m) {
      const MemberInfo& member = direct[m];
      if (!member.name.empty()) entries.push_back(Entry{member, 0});
      const TypeInfo& inner = types[member.type.id];
      if (!member.anonymous || !inner.is_record()) continue;
      // A cycle (only possible in a forged profile) or absurd nesting stops here.
      if (state[inner.id.id] == 1 || level > 16) continue;
      if (state[inner.id.id] == 0) flatten(inner.id.id, level + 1);
      for (const Entry& e : flat[inner.id.id]) {
        Entry nested = e;
        nested.member.offset += member.offset;
        nested.depth += 1;
        entries.push_back(nested);
      }
    }
    std::stable_sort(entries.begin(), entries.end(), [&](const Entry& a, const Entry& b) {
      std::string_view x = view(a.member.name), y = view(b.member.name);
      return x != y ? x < y : a.depth < b.depth;
    });
    entries.erase(std::unique(entries.begin(), entries.end(),
                              [&](const Entry& a, const Entry& b) {
                                return view(a.member.name) == view(b.member.name);
                              }),
                  entries.end());
    flat[id] = std::move(entries);
    state[id] = 2;
  };
  for (uint32_t id = 0; id < types.size(); ++id)
    if (types[id].is_record() && state[id] == 0) flatten(id, 0);
  size_t total = 0;
  for (const auto& entries : flat) total += entries.size();
  if (total >= 0xffffffffull) fail("too many members");
  std::vector<MemberInfo> out;
  out.reserve(total);
  for (uint32_t id = 0; id < types.size(); ++id) {
    TypeInfo& t = types[id];
    t.lookup_begin = uint32_t(out.size());
    for (const Entry& e : flat[id]) out.push_back(e.member);
    t.lookup_end = uint32_t(out.size());
  }
  return out;
}

// Enumerators, in the order they were given.
std::vector<EnumeratorInfo> ProfileBuilder::State::sorted_enumerators() {
  std::stable_sort(enumerators.begin(), enumerators.end(),
                   [](const PendingEnumerator& a, const PendingEnumerator& b) { return a.enum_type < b.enum_type; });
  std::vector<EnumeratorInfo> out;
  out.reserve(enumerators.size());
  for (size_t i = 0; i < enumerators.size();) {
    uint32_t owner = enumerators[i].enum_type;
    TypeInfo& t = types[owner];
    t.enumerators_begin = uint32_t(out.size());
    for (; i < enumerators.size() && enumerators[i].enum_type == owner; ++i)
      out.push_back(EnumeratorInfo{enumerators[i].name, enumerators[i].value});
    t.enumerators_end = uint32_t(out.size());
  }
  enumerators = {};
  return out;
}

// Symbols sorted by name; of duplicates, the last given wins. With the
// consistency checks on, a name given at two addresses refuses the profile
// naming it: which address is right cannot be known.
void ProfileBuilder::State::sort_symbols() {
  std::stable_sort(symbols.begin(), symbols.end(),
                   [&](const SymbolInfo& a, const SymbolInfo& b) { return view(a.name) < view(b.name); });
  size_t out = 0;
  for (size_t i = 0; i < symbols.size(); ++i) {
    if (i + 1 < symbols.size() && view(symbols[i + 1].name) == view(symbols[i].name)) {
      if (check_consistency && symbols[i + 1].address != symbols[i].address)
        fail("symbol '" + std::string(view(symbols[i].name)) + "' is given twice, at " +
             hex(symbols[i].address) + " and at " + hex(symbols[i + 1].address) +
             ": a symbol table that lies (which address is right cannot be known)");
      continue;
    }
    symbols[out++] = symbols[i];
  }
  symbols.resize(out);
  if (repeats.empty()) return;
  // Each name's repeats after it, by address, without the name's own
  // address or twice the same one.
  std::sort(repeats.begin(), repeats.end(), [&](const SymbolInfo& a, const SymbolInfo& b) {
    std::string_view x = view(a.name), y = view(b.name);
    return x != y ? x < y : a.address < b.address;
  });
  std::vector<SymbolInfo> merged;
  merged.reserve(symbols.size() + repeats.size());
  size_t r = 0;
  // After the name's own entry (just merged): its repeats, each address once.
  auto merge_repeats_of = [&](const SymbolInfo& own) {
    const std::string_view name = view(own.name);
    for (; r < repeats.size() && view(repeats[r].name) == name; ++r)
      if (repeats[r].address != own.address && repeats[r].address != merged.back().address)
        merged.push_back(repeats[r]);
  };
  for (size_t i = 0; i <= symbols.size(); ++i) {
    // Repeats of names add_symbol never gave: the first is the name's own.
    while (r < repeats.size() && (i == symbols.size() || view(repeats[r].name) < view(symbols[i].name))) {
      SymbolInfo own = repeats[r++];
      own.flags = 0;
      merged.push_back(own);
      merge_repeats_of(own);
    }
    if (i == symbols.size()) break;
    merged.push_back(symbols[i]);
    merge_repeats_of(symbols[i]);
  }
  repeats = {};
  symbols = std::move(merged);
}

// Load-time checks of what a source says about each struct and union, so
// that a lying or broken profile is refused with the field it got wrong
// instead of reading the wrong bytes later: every member must lie inside
// its record (a bitfield's bits inside it), and a member's own type (or
// its array's element type) must be defined somewhere in the profile; a
// pointer to a type the profile lacks is fine (an opaque pointer, as
// real kernels have many).
void ProfileBuilder::State::check_layouts(const std::vector<MemberInfo>& members) const {
  auto record_name = [&](const TypeInfo& t) {
    return std::string(type_kind_name(t.kind)) + " " + (t.name.length ? std::string(view(t.name)) : "(anonymous)");
  };
  for (const TypeInfo& t : types) {
    if (!t.is_record() || !t.defined) continue;
    for (uint32_t m = t.members_begin; m < t.members_end; ++m) {
      const MemberInfo& member = members[m];
      const std::string where =
          record_name(t) + " member '" + std::string(view(member.name)) + "' at offset " + hex(member.offset);
      // The type that must be defined: the member's, or its (nested)
      // array's elements'.
      const TypeInfo* own = &types[member.type.id];
      while (own->kind == TypeKind::kArray && own->target.id < types.size()) own = &types[own->target.id];
      if (own->kind == TypeKind::kBitfield && own->target.id < types.size()) own = &types[own->target.id];
      if (!own->defined)
        fail(where + " has type " + std::string(type_kind_name(own->kind)) + " '" + std::string(view(own->name)) +
             "', which the profile does not define");
      const TypeInfo& type = types[member.type.id];
      if (type.kind == TypeKind::kBitfield) {
        const uint64_t end_bit = type.bit_position + uint64_t{type.bit_length};
        if (member.offset > t.size || end_bit > (t.size - member.offset) * 8)
          fail(where + ": its bits " + std::to_string(type.bit_position) + "-" + std::to_string(end_bit - 1) +
               " lie outside the " + std::to_string(t.size) + "-byte " + record_name(t));
      } else if (member.offset > t.size || type.size > t.size - member.offset) {
        fail(where + " of " + std::to_string(type.size) + " bytes lies outside the " + std::to_string(t.size) +
             "-byte " + record_name(t));
      }
    }
  }
}

// The (name-sorted) symbols by address; aliases stay in name order.
std::vector<SymbolAddressEntry> ProfileBuilder::State::symbols_by_address() const {
  std::vector<SymbolAddressEntry> order(symbols.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = SymbolAddressEntry{symbols[i].address, i, 0};
  std::stable_sort(order.begin(), order.end(),
                   [](const SymbolAddressEntry& a, const SymbolAddressEntry& b) { return a.address < b.address; });
  return order;
}

// The name index of types: defined before undefined, then namespace rank.
std::vector<NamedTypeEntry> ProfileBuilder::State::named_types() const {
  std::vector<uint32_t> named;
  for (uint32_t id = 0; id < types.size(); ++id)
    if (type_namespaces[id] != pf::kNoNamespace) named.push_back(id);
  std::sort(named.begin(), named.end(), [&](uint32_t a, uint32_t b) {
    const TypeInfo& x = types[a];
    const TypeInfo& y = types[b];
    std::string_view xn = view(x.name), yn = view(y.name);
    if (xn != yn) return xn < yn;
    if (x.defined != y.defined) return x.defined > y.defined;
    if (type_namespaces[a] != type_namespaces[b]) return type_namespaces[a] < type_namespaces[b];
    return a < b;
  });
  std::vector<NamedTypeEntry> entries(named.size());
  for (size_t i = 0; i < named.size(); ++i) entries[i] = NamedTypeEntry{types[named[i]].name, TypeRef(named[i]), 0};
  return entries;
}

// The hash index of symbol names (after the pool is laid out: names are
// read from it).
std::vector<SymbolHashSlot> ProfileBuilder::State::symbol_hash() const {
  std::vector<SymbolHashSlot> slots(pf::symbol_hash_slots(symbols.size()));
  const size_t mask = slots.size() - 1;
  for (uint32_t i = 0; i < symbols.size(); ++i) {
    if (symbols[i].repeat()) continue;  // found by address only
    uint64_t hash = pf::name_hash(view(symbols[i].name));
    size_t at = hash & mask;
    while (slots[at].symbol != 0) at = (at + 1) & mask;
    slots[at] = SymbolHashSlot{uint32_t(hash >> 32), i + 1};
  }
  return slots;
}

std::shared_ptr<const Profile> ProfileBuilder::finish() {
  State& s = *state_;
  if (s.finished) s.fail("ProfileBuilder::finish called twice");
  s.finished = true;
  // The maps that served the building: freed before the tables are made.
  s.interned = {};
  for (auto& map : s.by_name) map = {};
  s.derived = {};

  s.compute_sizes();
  std::vector<MemberInfo> members = s.sorted_members();
  if (s.check_consistency) s.check_layouts(members);
  std::vector<MemberInfo> lookup = s.member_lookup(members);
  std::vector<EnumeratorInfo> enumerators = s.sorted_enumerators();
  s.sort_symbols();
  std::vector<SymbolAddressEntry> by_address = s.symbols_by_address();
  std::vector<NamedTypeEntry> named = s.named_types();

  const ProfileMetadata& m = s.metadata;
  std::vector<StringRef> metadata(pf::kMetadataFieldCount);
  metadata[pf::kSourcePath] = s.append(m.source_path);
  metadata[pf::kBanner] = s.append(m.banner);
  metadata[pf::kOs] = s.append(m.os);
  metadata[pf::kProducerName] = s.append(m.producer_name);
  metadata[pf::kProducerVersion] = s.append(m.producer_version);
  metadata[pf::kIsfFormatVersion] = s.append(m.format_version);

  {
    Repool repool(s.pool);
    // The metadata first: opening reads it, and it then lies in the same
    // page as the header (one read from disk when the entry is not cached).
    for (StringRef& field : metadata) field = repool(field);
    for (NamedTypeEntry& e : named) e.name = repool(e.name);
    for (SymbolInfo& sym : s.symbols) sym.name = repool(sym.name);
    // Each record's member names together, in its lookup's order, so that
    // a search of one record reads one stretch of the pool: stored once per
    // record rather than once in all. Lookup and member ranges partition
    // their tables, in type order.
    std::unordered_map<std::string_view, StringRef> local;
    for (const TypeInfo& t : s.types) {
      local.clear();
      for (uint32_t i = t.lookup_begin; i < t.lookup_end; ++i) {
        std::string_view text = s.view(lookup[i].name);
        lookup[i].name = repool.fresh(lookup[i].name);
        local.emplace(text, lookup[i].name);
      }
      for (uint32_t i = t.members_begin; i < t.members_end; ++i) {
        auto it = local.find(s.view(members[i].name));
        members[i].name = it != local.end() ? it->second : repool(members[i].name);
      }
    }
    for (EnumeratorInfo& e : enumerators) e.name = repool(e.name);
    for (TypeInfo& t : s.types) t.name = repool(t.name);
    s.pool = repool.take();
  }
  std::vector<SymbolHashSlot> symbol_hash = s.symbol_hash();

  TableBytes tables[pf::kTableCount + 1];
  tables[pf::kMetadata] = table_of(metadata);
  tables[pf::kStrings] = TableBytes{s.pool.data(), s.pool.size(), s.pool.size()};
  tables[pf::kTypes] = table_of(s.types);
  tables[pf::kMembers] = table_of(members);
  tables[pf::kMemberLookup] = table_of(lookup);
  tables[pf::kEnumerators] = table_of(enumerators);
  tables[pf::kSymbols] = table_of(s.symbols);
  tables[pf::kSymbolsByAddress] = table_of(by_address);
  tables[pf::kNamedTypes] = table_of(named);
  tables[pf::kSymbolHash] = table_of(symbol_hash);

  pf::TableEntry directory[pf::kTableCount + 1] = {};
  uint64_t end = pf::kHeaderSize;
  for (uint32_t id = 1; id <= pf::kTableCount; ++id) {
    end = (end + pf::kAlignment - 1) & ~(pf::kAlignment - 1);
    directory[id] = pf::TableEntry{id, pf::kRecordSize[id], end, tables[id].length, tables[id].count, 0};
    end += tables[id].length;
  }
  end = (end + pf::kAlignment - 1) & ~(pf::kAlignment - 1);

  // Zeroed, so that padding is zero and the bytes (and checksums) depend
  // on the profile only; 8-byte words, so that records are aligned.
  auto buffer = std::make_shared<uint64_t[]>(size_t(end / 8));
  auto* bytes = reinterpret_cast<uint8_t*>(buffer.get());
  for (uint32_t id = 1; id <= pf::kTableCount; ++id) {
    if (tables[id].length) std::memcpy(bytes + directory[id].offset, tables[id].data, size_t(tables[id].length));
    directory[id].checksum = pf::table_checksum(bytes + directory[id].offset, tables[id].length);
    std::memcpy(bytes + sizeof(pf::Header) + (id - 1) * sizeof(pf::TableEntry), &directory[id],
                sizeof(pf::TableEntry));
  }
  pf::Header header{};
  std::memcpy(header.magic, pf::kMagic, sizeof pf::kMagic);
  header.version = pf::kFormatVersion;
  header.header_size = uint32_t(pf::kHeaderSize);
  header.file_size = end;
  header.table_count = pf::kTableCount;
  header.pointer_size = s.pointer_size;
  header.source_device = s.identity.device;
  header.source_inode = s.identity.inode;
  header.source_size = s.identity.size;
  header.source_mtime_ns = s.identity.mtime_ns;
  header.source_ctime_ns = s.identity.ctime_ns;
  std::memcpy(bytes, &header, sizeof header);
  header.header_checksum = pf::header_checksum(bytes);
  std::memcpy(bytes, &header, sizeof header);

  std::string origin = m.source_path;
  s = State();  // the builder is spent: release its tables before the caller goes on
  s.finished = true;
  return Profile::open(std::move(buffer), std::span<const uint8_t>(bytes, size_t(end)), std::move(origin));
}

}  // namespace memscope
