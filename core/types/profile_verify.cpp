// Profile::verify(): the full check of a profile buffer that open() leaves
// out because it reads every page: table checksums, every reference and
// name, the sort orders binary searches rely on, and no type that contains
// itself. Run when a cache entry is written and on demand
// (`memscope profile info --verify`).
#include <cstring>
#include <vector>

#include "core/types/profile.h"
#include "core/types/profile_format.h"
#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope {

namespace pf = profile_format;

void Profile::verify() const {
  // The header and directory were checked by open(); the tables' bytes
  // were not.
  uint64_t previous_end = pf::kHeaderSize;
  for (uint32_t id = 1; id <= pf::kTableCount; ++id) {
    const uint8_t* at = base_ + sizeof(pf::Header) + (id - 1) * sizeof(pf::TableEntry);
    pf::TableEntry entry;
    std::memcpy(&entry, at, sizeof entry);
    if (entry.offset < previous_end) corrupt(at, std::string(pf::kTableName[id]) + " table overlaps the one before it");
    previous_end = entry.offset + entry.length;
    if (pf::table_checksum(base_ + entry.offset, entry.length) != entry.checksum)
      corrupt(at, std::string(pf::kTableName[id]) + " table checksum mismatch (table at " + hex(entry.offset) + ")");
  }
  verify_tables();
  verify_types();
}

void Profile::verify_tables() const {
  const uint64_t type_count = types_.size();
  auto check_type_ref = [&](const void* where, const char* what, size_t index, TypeRef ref, bool optional) {
    if ((optional && !ref.valid()) || ref.id < type_count) return;
    corrupt(where, std::string(what) + " " + std::to_string(index) + ": type " + std::to_string(ref.id) +
                       " out of range (" + std::to_string(type_count) + " types)");
  };

  for (size_t i = 0; i < members_.size(); ++i) {
    name(members_[i]);
    check_type_ref(&members_[i], "member", i, members_[i].type, false);
  }
  for (size_t i = 0; i < lookup_.size(); ++i) {
    name(lookup_[i]);
    check_type_ref(&lookup_[i], "member lookup entry", i, lookup_[i].type, false);
  }
  for (const EnumeratorInfo& e : enumerators_) name(e);

  // Symbols: names in order, each once but for repeats, which follow
  // their name by address (SymbolInfo::repeat).
  size_t named = 0;
  for (size_t i = 0; i < symbols_.size(); ++i) {
    const SymbolInfo& s = symbols_[i];
    check_type_ref(&s, "symbol", i, s.type, true);
    if (s.flags & ~SymbolInfo::kRepeat) corrupt(&s, "symbol " + std::to_string(i) + " has unknown flags");
    if (!s.repeat()) {
      ++named;
      if (i && !(name(symbols_[i - 1]) < name(s)))
        corrupt(&s, "symbol " + std::to_string(i) + " is not in name order");
      continue;
    }
    const SymbolInfo* before = i ? &symbols_[i - 1] : nullptr;
    if (!before || name(*before) != name(s) || before->address == s.address ||
        (before->repeat() && before->address > s.address))
      corrupt(&s, "symbol " + std::to_string(i) + " repeats no name before it, or not in address order");
  }
  // Symbols by address: a permutation of the symbols, by address then index.
  std::vector<bool> seen(symbols_.size());
  for (size_t rank = 0; rank < symbols_by_address_.size(); ++rank) {
    const SymbolAddressEntry& e = symbols_by_address_[rank];
    auto bad = [&](const std::string& what) {
      corrupt(&e, "symbols-by-address entry " + std::to_string(rank) + " " + what);
    };
    if (e.symbol >= symbols_.size() || seen[e.symbol]) bad("names a symbol out of range or twice");
    seen[e.symbol] = true;
    if (e.address != symbols_[e.symbol].address) bad("disagrees with the symbol's address");
    if (rank) {
      const SymbolAddressEntry& before = symbols_by_address_[rank - 1];
      if (before.address > e.address || (before.address == e.address && before.symbol > e.symbol)) bad("is out of order");
    }
  }
  // The symbol hash: every symbol found at its own index, each slot used
  // by one symbol only, with its name's tag.
  size_t used = 0;
  for (size_t at = 0; at < symbol_hash_.size(); ++at) {
    const SymbolHashSlot& slot = symbol_hash_[at];
    if (slot.symbol == 0) continue;
    ++used;
    if (slot.symbol > symbols_.size() ||
        slot.tag != uint32_t(pf::name_hash(name(symbols_[slot.symbol - 1])) >> 32))
      corrupt(&slot, "symbol hash slot " + std::to_string(at) + " is out of range or mistagged");
  }
  if (used != named)
    corrupt(nullptr, "symbol hash holds " + std::to_string(used) + " symbols of " + std::to_string(named));
  for (const SymbolInfo& s : symbols_)
    if (!s.repeat() && find_symbol(name(s)) != &s)
      corrupt(&s, "symbol '" + std::string(name(s)) + "' is not where its hash says");

  // Named types: in name order (find_type's binary search), named kinds
  // only, each with its type's own name.
  for (size_t i = 0; i < named_types_.size(); ++i) {
    const NamedTypeEntry& e = named_types_[i];
    if (e.type.id >= type_count)
      corrupt(&e, "named-type entry " + std::to_string(i) + " names type " + std::to_string(e.type.id) + " of " +
                      std::to_string(type_count));
    const TypeInfo& t = type_at(e.type.id);
    if (pf::namespace_of(t.kind) == pf::kNoNamespace || t.name.empty())
      corrupt(&e, "named-type entry " + std::to_string(i) + " is an unnamed " + type_kind_name(t.kind));
    if (name(e.name) != name(t)) corrupt(&e, "named-type entry " + std::to_string(i) + " disagrees with its type's name");
    if (i && name(named_types_[i - 1].name) > name(e.name))
      corrupt(&e, "named-type entry " + std::to_string(i) + " is not in name order");
  }
}

