#include "profiles/btf/profile_from_btf.h"

#include <xxhash.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/util/error.h"
#include "profiles/btf/global_types.h"

#ifndef MEMSCOPE_VERSION
#define MEMSCOPE_VERSION "0.0.0"
#endif

namespace memscope {

namespace {

constexpr std::string_view kPerCpuSection = ".data..percpu";

std::string hex16(uint64_t v) {
  static const char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) out[static_cast<size_t>(i)] = digits[v & 0xf];
  return out;
}

std::string lower_hex(uint64_t v) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  do {
    out.insert(out.begin(), digits[v & 0xf]);
    v >>= 4;
  } while (v);
  return out;
}

bool is_record(BtfKind kind) { return kind == BtfKind::kStruct || kind == BtfKind::kUnion; }
bool is_enum(BtfKind kind) { return kind == BtfKind::kEnum || kind == BtfKind::kEnum64; }

std::string trim_banner(std::string banner) {
  while (!banner.empty() && (banner.back() == '\0' || banner.back() == '\n' || banner.back() == '\r' ||
                             banner.back() == ' '))
    banner.pop_back();
  return banner;
}

class Generator {
 public:
  Generator(const Btf& btf, const SystemMap& map, const ProfileFromBtfOptions& options, IsfFromBtfReport& report)
      : btf_(btf),
        map_(map),
        options_(options),
        report_(report),
        builder_(options.source.empty() ? btf.source() : options.source),
        names_(btf.type_count()),
        refs_(btf.type_count()) {}

  std::shared_ptr<const Profile> run() {
    // A BTF that lies about a layout is refused naming the field.
    builder_.check_consistency();
    ProfileMetadata& meta = builder_.metadata();
    meta.os = "linux";
    meta.producer_name = "memscope";
    meta.producer_version = options_.producer_version.empty() ? MEMSCOPE_VERSION : options_.producer_version;
    meta.format_version = kGeneratedIsfFormat;
    if (options_.banner) meta.banner = trim_banner(*options_.banner);
    builder_.set_pointer_size(btf_.pointer_size());
    void_ = builder_.named(TypeKind::kBase, "void");
    name_types();
    base_types();
    records();
    enums();
    symbols();
    try {
      return builder_.finish();
    } catch (const ProfileError& e) {
      // The BTF's layouts lie (a member outside its struct): BTF this
      // generator cannot use.
      throw FormatError(e.what());
    }
  }

 private:
  // ---- Type references --------------------------------------------------

  // The profile type a BTF type id stands for, made once per id. Recursion
  // follows pointer, array, typedef and qualifier chains only, which the
  // parser proved finite and at most Btf::kMaxChainDepth long.
  TypeRef describe(uint32_t id) {
    if (refs_[id].valid()) return refs_[id];
    const BtfType& t = btf_.type(id);
    TypeRef ref;
    switch (t.kind) {
      case BtfKind::kVoid:
      case BtfKind::kDataSection:
        ref = void_;
        break;
      case BtfKind::kInt:
      case BtfKind::kFloat:
        ref = t.name.empty() ? void_ : builder_.named(TypeKind::kBase, t.name);
        break;
      case BtfKind::kPointer:
        ref = builder_.pointer_to(describe(t.type));
        break;
      case BtfKind::kArray:
        ref = builder_.array_of(describe(t.type), t.count);
        break;
      case BtfKind::kStruct:
      case BtfKind::kUnion:
        ref = builder_.named(t.kind == BtfKind::kStruct ? TypeKind::kStruct : TypeKind::kUnion, record_name(id));
        break;
      case BtfKind::kEnum:
      case BtfKind::kEnum64:
        ref = builder_.named(TypeKind::kEnum, record_name(id));
        break;
      case BtfKind::kForward:
        ref = t.name.empty() ? void_ : builder_.named(t.kind_flag ? TypeKind::kUnion : TypeKind::kStruct, t.name);
        break;
      case BtfKind::kTypedef: {
        // A typedef of a struct/union keeps its own name (dwarf2json does the
        // same and defines the typedef name as a copy of the struct).
        const BtfType& target = btf_.type(btf_.strip_qualifiers(t.type));
        if (!t.name.empty() && (is_record(target.kind) || target.kind == BtfKind::kForward)) {
          bool is_union = target.kind == BtfKind::kUnion || (target.kind == BtfKind::kForward && target.kind_flag);
          ref = builder_.named(is_union ? TypeKind::kUnion : TypeKind::kStruct, t.name);
        } else {
          ref = describe(t.type);
        }
        break;
      }
      case BtfKind::kVolatile:
      case BtfKind::kConst:
      case BtfKind::kRestrict:
      case BtfKind::kTypeTag:
      case BtfKind::kVariable:
      case BtfKind::kDeclTag:
        ref = describe(t.type);
        break;
      case BtfKind::kFunction:
      case BtfKind::kFunctionProto:
        ref = builder_.function();
        break;
    }
    refs_[id] = ref;
    return ref;
  }

