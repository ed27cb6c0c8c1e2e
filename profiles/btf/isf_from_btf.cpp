#include "profiles/btf/isf_from_btf.h"

#include <openssl/evp.h>
#include <xxhash.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/util/error.h"
#include "profiles/btf/global_types.h"

#ifndef MEMSCOPE_VERSION
#define MEMSCOPE_VERSION "0.0.0"
#endif

namespace memscope {

using nlohmann::json;

namespace {

constexpr const char* kIsfFormat = "6.2.0";
constexpr std::string_view kPerCpuSection = ".data..percpu";

json base_ref(std::string_view name) { return json{{"kind", "base"}, {"name", name}}; }
json void_ref() { return base_ref("void"); }
json function_ref() { return json{{"kind", "function"}}; }
json pointer_to(json subtype) { return json{{"kind", "pointer"}, {"subtype", std::move(subtype)}}; }
json array_of(json subtype, uint64_t count) {
  return json{{"count", count}, {"kind", "array"}, {"subtype", std::move(subtype)}};
}

// A stable 64-bit hash (XXH3, the same on every host) for naming anonymous
// types. Collisions are detected and resolved, so it needs no
// cryptographic strength.
uint64_t stable_hash(std::string_view text) { return XXH3_64bits(text.data(), text.size()); }

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

class Generator {
 public:
  Generator(const Btf& btf, const SystemMap& map, const IsfFromBtfOptions& options, IsfFromBtfReport& report)
      : btf_(btf), map_(map), options_(options), report_(report), names_(btf.type_count()) {}

  json run() {
    name_types();
    json doc;
    doc["metadata"] = metadata();
    doc["base_types"] = base_types();
    doc["user_types"] = user_types();
    doc["enums"] = enums(doc["base_types"]);
    doc["symbols"] = symbols();
    report_.base_types = doc["base_types"].size();
    report_.user_types = doc["user_types"].size();
    report_.enums = doc["enums"].size();
    report_.symbols = doc["symbols"].size();
    return doc;
  }

 private:
  // ---- Type descriptors ----------------------------------------------

  // The ISF descriptor of a type reference. Recursion follows pointer,
  // array, typedef and qualifier chains only, which the parser proved
  // finite and at most Btf::kMaxChainDepth long.
  json describe(uint32_t id) const {
    const BtfType& t = btf_.type(id);
    switch (t.kind) {
      case BtfKind::kVoid:
      case BtfKind::kDataSection:
        return void_ref();
      case BtfKind::kInt:
      case BtfKind::kFloat:
        return t.name.empty() ? void_ref() : base_ref(t.name);
      case BtfKind::kPointer:
        return pointer_to(describe(t.type));
      case BtfKind::kArray:
        return array_of(describe(t.type), t.count);
      case BtfKind::kStruct:
      case BtfKind::kUnion:
        return json{{"kind", t.kind == BtfKind::kStruct ? "struct" : "union"}, {"name", names_[id]}};
      case BtfKind::kEnum:
      case BtfKind::kEnum64:
        return json{{"kind", "enum"}, {"name", names_[id]}};
      case BtfKind::kForward:
        if (t.name.empty()) return void_ref();
        return json{{"kind", t.kind_flag ? "union" : "struct"}, {"name", t.name}};
      case BtfKind::kTypedef: {
        // A typedef of a struct/union keeps its own name (dwarf2json does the
        // same and defines the typedef name as a copy of the struct).
        const BtfType& target = btf_.type(btf_.strip_qualifiers(t.type));
        if (!t.name.empty() && (is_record(target.kind) || target.kind == BtfKind::kForward)) {
          bool is_union = target.kind == BtfKind::kUnion || (target.kind == BtfKind::kForward && target.kind_flag);
          return json{{"kind", is_union ? "union" : "struct"}, {"name", t.name}};
        }
        return describe(t.type);
      }
      case BtfKind::kVolatile:
      case BtfKind::kConst:
      case BtfKind::kRestrict:
      case BtfKind::kTypeTag:
      case BtfKind::kVariable:
      case BtfKind::kDeclTag:
        return describe(t.type);
      case BtfKind::kFunction:
      case BtfKind::kFunctionProto:
        return function_ref();
    }
    return void_ref();
  }

