// The synthetic kernel's type layout (SyntheticLinux::Layout) and the ISF
// type helpers, shared by the files that build parts of the synthetic image
// (synthetic_linux.cpp, and builders of other kernel structures in
// support/synthetic_*.cpp), so that each adds its types to the one profile
// and writes its fields where that profile says.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "support/synthetic_linux.h"

namespace memscope::test {

namespace synthetic {

using nlohmann::json;

inline json base_t(const std::string& name) { return {{"kind", "base"}, {"name", name}}; }
inline json ptr_t(json target) { return {{"kind", "pointer"}, {"subtype", std::move(target)}}; }
inline json array_t(json element, uint64_t count) {
  return {{"kind", "array"}, {"count", count}, {"subtype", std::move(element)}};
}
inline json struct_t(const std::string& name) { return {{"kind", "struct"}, {"name", name}}; }
inline json enum_t(const std::string& name) { return {{"kind", "enum"}, {"name", name}}; }

}  // namespace synthetic

// The types of the synthetic profile: written out as ISF, and used by the
// builder to place every field it writes (so image and profile agree).
class SyntheticLinux::Layout {
 public:
  using json = synthetic::json;

  struct Field {
    std::string name;
    uint64_t offset;
    json type;
    bool anonymous = false;
  };
  struct Resolved {
    uint64_t offset = 0;
    uint64_t size = 0;
  };

  void base(const std::string& name, uint64_t size, const std::string& kind, bool is_signed) {
    base_types_[name] = {{"size", size}, {"signed", is_signed}, {"kind", kind}, {"endian", "little"}};
  }
  void record(const std::string& name, uint64_t size, std::vector<Field> fields) {
    json out = json::object();
    for (const Field& f : fields) {
      json entry = {{"type", f.type}, {"offset", f.offset}};
      if (f.anonymous) entry["anonymous"] = true;
      out[f.name] = entry;
      if (f.offset + size_of(f.type) > size)
        throw std::logic_error("synthetic layout: " + name + "." + f.name + " overflows the struct");
    }
    user_types_[name] = {{"size", size}, {"fields", out}, {"kind", "struct"}};
    fields_[name] = std::move(fields);
    sizes_[name] = size;
  }
  // Adds members to a record made before: a builder of other structures
  // (support/synthetic_*.cpp) giving an existing struct the fields it needs.
  void extend(const std::string& name, const std::vector<Field>& more) {
    std::vector<Field> fields = fields_.at(name);
    fields.insert(fields.end(), more.begin(), more.end());
    record(name, sizes_.at(name), std::move(fields));
  }
  void enumeration(const std::string& name, const std::vector<std::pair<std::string, int64_t>>& constants) {
    json values = json::object();
    for (const auto& [key, value] : constants) values[key] = value;
    enums_[name] = {{"size", 4}, {"base", "unsigned int"}, {"constants", values}};
    constants_[name] = constants;
  }
  int64_t constant(const std::string& enum_name, const std::string& key) const {
    for (const auto& [k, v] : constants_.at(enum_name))
      if (k == key) return v;
    throw std::logic_error("synthetic layout: no " + enum_name + "::" + key);
  }

  uint64_t size_of(const json& type) const {
    const std::string kind = type.at("kind");
    if (kind == "base") return base_types_.at(type.at("name").get<std::string>()).at("size");
    if (kind == "pointer") return 8;
    if (kind == "array") return type.at("count").get<uint64_t>() * size_of(type.at("subtype"));
    if (kind == "struct" || kind == "union") return sizes_.at(type.at("name").get<std::string>());
    if (kind == "enum") return enums_.at(type.at("name").get<std::string>()).at("size");
    if (kind == "bitfield") return size_of(type.at("type"));
    throw std::logic_error("synthetic layout: no size for kind " + kind);
  }
  uint64_t record_size(const std::string& record) const { return sizes_.at(record); }

  // "a.b" through embedded structs; anonymous members are searched too.
  Resolved resolve(const std::string& type, const std::string& path) const {
    Resolved out;
    std::string current = type;
    size_t start = 0;
    while (true) {
      size_t dot = path.find('.', start);
      std::string name = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      const Field* field = find(current, name, out.offset);
      if (!field) throw std::logic_error("synthetic layout: no " + current + "." + name);
      out.offset += field->offset;
      out.size = size_of(field->type);
      if (dot == std::string::npos) return out;
      current = field->type.at("name");
      start = dot + 1;
    }
  }

  json to_json_types() const {
    return {{"base_types", base_types_}, {"user_types", user_types_}, {"enums", enums_}};
  }

 private:
  // A member of `record` by name; for one inside an anonymous member,
  // `offset` gets that member's offset added.
  const Field* find(const std::string& record, const std::string& name, uint64_t& offset) const {
    const auto& fields = fields_.at(record);
    for (const Field& f : fields)
      if (!f.anonymous && f.name == name) return &f;
    for (const Field& f : fields) {
      if (!f.anonymous) continue;
      uint64_t inner = 0;
      if (const Field* hit = find(f.type.at("name"), name, inner)) {
        offset += f.offset + inner;
        return hit;
      }
    }
    return nullptr;
  }

  json base_types_ = json::object(), user_types_ = json::object(), enums_ = json::object();
  std::map<std::string, std::vector<Field>> fields_;
  std::map<std::string, uint64_t> sizes_;
  std::map<std::string, std::vector<std::pair<std::string, int64_t>>> constants_;
};

}  // namespace memscope::test
