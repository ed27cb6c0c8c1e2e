#include "profiles/btf/isf_from_profile.h"

#include <openssl/evp.h>

#include <climits>

#include "core/util/error.h"

namespace memscope {

using nlohmann::json;

namespace {

const char* base_kind_name(BaseKind kind) {
  switch (kind) {
    case BaseKind::kInt: return "int";
    case BaseKind::kChar: return "char";
    case BaseKind::kBool: return "bool";
    case BaseKind::kFloat: return "float";
    case BaseKind::kVoid: return "void";
  }
  return "int";
}

class Exporter {
 public:
  Exporter(const Profile& profile, const IsfExportOptions& options) : profile_(profile), options_(options) {}

  json run() {
    json doc;
    doc["metadata"] = metadata();
    json bases = json::object(), records = json::object(), enums = json::object();
    for (const TypeInfo& t : profile_.types()) {
      if (!t.defined) continue;
      const std::string name(profile_.name(t));
      switch (t.kind) {
        case TypeKind::kBase:
          bases[name] = json{{"endian", options_.big_endian ? "big" : "little"},
                             {"kind", base_kind_name(t.base)},
                             {"signed", t.is_signed != 0},
                             {"size", t.size}};
          break;
        case TypeKind::kStruct:
        case TypeKind::kUnion:
          records[name] = record(t);
          break;
        case TypeKind::kEnum:
          enums[name] = enumeration(t);
          break;
        default:
          break;
      }
    }
    doc["base_types"] = std::move(bases);
    doc["user_types"] = std::move(records);
    doc["enums"] = std::move(enums);
    doc["symbols"] = symbols();
    return doc;
  }

 private:
  json metadata() const {
    const ProfileMetadata& meta = profile_.metadata();
    json linux = json::object();
    if (!options_.symbols_name.empty()) {
      json source{{"kind", options_.symbols_kind}, {"name", options_.symbols_name}};
      if (!options_.symbols_sha256.empty()) {
        source["hash_type"] = "sha256";
        source["hash_value"] = options_.symbols_sha256;
      }
      linux["symbols"] = json::array({source});
    }
    return json{{"format", meta.format_version.empty() ? std::string("6.2.0") : meta.format_version},
                {"linux", std::move(linux)},
                {"producer", json{{"name", meta.producer_name}, {"version", meta.producer_version}}}};
  }

  // A type reference as ISF spells it. Derived types always come after
  // their targets in a profile, so the recursion ends.
  json describe(TypeRef ref) const {
    if (!ref.valid()) return json{{"kind", "base"}, {"name", "void"}};
    const TypeInfo& t = profile_.type(ref);
    switch (t.kind) {
      case TypeKind::kBase:
        return json{{"kind", "base"}, {"name", profile_.name(t)}};
      case TypeKind::kPointer:
        return json{{"kind", "pointer"}, {"subtype", describe(t.target)}};
      case TypeKind::kArray:
        return json{{"count", t.count}, {"kind", "array"}, {"subtype", describe(t.target)}};
      case TypeKind::kStruct:
        return json{{"kind", "struct"}, {"name", profile_.name(t)}};
      case TypeKind::kUnion:
        return json{{"kind", "union"}, {"name", profile_.name(t)}};
      case TypeKind::kEnum:
        return json{{"kind", "enum"}, {"name", profile_.name(t)}};
      case TypeKind::kFunction:
        return json{{"kind", "function"}};
      case TypeKind::kBitfield:
        return json{{"bit_length", t.bit_length},
                    {"bit_position", t.bit_position},
                    {"kind", "bitfield"},
                    {"type", describe(t.target)}};
    }
    return json{{"kind", "base"}, {"name", "void"}};
  }

  json record(const TypeInfo& t) const {
    json fields = json::object();
    for (const MemberInfo& m : profile_.members(t)) {
      json field{{"offset", m.offset}, {"type", describe(m.type)}};
      if (m.anonymous) field["anonymous"] = true;
      fields[std::string(profile_.name(m))] = std::move(field);
    }
    return json{{"fields", std::move(fields)}, {"kind", t.kind == TypeKind::kUnion ? "union" : "struct"},
                {"size", t.size}};
  }

  json enumeration(const TypeInfo& t) const {
    json constants = json::object();
    for (const EnumeratorInfo& e : profile_.enumerators(t)) constants[std::string(profile_.name(e))] = e.value;
    std::string base = "void";
    if (t.target.valid()) base = std::string(profile_.name(profile_.type(t.target)));
    return json{{"base", base}, {"constants", std::move(constants)}, {"size", t.size}};
  }

  json symbols() const {
    json out = json::object();
    for (const SymbolInfo& s : profile_.symbols()) {
      // An ISF holds one address per name: the one find_symbol gives.
      if (s.repeat()) continue;
      out[std::string(profile_.name(s))] = json{{"address", s.address}, {"type", describe(s.type)}};
    }
    if (!profile_.banner().empty() && out.contains("linux_banner"))
      out["linux_banner"]["constant_data"] = base64_encode(linux_banner_constant_data(profile_.banner()));
    return out;
  }

  const Profile& profile_;
  const IsfExportOptions& options_;
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

json isf_from_profile(const Profile& profile, const IsfExportOptions& options) {
  return Exporter(profile, options).run();
}

}  // namespace memscope