  // A record's or enum's name; one that naming could not reach (a forged
  // containment cycle) gets one from its id.
  const std::string& record_name(uint32_t id) {
    if (names_[id].empty()) names_[id] = "unnamed_" + std::to_string(id);
    return names_[id];
  }

  // How a member's type reads in an anonymous type's definition (for the
  // hash that names it): what the profile will say about it.
  std::string spelling(uint32_t id) const {
    std::string out;
    for (unsigned step = 0; step <= Btf::kMaxChainDepth; ++step) {
      const BtfType& t = btf_.type(id);
      switch (t.kind) {
        case BtfKind::kVoid:
        case BtfKind::kDataSection:
          return out + "void";
        case BtfKind::kInt:
        case BtfKind::kFloat:
          return out + (t.name.empty() ? std::string("void") : "base " + std::string(t.name));
        case BtfKind::kPointer:
          out += "*";
          id = t.type;
          continue;
        case BtfKind::kArray:
          out += "[" + std::to_string(t.count) + "]";
          id = t.type;
          continue;
        case BtfKind::kStruct:
        case BtfKind::kUnion:
          return out + (t.kind == BtfKind::kStruct ? "struct " : "union ") + names_[id];
        case BtfKind::kEnum:
        case BtfKind::kEnum64:
          return out + "enum " + names_[id];
        case BtfKind::kForward:
          return out + (t.name.empty() ? std::string("void") : (t.kind_flag ? "union " : "struct ") + std::string(t.name));
        case BtfKind::kTypedef: {
          const BtfType& target = btf_.type(btf_.strip_qualifiers(t.type));
          if (!t.name.empty() && (is_record(target.kind) || target.kind == BtfKind::kForward)) {
            bool is_union = target.kind == BtfKind::kUnion || (target.kind == BtfKind::kForward && target.kind_flag);
            return out + (is_union ? "union " : "struct ") + std::string(t.name);
          }
          id = t.type;
          continue;
        }
        case BtfKind::kFunction:
        case BtfKind::kFunctionProto:
          return out + "function";
        default:
          id = t.type;
          continue;
      }
    }
    return out + "void";
  }

  // ---- Names of structs, unions and enums -----------------------------

  void name_types() {
    for (uint32_t id = 1; id < btf_.type_count(); ++id) {
      const BtfType& t = btf_.type(id);
      if ((is_record(t.kind) || is_enum(t.kind)) && !t.name.empty()) names_[id] = std::string(t.name);
    }
    // Anonymous enums depend on nothing; anonymous structs may contain other
    // anonymous types, whose names enter their definition: name those first.
    for (uint32_t id = 1; id < btf_.type_count(); ++id) {
      const BtfType& t = btf_.type(id);
      if (is_enum(t.kind) && t.name.empty()) names_[id] = unique_anonymous_name(id);
    }
    std::vector<uint8_t> state(btf_.type_count(), 0);  // 0 new, 1 in progress, 2 named
    struct Frame {
      uint32_t id;
      std::vector<uint32_t> dependencies;
      size_t next = 0;
    };
    std::vector<Frame> stack;
    auto enter = [&](uint32_t id) {
      state[id] = 1;
      Frame frame{id, {}, 0};
      anonymous_dependencies(id, frame.dependencies);
      stack.push_back(std::move(frame));
    };
    for (uint32_t root = 1; root < btf_.type_count(); ++root) {
      const BtfType& t = btf_.type(root);
      if (!is_record(t.kind) || !t.name.empty() || state[root] != 0) continue;
      enter(root);
      while (!stack.empty()) {
        Frame& top = stack.back();
        if (top.next < top.dependencies.size()) {
          uint32_t dep = top.dependencies[top.next++];
          // state 1: a containment cycle, only possible in forged BTF; the
          // type is then spelled with an empty name, which is harmless.
          if (state[dep] == 0) enter(dep);
          continue;
        }
        names_[top.id] = unique_anonymous_name(top.id);
        state[top.id] = 2;
        stack.pop_back();
      }
    }
  }