void Profile::verify_types() const {
  for (uint32_t i = 0; i < types_.size(); ++i) {
    const TypeInfo& t = type_at(i);  // id, kind, geometry, ranges
    name(t);
    auto bad = [&](const std::string& what) { corrupt(&t, "type " + std::to_string(i) + ": " + what); };
    switch (t.kind) {
      case TypeKind::kPointer:
      case TypeKind::kArray:
      case TypeKind::kBitfield:
        // A derived type is made after what it derives from: chains of
        // pointers, arrays and bitfields end.
        if (t.target.id >= i) bad("derives from a later type");
        if (t.kind == TypeKind::kBitfield) {
          TypeKind base = types_[t.target.id].kind;
          if (base != TypeKind::kBase && base != TypeKind::kEnum) bad("bitfield of neither an integer nor an enum");
        }
        break;
      case TypeKind::kEnum:
        if (t.target.valid() && types_[t.target.id].kind != TypeKind::kBase) bad("enum over a non-base type");
        break;
      default: break;
    }
    // The member index of a record: strictly in name order.
    auto index = lookup_.subspan(t.lookup_begin, t.lookup_end - t.lookup_begin);
    for (size_t k = 1; k < index.size(); ++k)
      if (!(name(index[k - 1]) < name(index[k])))
        corrupt(&index[k], "member lookup of type " + std::to_string(i) + " is not in name order");
  }

  // No record contains itself by value (through members, arrays of them
  // and anonymous members): such a type has no size, and a walk of its
  // embedded members would not end. Iterative depth-first search.
  enum : uint8_t { kTodo, kActive, kDone };
  std::vector<uint8_t> color(types_.size(), kTodo);
  struct Frame {
    uint32_t record;
    uint32_t next_member;
  };
  std::vector<Frame> stack;
  auto embedded_record = [&](TypeRef ref) -> int64_t {
    // Arrays' element chains end (see above): strip them.
    const TypeInfo* t = &type_at(ref.id);
    while (t->kind == TypeKind::kArray) t = &type_at(t->target.id);
    return t->is_record() ? int64_t(t->id.id) : -1;
  };
  for (uint32_t root = 0; root < types_.size(); ++root) {
    if (color[root] != kTodo || !types_[root].is_record()) continue;
    color[root] = kActive;
    stack.push_back(Frame{root, types_[root].members_begin});
    while (!stack.empty()) {
      Frame& f = stack.back();
      const TypeInfo& record = types_[f.record];
      if (f.next_member >= record.members_end) {
        color[f.record] = kDone;
        stack.pop_back();
        continue;
      }
      const MemberInfo& m = members_[f.next_member++];
      int64_t inner = embedded_record(m.type);
      if (inner < 0) continue;
      if (color[inner] == kActive)
        corrupt(&m, "type " + std::to_string(f.record) + " contains type " + std::to_string(inner) +
                        " which contains it (a cycle of embedded members)");
      if (color[inner] == kTodo) {
        color[inner] = kActive;
        stack.push_back(Frame{uint32_t(inner), types_[inner].members_begin});
      }
    }
  }
}

}  // namespace memscope
