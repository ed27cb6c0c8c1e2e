#include "core/types/profile.h"

#include <algorithm>
#include <functional>
#include <unordered_map>

#include "core/util/error.h"

namespace memscope {
namespace {

// Name namespaces, in the order an unprefixed lookup prefers them.
enum Namespace : uint8_t { kUserNamespace = 0, kEnumNamespace = 1, kBaseNamespace = 2, kNoNamespace = 3 };

Namespace namespace_of(TypeKind kind) {
  switch (kind) {
    case TypeKind::kStruct:
    case TypeKind::kUnion: return kUserNamespace;
    case TypeKind::kEnum: return kEnumNamespace;
    case TypeKind::kBase: return kBaseNamespace;
    default: return kNoNamespace;
  }
}

// Splits "struct foo" into (kUserNamespace, "foo"); no prefix gives kNoNamespace.
std::pair<Namespace, std::string_view> split_prefix(std::string_view name) {
  static constexpr std::pair<std::string_view, Namespace> kPrefixes[] = {
      {"struct ", kUserNamespace}, {"union ", kUserNamespace}, {"class ", kUserNamespace},
      {"enum ", kEnumNamespace}};
  for (auto [prefix, ns] : kPrefixes)
    if (name.starts_with(prefix)) return {ns, name.substr(prefix.size())};
  return {kNoNamespace, name};
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

}  // namespace

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
// Profile lookups

void Profile::fail(const std::string& what) const {
  throw ProfileError("profile " + metadata_.source_path + ": " + what);
}

const TypeInfo& Profile::type(TypeRef ref) const {
  if (ref.id >= types_.size()) fail("invalid type reference " + std::to_string(ref.id));
  return types_[ref.id];
}

const TypeInfo* Profile::find_type(std::string_view full_name) const {
  auto [ns, name] = split_prefix(full_name);
  auto first = std::lower_bound(named_types_.begin(), named_types_.end(), name,
                                [&](TypeRef ref, std::string_view key) { return types_[ref.id].name < key; });
  for (auto it = first; it != named_types_.end() && types_[it->id].name == name; ++it) {
    const TypeInfo& candidate = types_[it->id];
    if (!candidate.defined) continue;
    if (ns == kNoNamespace || namespace_of(candidate.kind) == ns) return &candidate;
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
    const TypeInfo& t = types_[ref.id];
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
        return std::string(type_kind_name(t.kind)) + " " + std::string(t.name) + suffix;
      case TypeKind::kBase: return std::string(t.name) + suffix;
    }
  }
  return "<too deep>" + suffix;
}

bool Profile::is_signed(const TypeInfo& t) const {
  const TypeInfo* at = &t;
  for (int depth = 0; depth < 4; ++depth) {
    if (at->kind == TypeKind::kBase) return at->is_signed;
    if ((at->kind != TypeKind::kEnum && at->kind != TypeKind::kBitfield) || at->target.id >= types_.size())
      return false;
    at = &types_[at->target.id];
  }
  return false;
}

const MemberInfo* Profile::find_member(const TypeInfo& record, std::string_view name) const {
  if (!record.is_record()) return nullptr;
  auto first = lookup_.begin() + record.lookup_begin;
  auto last = lookup_.begin() + record.lookup_end;
  auto it = std::lower_bound(first, last, name,
                             [](const MemberInfo& m, std::string_view key) { return m.name < key; });
  return it != last && it->name == name ? &*it : nullptr;
}

const MemberInfo& Profile::require_member(const TypeInfo& record, std::string_view name) const {
  if (const MemberInfo* found = find_member(record, name)) return *found;
  if (!record.is_record()) fail("type '" + type_name(record.id) + "' has no members (looking for '" + std::string(name) + "')");
  fail(type_name(record.id) + " has no member '" + std::string(name) + "'");
}

std::span<const MemberInfo> Profile::members(const TypeInfo& record) const {
  if (!record.is_record()) return {};
  return std::span<const MemberInfo>(members_).subspan(record.members_begin, record.members_end - record.members_begin);
}

bool Profile::has_member(std::string_view type_name, std::string_view member) const {
  const TypeInfo* record = find_type(type_name);
  return record && find_member(*record, member);
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

std::span<const EnumeratorInfo> Profile::enumerators(const TypeInfo& enum_type) const {
  if (enum_type.kind != TypeKind::kEnum) return {};
  return std::span<const EnumeratorInfo>(enumerators_)
      .subspan(enum_type.enumerators_begin, enum_type.enumerators_end - enum_type.enumerators_begin);
}

std::optional<int64_t> Profile::enum_constant(std::string_view enum_name, std::string_view constant) const {
  auto [ns, name] = split_prefix(enum_name);
  (void)ns;
  auto first = std::lower_bound(named_types_.begin(), named_types_.end(), name,
                                [&](TypeRef ref, std::string_view key) { return types_[ref.id].name < key; });
  for (auto it = first; it != named_types_.end() && types_[it->id].name == name; ++it) {
    if (types_[it->id].kind != TypeKind::kEnum) continue;
    for (const EnumeratorInfo& e : enumerators(types_[it->id]))
      if (e.name == constant) return e.value;
  }
  return std::nullopt;
}

std::optional<std::string_view> Profile::enumerator_name(const TypeInfo& enum_type, int64_t value) const {
  for (const EnumeratorInfo& e : enumerators(enum_type))
    if (e.value == value) return e.name;
  return std::nullopt;
}

const SymbolInfo* Profile::find_symbol(std::string_view name) const {
  auto it = std::lower_bound(symbols_.begin(), symbols_.end(), name,
                             [](const SymbolInfo& s, std::string_view key) { return s.name < key; });
  return it != symbols_.end() && it->name == name ? &*it : nullptr;
}

std::optional<uint64_t> Profile::symbol(std::string_view name) const {
  if (const SymbolInfo* s = find_symbol(name)) return s->address;
  return std::nullopt;
}

uint64_t Profile::require_symbol(std::string_view name) const {
  if (const SymbolInfo* s = find_symbol(name)) return s->address;
  fail("no symbol '" + std::string(name) + "'");
}

// ---------------------------------------------------------------------------
// ProfileBuilder

namespace {

struct PoolString {
  uint32_t offset = 0;
  uint32_t length = 0;
};

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
  PoolString name;
  uint64_t offset;
  TypeRef type;
  bool anonymous;
};

struct PendingEnumerator {
  uint32_t enum_type;
  uint32_t sequence;
  PoolString name;
  int64_t value;
};

struct PendingSymbol {
  uint32_t sequence;
  PoolString name;
  uint64_t address;
  TypeRef type;
};

}  // namespace

struct ProfileBuilder::State {
  ProfileMetadata metadata;
  uint64_t pointer_size = 8;
  std::string pool;
  StringMap<PoolString> interned;
  std::vector<TypeInfo> types;
  std::vector<PoolString> type_names;
  std::vector<Namespace> type_namespaces;
  StringMap<TypeRef> by_name[3];
  std::unordered_map<DerivedKey, TypeRef, DerivedKeyHash> derived;
  TypeRef function_type;
  std::vector<PendingMember> members;
  std::vector<PendingEnumerator> enumerators;
  std::vector<PendingSymbol> symbols;
  bool finished = false;