  // Anonymous structs/unions whose names the spelling of `id`'s members needs.
  void anonymous_dependencies(uint32_t id, std::vector<uint32_t>& out) const {
    for (const BtfMember& m : btf_.members(btf_.type(id))) {
      uint32_t cur = m.type;
      for (unsigned step = 0; step <= Btf::kMaxChainDepth; ++step) {
        const BtfType& t = btf_.type(cur);
        if (is_record(t.kind)) {
          if (t.name.empty()) out.push_back(cur);
          break;
        }
        if (t.kind == BtfKind::kTypedef) {
          const BtfType& target = btf_.type(btf_.strip_qualifiers(t.type));
          if (!t.name.empty() && (is_record(target.kind) || target.kind == BtfKind::kForward)) break;
        }
        if (!btf_is_chain_kind(t.kind)) break;
        cur = t.type;
      }
    }
  }

  // What makes two anonymous types the same: kind, size and members (or
  // enumerators), with member types as the profile describes them.
  std::string canonical_definition(uint32_t id) const {
    const BtfType& t = btf_.type(id);
    std::string text =
        std::string(btf_kind_name(t.kind)) + " " + std::to_string(t.size) + (t.kind_flag ? " k" : "") + " {";
    if (is_enum(t.kind)) {
      for (const BtfEnumerator& e : btf_.enumerators(t))
        text.append(e.name).append("=").append(std::to_string(e.as_signed())).append(";");
    } else {
      for (const BtfMember& m : btf_.members(t))
        text.append(m.name)
            .append("@")
            .append(std::to_string(m.bit_offset))
            .append(":")
            .append(std::to_string(m.bitfield_size))
            .append(" ")
            .append(spelling(m.type))
            .append(";");
    }
    return text + "}";
  }

  std::string unique_anonymous_name(uint32_t id) {
    std::string definition = canonical_definition(id);
    std::string name = std::string("unnamed_").append(hex16(XXH3_64bits(definition.data(), definition.size())));
    auto [it, inserted] = anonymous_definitions_.emplace(name, definition);
    if (!inserted && it->second != definition) {
      name.append(1, '_').append(std::to_string(id));  // a hash collision between different definitions
      anonymous_definitions_.emplace(name, std::move(definition));
    }
    return name;
  }

  // ---- Definitions --------------------------------------------------------

  struct BaseInfo {
    uint64_t size;
    BaseKind kind;
    bool is_signed;
  };

  void define_base(const std::string& name, BaseInfo info) {
    if (!bases_.emplace(name, info).second) return;
    builder_.define_base(builder_.named(TypeKind::kBase, name), info.size, info.kind, info.is_signed);
  }

  void base_types() {
    for (uint32_t id = 1; id < btf_.type_count(); ++id) {
      const BtfType& t = btf_.type(id);
      if (t.name.empty()) continue;
      std::string name(t.name);
      if (t.kind == BtfKind::kInt) {
        const bool is_bool = t.int_encoding & kBtfIntBool;
        const bool is_char = (t.int_encoding & kBtfIntChar) ||
                             (t.size == 1 && (t.name == "char" || t.name == "signed char" || t.name == "unsigned char"));
        // dwarf2json marks _Bool signed (Go's DWARF reader has no unsigned bool).
        define_base(name, {t.size, is_bool ? BaseKind::kBool : is_char ? BaseKind::kChar : BaseKind::kInt,
                           is_bool || (t.int_encoding & kBtfIntSigned) != 0});
      } else if (t.kind == BtfKind::kFloat) {
        define_base(name, {t.size, BaseKind::kFloat, true});
      }
    }
    define_base("void", {0, BaseKind::kVoid, false});
    define_base("pointer", {btf_.pointer_size(), BaseKind::kInt, false});
    report_.base_types = bases_.size();
  }