  // Old BTF (before kind_flag existed) encodes a bitfield in its INT type:
  // bits narrower than the type, or a bit offset.
  const BtfType* legacy_bitfield_int(const BtfMember& m) const {
    const BtfType& t = btf_.type(btf_.strip_typedefs(m.type));
    if (t.kind == BtfKind::kInt && (t.int_offset != 0 || t.int_bits != t.size * 8)) return &t;
    return nullptr;
  }

  json record(uint32_t id) const {
    const BtfType& t = btf_.type(id);
    json fields = json::object();
    uint64_t anonymous = 0;
    for (const BtfMember& m : btf_.members(t)) {
      json field;
      uint64_t bit_offset = m.bit_offset;
      uint32_t bit_length = m.bitfield_size;
      if (bit_length == 0 && !t.kind_flag) {
        if (const BtfType* legacy = legacy_bitfield_int(m)) {
          bit_offset += legacy->int_offset;
          bit_length = legacy->int_bits;
        }
      }
      if (bit_length != 0) {
        field["type"] = json{{"bit_length", bit_length},
                             {"bit_position", bit_offset % 8},
                             {"kind", "bitfield"},
                             {"type", describe(m.type)}};
      } else {
        field["type"] = describe(m.type);
      }
      field["offset"] = bit_offset / 8;
      std::string name(m.name);
      if (name.empty()) {
        name = "unnamed_field_" + lower_hex(anonymous++);
        field["anonymous"] = true;
      }
      fields[name] = std::move(field);
    }
    return json{{"fields", std::move(fields)},
                {"kind", t.kind == BtfKind::kStruct ? "struct" : "union"},
                {"size", t.size}};
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
          // type is then described with an empty name, which is harmless.
          if (state[dep] == 0) enter(dep);
          continue;
        }
        names_[top.id] = unique_anonymous_name(top.id);
        state[top.id] = 2;
        stack.pop_back();
      }
    }
  }

  // Anonymous structs/unions whose names describe() needs for `id`'s members.
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
  // enumerators), with member types as ISF describes them.
  std::string canonical_definition(uint32_t id) const {
    const BtfType& t = btf_.type(id);
    std::string text = std::string(btf_kind_name(t.kind)) + " " + std::to_string(t.size) + (t.kind_flag ? " k" : "") + " {";
    if (is_enum(t.kind)) {
      for (const BtfEnumerator& e : btf_.enumerators(t))
        text += std::string(e.name) + "=" + std::to_string(e.as_signed()) + ";";
    } else {
      for (const BtfMember& m : btf_.members(t))
        text += std::string(m.name) + "@" + std::to_string(m.bit_offset) + ":" + std::to_string(m.bitfield_size) + " " +
                describe(m.type).dump() + ";";
    }
    return text + "}";
  }

  std::string unique_anonymous_name(uint32_t id) {
    std::string definition = canonical_definition(id);
    std::string name = std::string("unnamed_").append(hex16(stable_hash(definition)));
    auto [it, inserted] = anonymous_definitions_.emplace(name, definition);
    if (!inserted && it->second != definition) {
      name.append(1, '_').append(std::to_string(id));  // a hash collision between different definitions
      anonymous_definitions_.emplace(name, std::move(definition));
    }
    return name;
  }

  // ---- Sections of the document ---------------------------------------

  json metadata() const {
    json map_source{{"kind", "system-map"},
                    {"name", std::filesystem::path(map_.source).filename().string()}};
    if (!options_.system_map_sha256.empty()) {
      map_source["hash_type"] = "sha256";
      map_source["hash_value"] = options_.system_map_sha256;
    }
    // ISF metadata has no "btf" source kind (the schema allows dwarf,
    // symtab and system-map), so the types' origin is told by the producer.
    return json{{"format", kIsfFormat},
                {"linux", json{{"symbols", json::array({map_source})}}},
                {"producer",
                 json{{"name", "memscope"},
                      {"version", options_.producer_version.empty() ? MEMSCOPE_VERSION : options_.producer_version}}}};
  }

  json base_types() const {
    const char* endian = btf_.big_endian() ? "big" : "little";
    json out = json::object();
    for (uint32_t id = 1; id < btf_.type_count(); ++id) {
      const BtfType& t = btf_.type(id);
      if (t.name.empty() || out.contains(t.name)) continue;
      if (t.kind == BtfKind::kInt) {
        const bool is_bool = t.int_encoding & kBtfIntBool;
        const bool is_char = (t.int_encoding & kBtfIntChar) ||
                             (t.size == 1 && (t.name == "char" || t.name == "signed char" || t.name == "unsigned char"));
        // dwarf2json marks _Bool signed (Go's DWARF reader has no unsigned bool).
        out[t.name] = json{{"endian", endian},
                           {"kind", is_bool ? "bool" : is_char ? "char" : "int"},
                           {"signed", is_bool || (t.int_encoding & kBtfIntSigned) != 0},
                           {"size", t.size}};
      } else if (t.kind == BtfKind::kFloat) {
        out[t.name] = json{{"endian", endian}, {"kind", "float"}, {"signed", true}, {"size", t.size}};
      }
    }
    out["void"] = json{{"endian", endian}, {"kind", "void"}, {"signed", false}, {"size", 0}};
    out["pointer"] = json{{"endian", endian}, {"kind", "int"}, {"signed", false}, {"size", btf_.pointer_size()}};
    return out;
  }

  json user_types() {
    json out = json::object();
    std::set<std::string> duplicates;
    for (uint32_t id = 1; id < btf_.type_count(); ++id) {
      const BtfType& t = btf_.type(id);
      if (!is_record(t.kind)) continue;
      const std::string& name = names_[id];
      if (out.contains(name)) {
        // Two definitions under one name (static structs of different files):
        // the first is kept. Identical anonymous ones share a name silently.
        if (!t.name.empty()) duplicates.insert(name);
        continue;
      }
      out[name] = record(id);
    }
    for (uint32_t id = 1; id < btf_.type_count(); ++id) {
      const BtfType& t = btf_.type(id);
      if (t.kind != BtfKind::kTypedef || t.name.empty() || out.contains(t.name)) continue;
      uint32_t target = btf_.strip_qualifiers(t.type);
      if (is_record(btf_.type(target).kind)) out[t.name] = record(target);
    }
    if (!duplicates.empty()) {
      std::string list;
      size_t listed = 0;
      for (auto it = duplicates.begin(); it != duplicates.end() && listed < 10; ++it, ++listed)
        list += (listed ? ", " : "") + *it;
      report_.warnings.push_back(std::to_string(duplicates.size()) +
                                 " struct/union names have several different definitions in the BTF; the first is kept (" +
                                 list + (duplicates.size() > 10 ? ", ..." : "") + ")");
    }
    return out;
  }

  json enums(const json& base_types) const {
    json out = json::object();
    for (uint32_t id = 1; id < btf_.type_count(); ++id) {
      const BtfType& t = btf_.type(id);
      if (!is_enum(t.kind) || out.contains(names_[id])) continue;
      json constants = json::object();
      bool negative = false;
      for (const BtfEnumerator& e : btf_.enumerators(t)) {
        constants[std::string(e.name)] = e.as_signed();
        negative = negative || e.as_signed() < 0;
      }
      // Like dwarf2json: the first integer base type, in name order, of the
      // enum's size and signedness.
      std::string base = "void";
      for (const auto& [name, info] : base_types.items()) {
        if (info["kind"] == "int" && info["size"] == t.size && info["signed"] == negative) {
          base = name;
          break;
        }
      }
      out[names_[id]] = json{{"base", base}, {"constants", std::move(constants)}, {"size", t.size}};
    }
    return out;
  }

  // Types named in the table of known globals, resolved against this BTF.
  std::optional<json> resolve(const TypeDeclaration& decl) {
    if (name_index_.empty()) {
      for (uint32_t id = 1; id < btf_.type_count(); ++id)
        if (!btf_.type(id).name.empty()) name_index_[btf_.type(id).name].push_back(id);
    }
    auto candidates = [&](const std::string& name) -> const std::vector<uint32_t>& {
      static const std::vector<uint32_t> none;
      auto it = name_index_.find(name);
      return it == name_index_.end() ? none : it->second;
    };
    std::optional<json> base;
    switch (decl.tag) {
      case TypeDeclaration::Tag::kStruct:
      case TypeDeclaration::Tag::kUnion: {
        const bool want_union = decl.tag == TypeDeclaration::Tag::kUnion;
        for (uint32_t id : candidates(decl.name)) {
          const BtfType& t = btf_.type(id);
          if ((t.kind == (want_union ? BtfKind::kUnion : BtfKind::kStruct)) ||
              (t.kind == BtfKind::kForward && t.kind_flag == want_union)) {
            base = json{{"kind", want_union ? "union" : "struct"}, {"name", decl.name}};
            break;
          }
        }
        break;
      }
      case TypeDeclaration::Tag::kEnum:
        for (uint32_t id : candidates(decl.name))
          if (is_enum(btf_.type(id).kind)) {
            base = json{{"kind", "enum"}, {"name", decl.name}};
            break;
          }
        break;
      case TypeDeclaration::Tag::kNone:
        if (decl.name == "void") {
          base = void_ref();
        } else if (decl.name == "function") {
          base = function_ref();
        } else {
          for (uint32_t id : candidates(decl.name)) {
            BtfKind kind = btf_.type(id).kind;
            if (kind == BtfKind::kTypedef || kind == BtfKind::kInt || kind == BtfKind::kFloat) {
              base = describe(id);
              break;
            }
          }
        }
        break;
    }
    if (!base) return std::nullopt;
    for (const TypeDeclaration::Suffix& suffix : decl.suffixes)
      base = suffix.pointer ? pointer_to(std::move(*base)) : array_of(std::move(*base), suffix.count);
    return base;
  }

  std::optional<json> known_global_type(std::string_view symbol) {
    const KnownGlobalType* entry = find_known_global_type(symbol);
    if (!entry) return std::nullopt;
    for (const TypeDeclaration& decl : parse_type_declarations(entry->declaration))
      if (auto type = resolve(decl)) return type;
    report_.warnings.push_back("symbol " + std::string(symbol) + ": its type '" + std::string(entry->declaration) +
                               "' is not in the BTF; left untyped");
    return std::nullopt;
  }

  json symbols() {
    json out = json::object();
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

    // System.map: the last of repeated names wins, as with dwarf2json...
    std::optional<uint64_t> per_cpu_start;
    std::unordered_map<std::string_view, std::vector<uint64_t>> variable_addresses;
    for (const SystemMapSymbol& s : map_.symbols) {
      json& entry = out[s.name];
      if (entry.is_null()) {
        entry = json{{"address", s.address}, {"type", void_ref()}};
      } else {
        ++report_.duplicate_symbols;
        entry["address"] = s.address;
      }
      if (s.name == "__per_cpu_start") per_cpu_start = s.address;
      auto var = variables.find(s.name);
      if (var != variables.end()) variable_addresses[var->first].push_back(s.address);
    }
    // ...except that a per-CPU variable's name may also belong to another
    // (static) symbol: the per-CPU one is the entry at __per_cpu_start + its
    // offset, and only that entry may take its BTF type.
    size_t percpu_conflicts = 0;
    for (const auto& [name, addresses] : variable_addresses) {
      const BtfVariable& var = variables.at(name);
      json& entry = out[std::string(name)];
      if (var.section == kPerCpuSection && per_cpu_start) {
        const uint64_t expected = *per_cpu_start + var.offset;
        if (std::find(addresses.begin(), addresses.end(), expected) == addresses.end()) {
          ++percpu_conflicts;  // System.map's symbol of that name is another variable
          continue;
        }
        entry["address"] = expected;
      }
      entry["type"] = describe(var.type);
      ++report_.symbols_typed_by_btf;
    }
    if (percpu_conflicts)
      report_.warnings.push_back(std::to_string(percpu_conflicts) +
                                 " per-CPU variables of the BTF share their name with a System.map symbol at another "
                                 "address; those symbols are left untyped");
    for (auto& [name, entry] : out.items()) {
      if (variable_addresses.count(name) || entry["type"] != void_ref()) continue;
      if (auto type = known_global_type(name)) {
        entry["type"] = std::move(*type);
        ++report_.symbols_typed_by_table;
      }
    }

    // Per-CPU variables System.map lacks: their offset in .data..percpu is
    // their address relative to __per_cpu_start.
    if (per_cpu_start) {
      for (const auto& [name, var] : variables) {
        if (var.section != kPerCpuSection || out.contains(name)) continue;
        out[std::string(name)] = json{{"address", *per_cpu_start + var.offset}, {"type", describe(var.type)}};
        ++report_.percpu_symbols_added;
        ++report_.symbols_typed_by_btf;
      }
    }

    if (options_.banner) {
      auto banner = out.find("linux_banner");
      if (banner == out.end())
        report_.warnings.push_back("System.map has no linux_banner symbol; the banner is not recorded");
      else
        (*banner)["constant_data"] = base64_encode(linux_banner_constant_data(*options_.banner));
    }
    return out;
  }

  const Btf& btf_;
  const SystemMap& map_;
  const IsfFromBtfOptions& options_;
  IsfFromBtfReport& report_;
  std::vector<std::string> names_;  // per type id: ISF name of structs, unions, enums
  std::unordered_map<std::string, std::string> anonymous_definitions_;  // name -> definition
  std::unordered_map<std::string_view, std::vector<uint32_t>> name_index_;
};

}  // namespace