  [[noreturn]] void fail(const std::string& what) const {
    throw ProfileError("profile " + metadata.source_path + ": " + what);
  }

  PoolString append(std::string_view s) {
    if (pool.size() + s.size() + 1 > 0xffffffffull) fail("more than 4 GiB of names");
    PoolString result{uint32_t(pool.size()), uint32_t(s.size())};
    pool.append(s);
    pool.push_back('\0');
    return result;
  }
  // Names repeat a lot ("next", "prev", "list"): store each once.
  PoolString intern(std::string_view s) {
    auto it = interned.find(s);
    if (it != interned.end()) return it->second;
    PoolString stored = append(s);
    interned.emplace(std::string(s), stored);
    return stored;
  }

  TypeRef add_type(TypeKind kind, PoolString name, Namespace ns) {
    if (types.size() >= TypeRef::kNone) fail("too many types");
    TypeInfo info;
    info.id = TypeRef(uint32_t(types.size()));
    info.kind = kind;
    types.push_back(info);
    type_names.push_back(name);
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
    TypeRef ref = add_type(kind, PoolString{}, kNoNamespace);
    TypeInfo& t = types[ref.id];
    t.defined = true;
    t.target = target;
    derived.emplace(key, ref);
    return ref;
  }
};

ProfileBuilder::ProfileBuilder(std::string source_path) : state_(std::make_unique<State>()) {
  state_->metadata.source_path = std::move(source_path);
}
ProfileBuilder::~ProfileBuilder() = default;

ProfileMetadata& ProfileBuilder::metadata() { return state_->metadata; }
size_t ProfileBuilder::type_count() const { return state_->types.size(); }
size_t ProfileBuilder::symbol_count() const { return state_->symbols.size(); }

TypeRef ProfileBuilder::named(TypeKind kind, std::string_view name) {
  Namespace ns = namespace_of(kind);
  if (ns == kNoNamespace) state_->fail(std::string("a ") + type_kind_name(kind) + " type has no name");
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
  t.is_signed = is_signed;
  t.defined = true;
}

void ProfileBuilder::define_record(TypeRef ref, TypeKind kind, uint64_t size) {
  TypeInfo& t = state_->at(ref, "struct");
  if (kind != TypeKind::kStruct && kind != TypeKind::kUnion) state_->fail("define_record: not a struct or union");
  t.kind = kind;
  t.size = size;
  t.defined = true;
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
  t.defined = true;
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
    state_->function_type = state_->add_type(TypeKind::kFunction, PoolString{}, kNoNamespace);
    state_->types[state_->function_type.id].defined = true;
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
  // Symbol names are unique: no point interning them.
  list.push_back(PendingSymbol{uint32_t(list.size()), state_->append(name), address, type});
}

std::shared_ptr<const Profile> ProfileBuilder::finish() {
  State& s = *state_;
  if (s.finished) s.fail("ProfileBuilder::finish called twice");
  s.finished = true;

  std::shared_ptr<Profile> profile(new Profile());
  Profile& p = *profile;
  p.metadata_ = std::move(s.metadata);
  p.pointer_size_ = s.pointer_size;
  p.strings_ = std::move(s.pool);
  s.interned.clear();
  auto view = [&](PoolString ps) { return std::string_view(p.strings_.data() + ps.offset, ps.length); };

  // Types, with the sizes that derive from other types. A derived type is
  // always created after its target, so one pass in id order sees every
  // target's size already computed.
  p.types_ = std::move(s.types);
  for (size_t i = 0; i < p.types_.size(); ++i) {
    TypeInfo& t = p.types_[i];
    t.name = view(s.type_names[i]);
    switch (t.kind) {
      case TypeKind::kPointer: t.size = s.pointer_size; break;
      case TypeKind::kArray: {
        uint64_t element = p.types_[t.target.id].size;
        if (element && t.count > UINT64_MAX / element)
          p.fail("array of " + std::to_string(t.count) + " x " + std::to_string(element) + " bytes overflows");
        t.size = element * t.count;
        break;
      }
      case TypeKind::kBitfield: {
        const TypeInfo& base = p.types_[t.target.id];
        if (base.kind != TypeKind::kBase && base.kind != TypeKind::kEnum)
          p.fail("bitfield of a " + std::string(type_kind_name(base.kind)) + " type");
        t.size = base.size;
        break;
      }
      case TypeKind::kEnum:
        if (t.size == 0 && t.target.valid()) t.size = p.types_[t.target.id].size;
        break;
      default: break;
    }
  }

  // Direct members, per record in layout order.
  std::sort(s.members.begin(), s.members.end(), [](const PendingMember& a, const PendingMember& b) {
    if (a.record != b.record) return a.record < b.record;
    if (a.offset != b.offset) return a.offset < b.offset;
    return a.sequence < b.sequence;
  });
  p.members_.reserve(s.members.size());
  for (size_t i = 0; i < s.members.size();) {
    uint32_t record = s.members[i].record;
    TypeInfo& t = p.types_[record];
    t.members_begin = uint32_t(p.members_.size());
    for (; i < s.members.size() && s.members[i].record == record; ++i) {
      const PendingMember& m = s.members[i];
      p.members_.push_back(MemberInfo{view(m.name), m.offset, m.type, m.anonymous});
    }
    t.members_end = uint32_t(p.members_.size());
  }
  s.members = {};

  // The name index of each record, flattened through anonymous members.
  // Entries carry their depth so that a direct member wins over a nested
  // one of the same name.
  struct Entry {
    MemberInfo member;
    uint32_t depth;
  };
  std::vector<std::vector<Entry>> flat(p.types_.size());
  std::vector<uint8_t> state(p.types_.size(), 0);  // 0 todo, 1 in progress, 2 done
  std::function<void(uint32_t, int)> flatten = [&](uint32_t id, int level) {
    state[id] = 1;
    const TypeInfo& t = p.types_[id];
    std::vector<Entry> entries;
    for (uint32_t m = t.members_begin; m < t.members_end; ++m) {
      const MemberInfo& member = p.members_[m];
      if (!member.name.empty()) entries.push_back(Entry{member, 0});
      const TypeInfo& inner = p.types_[member.type.id];
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
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return a.member.name != b.member.name ? a.member.name < b.member.name : a.depth < b.depth;
    });
    entries.erase(std::unique(entries.begin(), entries.end(),
                              [](const Entry& a, const Entry& b) { return a.member.name == b.member.name; }),
                  entries.end());
    flat[id] = std::move(entries);
    state[id] = 2;
  };
  for (uint32_t id = 0; id < p.types_.size(); ++id)
    if (p.types_[id].is_record() && state[id] == 0) flatten(id, 0);
  size_t lookup_total = 0;
  for (const auto& entries : flat) lookup_total += entries.size();
  p.lookup_.reserve(lookup_total);
  for (uint32_t id = 0; id < p.types_.size(); ++id) {
    TypeInfo& t = p.types_[id];
    t.lookup_begin = uint32_t(p.lookup_.size());
    for (const Entry& e : flat[id]) p.lookup_.push_back(e.member);
    t.lookup_end = uint32_t(p.lookup_.size());
  }
  flat = {};