  // Old BTF (before kind_flag existed) encodes a bitfield in its INT type:
  // bits narrower than the type, or a bit offset.
  const BtfType* legacy_bitfield_int(const BtfMember& m) const {
    const BtfType& t = btf_.type(btf_.strip_typedefs(m.type));
    if (t.kind == BtfKind::kInt && (t.int_offset != 0 || t.int_bits != t.size * 8)) return &t;
    return nullptr;
  }

  void define_record(const std::string& name, uint32_t id) {
    const BtfType& t = btf_.type(id);
    const TypeKind kind = t.kind == BtfKind::kStruct ? TypeKind::kStruct : TypeKind::kUnion;
    TypeRef ref = builder_.named(kind, name);
    builder_.define_record(ref, kind, t.size);
    uint64_t anonymous = 0;
    for (const BtfMember& m : btf_.members(t)) {
      uint64_t bit_offset = m.bit_offset;
      uint32_t bit_length = m.bitfield_size;
      if (bit_length == 0 && !t.kind_flag) {
        if (const BtfType* legacy = legacy_bitfield_int(m)) {
          bit_offset += legacy->int_offset;
          bit_length = legacy->int_bits;
        }
      }
      std::string member_name(m.name);
      const bool is_anonymous = member_name.empty();
      if (is_anonymous) member_name = "unnamed_field_" + lower_hex(anonymous++);
      TypeRef type = describe(m.type);
      if (bit_length != 0) {
        const BtfKind underlying = btf_.type(btf_.strip_typedefs(m.type)).kind;
        if (bit_length > 64 || (underlying != BtfKind::kInt && !is_enum(underlying))) {
          // Only forged BTF has these; the model cannot hold them.
          ++unusable_bitfields_;
          continue;
        }
        type = builder_.bitfield(type, unsigned(bit_offset % 8), bit_length);
      }
      builder_.add_member(ref, member_name, bit_offset / 8, type, is_anonymous);
    }
  }

  void records() {
    std::unordered_set<std::string> defined;
    std::set<std::string> duplicates;
    for (uint32_t id = 1; id < btf_.type_count(); ++id) {
      const BtfType& t = btf_.type(id);
      if (!is_record(t.kind)) continue;
      const std::string& name = record_name(id);
      if (!defined.insert(name).second) {
        // Two definitions under one name (static structs of different files):
        // the first is kept. Identical anonymous ones share a name silently.
        if (!t.name.empty()) duplicates.insert(name);
        continue;
      }
      define_record(name, id);
    }
    for (uint32_t id = 1; id < btf_.type_count(); ++id) {
      const BtfType& t = btf_.type(id);
      if (t.kind != BtfKind::kTypedef || t.name.empty()) continue;
      uint32_t target = btf_.strip_qualifiers(t.type);
      if (!is_record(btf_.type(target).kind)) continue;
      std::string name(t.name);
      if (defined.insert(name).second) define_record(name, target);
    }
    report_.user_types = defined.size();
    if (!duplicates.empty()) {
      std::string list;
      size_t listed = 0;
      for (auto it = duplicates.begin(); it != duplicates.end() && listed < 10; ++it, ++listed)
        list += (listed ? ", " : "") + *it;
      report_.warnings.push_back(std::to_string(duplicates.size()) +
                                 " struct/union names have several different definitions in the BTF; the first is kept (" +
                                 list + (duplicates.size() > 10 ? ", ..." : "") + ")");
    }
    if (unusable_bitfields_)
      report_.warnings.push_back(std::to_string(unusable_bitfields_) +
                                 " bitfield members wider than 64 bits or not of an integer type were left out");
  }