std::string linux_banner_constant_data(const std::string& banner) {
  std::string bytes = banner;
  if (bytes.empty() || bytes.back() != '\n') bytes += '\n';
  bytes += '\0';
  return bytes;
}

std::string base64_encode(std::string_view bytes) {
  if (bytes.empty()) return {};
  if (bytes.size() > size_t(INT_MAX) / 4 * 3) throw Error("base64: input too large");
  // EVP_EncodeBlock writes 4 characters per 3 bytes, padded, plus a NUL.
  std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), int(bytes.size()));
  out.resize(size_t(n));
  return out;
}

json isf_from_btf(const Btf& btf, const SystemMap& system_map, const IsfFromBtfOptions& options,
                  IsfFromBtfReport* report) {
  IsfFromBtfReport local;
  Generator generator(btf, system_map, options, report ? *report : local);
  return generator.run();
}

json isf_from_btf_files(const std::string& btf_path, const std::string& system_map_path,
                        const IsfFromBtfOptions& options, IsfFromBtfReport* report) {
  Btf btf = Btf::load(btf_path);
  SystemMap map = load_system_map(system_map_path);
  if (report && map.skipped_lines)
    report->warnings.push_back(system_map_path + ": " + std::to_string(map.skipped_lines) +
                               " lines were not symbols and were skipped (first: line " +
                               std::to_string(map.first_skipped_line) + ")");
  return isf_from_btf(btf, map, options, report);
}

}  // namespace memscope