  // Enumerators, in the order they were given.
  std::stable_sort(s.enumerators.begin(), s.enumerators.end(),
                   [](const PendingEnumerator& a, const PendingEnumerator& b) { return a.enum_type < b.enum_type; });
  p.enumerators_.reserve(s.enumerators.size());
  for (size_t i = 0; i < s.enumerators.size();) {
    uint32_t owner = s.enumerators[i].enum_type;
    TypeInfo& t = p.types_[owner];
    t.enumerators_begin = uint32_t(p.enumerators_.size());
    for (; i < s.enumerators.size() && s.enumerators[i].enum_type == owner; ++i)
      p.enumerators_.push_back(EnumeratorInfo{view(s.enumerators[i].name), s.enumerators[i].value});
    t.enumerators_end = uint32_t(p.enumerators_.size());
  }
  s.enumerators = {};

  // Symbols sorted by name; of duplicates, the last given wins.
  p.symbols_.reserve(s.symbols.size());
  for (const PendingSymbol& sym : s.symbols) p.symbols_.push_back(SymbolInfo{view(sym.name), sym.address, sym.type});
  s.symbols = {};
  std::stable_sort(p.symbols_.begin(), p.symbols_.end(),
                   [](const SymbolInfo& a, const SymbolInfo& b) { return a.name < b.name; });
  {
    // Keep the last of each run of equal names.
    size_t out = 0;
    for (size_t i = 0; i < p.symbols_.size(); ++i) {
      if (i + 1 < p.symbols_.size() && p.symbols_[i + 1].name == p.symbols_[i].name) continue;
      p.symbols_[out++] = p.symbols_[i];
    }
    p.symbols_.resize(out);
  }

  // The name index of types: defined before undefined, then namespace rank.
  for (uint32_t id = 0; id < p.types_.size(); ++id)
    if (s.type_namespaces[id] != kNoNamespace) p.named_types_.push_back(TypeRef(id));
  std::sort(p.named_types_.begin(), p.named_types_.end(), [&](TypeRef a, TypeRef b) {
    const TypeInfo& x = p.types_[a.id];
    const TypeInfo& y = p.types_[b.id];
    if (x.name != y.name) return x.name < y.name;
    if (x.defined != y.defined) return x.defined;
    return s.type_namespaces[a.id] < s.type_namespaces[b.id];
  });
  return profile;
}

}  // namespace memscope