  void enums() {
    std::unordered_set<std::string> defined;
    for (uint32_t id = 1; id < btf_.type_count(); ++id) {
      const BtfType& t = btf_.type(id);
      if (!is_enum(t.kind)) continue;
      const std::string& name = record_name(id);
      if (!defined.insert(name).second) continue;
      bool negative = false;
      for (const BtfEnumerator& e : btf_.enumerators(t)) negative = negative || e.as_signed() < 0;
      // Like dwarf2json: the first integer base type, in name order, of the
      // enum's size and signedness.
      TypeRef base = void_;
      for (const auto& [base_name, info] : bases_)
        if (info.kind == BaseKind::kInt && info.size == t.size && info.is_signed == negative) {
          base = builder_.named(TypeKind::kBase, base_name);
          break;
        }
      TypeRef ref = builder_.named(TypeKind::kEnum, name);
      builder_.define_enum(ref, t.size, base);
      std::unordered_set<std::string_view> seen;
      for (const BtfEnumerator& e : btf_.enumerators(t))
        if (seen.insert(e.name).second) builder_.add_enumerator(ref, e.name, e.as_signed());
    }
    report_.enums = defined.size();
  }

  // ---- Symbols ----------------------------------------------------------

  // Bytes of a BTF type (0 for void, functions and incomplete types).
  uint64_t byte_size(uint32_t id) const {
    for (unsigned step = 0; step <= Btf::kMaxChainDepth; ++step) {
      const BtfType& t = btf_.type(id);
      switch (t.kind) {
        case BtfKind::kInt:
        case BtfKind::kFloat:
        case BtfKind::kStruct:
        case BtfKind::kUnion:
        case BtfKind::kEnum:
        case BtfKind::kEnum64:
          return t.size;
        case BtfKind::kPointer:
          return btf_.pointer_size();
        case BtfKind::kArray:
          return uint64_t{t.count} * byte_size(t.type);
        case BtfKind::kTypedef:
        case BtfKind::kVolatile:
        case BtfKind::kConst:
        case BtfKind::kRestrict:
        case BtfKind::kTypeTag:
          id = t.type;
          continue;
        default:
          return 0;
      }
    }
    return 0;
  }

  // Types named in the table of known globals, resolved against this BTF.
  // `extent`: the bytes up to the next symbol (0: unknown), which "[..]"
  // divides into elements.
  std::optional<TypeRef> resolve(const TypeDeclaration& decl, uint64_t extent) {
    if (name_index_.empty()) {
      for (uint32_t id = 1; id < btf_.type_count(); ++id)
        if (!btf_.type(id).name.empty()) name_index_[btf_.type(id).name].push_back(id);
    }
    auto candidates = [&](const std::string& name) -> const std::vector<uint32_t>& {
      static const std::vector<uint32_t> none;
      auto it = name_index_.find(name);
      return it == name_index_.end() ? none : it->second;
    };
    std::optional<TypeRef> base;
    uint64_t size = 0;
    switch (decl.tag) {
      case TypeDeclaration::Tag::kStruct:
      case TypeDeclaration::Tag::kUnion: {
        const bool want_union = decl.tag == TypeDeclaration::Tag::kUnion;
        for (uint32_t id : candidates(decl.name)) {
          const BtfType& t = btf_.type(id);
          if ((t.kind == (want_union ? BtfKind::kUnion : BtfKind::kStruct)) ||
              (t.kind == BtfKind::kForward && t.kind_flag == want_union)) {
            base = builder_.named(want_union ? TypeKind::kUnion : TypeKind::kStruct, decl.name);
            size = t.kind == BtfKind::kForward ? 0 : t.size;
            if (size) break;  // a definition, not only a forward declaration
          }
        }
        break;
      }
      case TypeDeclaration::Tag::kEnum:
        for (uint32_t id : candidates(decl.name))
          if (is_enum(btf_.type(id).kind)) {
            base = builder_.named(TypeKind::kEnum, decl.name);
            size = btf_.type(id).size;
            break;
          }
        break;
      case TypeDeclaration::Tag::kNone:
        if (decl.name == "void") {
          base = void_;
        } else if (decl.name == "function") {
          base = builder_.function();
        } else {
          for (uint32_t id : candidates(decl.name)) {
            BtfKind kind = btf_.type(id).kind;
            if (kind == BtfKind::kTypedef || kind == BtfKind::kInt || kind == BtfKind::kFloat) {
              base = describe(id);
              size = byte_size(id);
              break;
            }
          }
        }
        break;
    }
    if (!base) return std::nullopt;
    for (const TypeDeclaration::Suffix& suffix : decl.suffixes) {
      if (suffix.pointer) {
        base = builder_.pointer_to(*base);
        size = btf_.pointer_size();
      } else {
        const uint64_t count = suffix.to_next_symbol ? (size ? extent / size : 0) : suffix.count;
        base = builder_.array_of(*base, count);
        size *= count;
      }
    }
    return base;
  }

  std::optional<TypeRef> known_global_type(std::string_view symbol, uint64_t extent) {
    const KnownGlobalType* entry = find_known_global_type(symbol);
    if (!entry) return std::nullopt;
    for (const TypeDeclaration& decl : parse_type_declarations(entry->declaration))
      if (auto type = resolve(decl, extent)) return type;
    report_.warnings.push_back("symbol " + std::string(symbol) + ": its type '" + std::string(entry->declaration) +
                               "' is not in the BTF; left untyped");
    return std::nullopt;
  }

  struct SymbolEntry {
    std::string_view name;
    uint64_t address = 0;
    TypeRef type;
    bool from_btf_variable = false;
  };

  void symbols() {
    // Variables BTF describes: by name, with where their section puts them.
    struct BtfVariable {
      uint32_t type;
      std::string_view section;
      uint32_t offset;
    };
    std::unordered_map<std::string_view, BtfVariable> variables;
    for (uint32_t id = 1; id < btf_.type_count(); ++id) {
      const BtfType& section = btf_.type(id);
      for (const BtfSectionVar& v : btf_.section_vars(section)) {
        const BtfType& var = btf_.type(v.type);
        if (var.kind == BtfKind::kVariable && !var.name.empty())
          variables.emplace(var.name, BtfVariable{var.type, section.name, v.offset});
      }
    }

    // The symbol table, in order of first appearance: the last of repeated
    // names gives the address, as with dwarf2json...
    std::vector<SymbolEntry> entries;
    entries.reserve(map_.symbols.size() + 1024);
    std::unordered_map<std::string_view, uint32_t> index;
    index.reserve(map_.symbols.size() + 1024);
    std::optional<uint64_t> per_cpu_start;
    std::vector<std::pair<uint32_t, uint64_t>> variable_addresses;  // (entry, address) of BTF variables
    // Every address of a name listed more than once, each found by address
    // (ProfileBuilder::add_symbol_repeat; the one the name keeps is dropped
    // there): a pointer into a static function named like a variable
    // elsewhere is then named right.
    std::vector<std::pair<std::string_view, uint64_t>> repeats;
    for (const SystemMapSymbol& s : map_.symbols) {
      auto [it, inserted] = index.try_emplace(s.name, uint32_t(entries.size()));
      if (inserted) {
        entries.push_back(SymbolEntry{it->first, s.address, void_, false});
      } else {
        ++report_.duplicate_symbols;
        repeats.emplace_back(it->first, entries[it->second].address);
        repeats.emplace_back(it->first, s.address);
        entries[it->second].address = s.address;
      }
      if (s.name == "__per_cpu_start") per_cpu_start = s.address;
      if (!variables.empty() && variables.count(it->first)) variable_addresses.emplace_back(it->second, s.address);
    }
    // ...except that a per-CPU variable's name may also belong to another
    // (static) symbol: the per-CPU one is the entry at __per_cpu_start + its
    // offset, and only that entry may take its BTF type.
    std::unordered_map<uint32_t, std::vector<uint64_t>> addresses_of;
    for (const auto& [entry, address] : variable_addresses) addresses_of[entry].push_back(address);
    size_t percpu_conflicts = 0;
    for (const auto& [i, addresses] : addresses_of) {
      SymbolEntry& entry = entries[i];
      const BtfVariable& var = variables.at(entry.name);
      entry.from_btf_variable = true;
      if (var.section == kPerCpuSection && per_cpu_start) {
        const uint64_t expected = *per_cpu_start + var.offset;
        if (std::find(addresses.begin(), addresses.end(), expected) == addresses.end()) {
          ++percpu_conflicts;  // the symbol table's entry of that name is another variable
          continue;
        }
        entry.address = expected;
      }
      entry.type = describe(var.type);
      ++report_.symbols_typed_by_btf;
    }
    if (percpu_conflicts)
      report_.warnings.push_back(std::to_string(percpu_conflicts) +
                                 " per-CPU variables of the BTF share their name with a symbol at another "
                                 "address; those symbols are left untyped");
    // The table of known globals (its warnings in name order). Where an
    // array's length is the kernel's constant, the symbol table measures
    // it: the bytes up to the next symbol's address.
    std::vector<uint64_t> addresses;
    addresses.reserve(entries.size());
    for (const SymbolEntry& entry : entries) addresses.push_back(entry.address);
    for (const auto& repeat : repeats) addresses.push_back(repeat.second);  // symbols too: an array ends there
    std::sort(addresses.begin(), addresses.end());
    auto extent = [&](uint64_t address) -> uint64_t {
      auto next = std::upper_bound(addresses.begin(), addresses.end(), address);
      return next == addresses.end() ? 0 : *next - address;
    };
    const size_t warnings_before = report_.warnings.size();
    for (SymbolEntry& entry : entries) {
      if (entry.from_btf_variable) continue;
      if (auto type = known_global_type(entry.name, extent(entry.address))) {
        entry.type = *type;
        ++report_.symbols_typed_by_table;
      }
    }
    std::sort(report_.warnings.begin() + std::ptrdiff_t(warnings_before), report_.warnings.end());

    // Per-CPU variables the symbol table lacks: their offset in .data..percpu
    // is their address relative to __per_cpu_start.
    if (per_cpu_start) {
      const size_t first_added = entries.size();
      for (const auto& [name, var] : variables) {
        if (var.section != kPerCpuSection || index.count(name)) continue;
        entries.push_back(SymbolEntry{name, *per_cpu_start + var.offset, describe(var.type), true});
        ++report_.percpu_symbols_added;
        ++report_.symbols_typed_by_btf;
      }
      std::sort(entries.begin() + std::ptrdiff_t(first_added), entries.end(),
                [](const SymbolEntry& a, const SymbolEntry& b) { return a.name < b.name; });
    }

    if (options_.banner && !index.count("linux_banner"))
      report_.warnings.push_back("the symbol table has no linux_banner symbol; the banner is not recorded");
    for (const SymbolEntry& entry : entries) builder_.add_symbol(entry.name, entry.address, entry.type);
    for (const auto& [name, address] : repeats) builder_.add_symbol_repeat(name, address);
    report_.symbols = entries.size();
  }

  const Btf& btf_;
  const SystemMap& map_;
  const ProfileFromBtfOptions& options_;
  IsfFromBtfReport& report_;
  ProfileBuilder builder_;
  TypeRef void_;
  std::vector<std::string> names_;  // per type id: the name of structs, unions, enums
  std::vector<TypeRef> refs_;       // per type id: its profile type, once made
  std::map<std::string, BaseInfo> bases_;  // in name order, as enum bases are chosen
  std::unordered_map<std::string, std::string> anonymous_definitions_;  // name -> definition
  std::unordered_map<std::string_view, std::vector<uint32_t>> name_index_;
  size_t unusable_bitfields_ = 0;
};

}  // namespace

std::shared_ptr<const Profile> profile_from_btf(const Btf& btf, const SystemMap& symbols,
                                                const ProfileFromBtfOptions& options, IsfFromBtfReport* report) {
  IsfFromBtfReport local;
  Generator generator(btf, symbols, options, report ? *report : local);
  return generator.run();
}

}  // namespace memscope
