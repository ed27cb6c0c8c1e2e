#include "support/synthetic_self_description.h"

#include <algorithm>
#include <functional>
#include <map>
#include <stdexcept>

#include "btf_blob_builder.h"
#include "core/util/hex.h"

namespace memscope::test {
namespace {

using nlohmann::json;

constexpr uint64_t kKernelHalf = 0xffff800000000000ull;
// Free space in the synthetic kernel image (offsets from _text), between
// the objects the builders place (see support/synthetic_*.cpp).
constexpr uint64_t kKallsymsOffset = 0x280000;
constexpr uint64_t kBtfOffset = 0x300000;
constexpr uint64_t kBtfRoom = 0xe0000;
constexpr uint64_t kVmcoreinfoOffset = 0x3f0000;

// BTF type ids for ISF type descriptors, made as they are needed: records
// and enums have ids reserved up front (members refer to them before they
// are written), derived types get theirs in the order they are met.
class BtfFromIsf {
 public:
  explicit BtfFromIsf(const json& isf) : isf_(isf) {}

  std::vector<uint8_t> run() {
    // Integers and floats first.
    for (const auto& [name, base] : isf_.at("base_types").items()) {
      if (name == "void" || name == "pointer") continue;
      const std::string kind = base.at("kind");
      const uint32_t size = base.at("size");
      if (kind == "float") {
        base_ids_[name] = b_.floating(name, size);
        continue;
      }
      uint8_t encoding = base.at("signed").get<bool>() ? kBtfIntSigned : 0;
      if (kind == "char") encoding |= kBtfIntChar;
      if (kind == "bool") encoding = kBtfIntBool;
      base_ids_[name] = b_.int_type(name, size, encoding);
    }
    // Ids for records and enums, in this order after the bases.
    uint32_t next = b_.next_id();
    for (const auto& [name, type] : isf_.at("user_types").items()) record_ids_[name] = next++;
    for (const auto& [name, type] : isf_.at("enums").items()) enum_ids_[name] = next++;
    next_derived_ = next;
    // Every member's type, which makes the derived types' ids.
    std::map<std::string, std::vector<BtfBlobBuilder::Member>> members;
    for (const auto& [name, type] : isf_.at("user_types").items()) {
      for (const auto& [field, info] : type.at("fields").items()) {
        BtfBlobBuilder::Member m;
        m.name = info.value("anonymous", false) ? "" : field;
        const json& t = info.at("type");
        const uint64_t bits = info.at("offset").get<uint64_t>() * 8;
        if (t.at("kind") == "bitfield") {
          m.type = id_of(t.at("type"));
          m.bit_offset = uint32_t(bits + t.at("bit_position").get<uint32_t>());
          m.bitfield_size = t.at("bit_length");
        } else {
          m.type = id_of(t);
          m.bit_offset = uint32_t(bits);
        }
        members[name].push_back(m);
      }
      std::sort(members[name].begin(), members[name].end(),
                [](const auto& a, const auto& b) { return a.bit_offset < b.bit_offset; });
    }
    std::vector<std::pair<uint32_t, std::string>> percpu;  // (offset, name) of per-CPU variables
    uint64_t per_cpu_start = 0;
    if (isf_.at("symbols").contains("__per_cpu_start"))
      per_cpu_start = isf_.at("symbols").at("__per_cpu_start").at("address");
    for (const auto& [name, symbol] : isf_.at("symbols").items()) {
      const uint64_t address = symbol.at("address");
      if (address >= kKernelHalf || !symbol.contains("type") || address < per_cpu_start) continue;
      percpu_types_[name] = id_of(symbol.at("type"));
      percpu.emplace_back(uint32_t(address - per_cpu_start), name);
    }
    std::sort(percpu.begin(), percpu.end());

    for (const auto& [name, type] : isf_.at("user_types").items()) {
      const bool anonymous = name.rfind("unnamed_", 0) == 0;
      const uint32_t id = b_.record(anonymous ? "" : name, type.at("size"), members[name], type.at("kind") == "union");
      if (id != record_ids_.at(name)) throw std::logic_error("btf_from_isf: record ids out of order");
    }
    for (const auto& [name, type] : isf_.at("enums").items()) {
      std::vector<std::pair<std::string, int32_t>> values;
      bool negative = false;
      for (const auto& [constant, value] : type.at("constants").items()) {
        values.emplace_back(constant, int32_t(value.get<int64_t>()));
        negative = negative || value.get<int64_t>() < 0;
      }
      b_.enumeration(name.rfind("unnamed_", 0) == 0 ? "" : name, type.at("size"), values, negative);
    }
    for (const std::function<void()>& emit : derived_) emit();
    if (!percpu.empty()) {
      std::vector<BtfBlobBuilder::SectionVar> vars;
      for (const auto& [offset, name] : percpu) {
        const uint32_t var = b_.variable(name, percpu_types_.at(name));
        vars.push_back({var, offset, 8});
      }
      b_.data_section(".data..percpu", vars.back().offset + 64, vars);
    }
    return b_.bytes();
  }

 private:
  static constexpr uint8_t kBtfIntSigned = 1, kBtfIntChar = 2, kBtfIntBool = 4;

  uint32_t int_index_type() {
    for (const char* name : {"int", "unsigned int", "long unsigned int"})
      if (base_ids_.count(name)) return base_ids_.at(name);
    throw std::logic_error("btf_from_isf: no integer type for array indices");
  }

  // A derived type's id, allocated now and written after the records and
  // enums, in allocation order.
  uint32_t derived(const std::string& key, const std::function<void()>& emit) {
    auto it = derived_ids_.find(key);
    if (it != derived_ids_.end()) return it->second;
    const uint32_t id = next_derived_++;
    derived_ids_[key] = id;
    derived_.push_back(emit);
    return id;
  }

  uint32_t id_of(const json& t) {
    const std::string kind = t.at("kind");
    if (kind == "base") {
      const std::string name = t.at("name");
      if (name == "void") return 0;
      if (name == "pointer") return base_ids_.at("long unsigned int");
      return base_ids_.at(name);
    }
    if (kind == "struct" || kind == "union" || kind == "class") {
      const std::string name = t.at("name");
      if (record_ids_.count(name)) return record_ids_.at(name);
      return derived("fwd " + name, [this, name, kind] { b_.forward(name, kind == "union"); });
    }
    if (kind == "enum") return enum_ids_.at(t.at("name").get<std::string>());
    if (kind == "pointer") {
      const uint32_t target = id_of(t.at("subtype"));
      return derived("ptr " + std::to_string(target), [this, target] { b_.pointer(target); });
    }
    if (kind == "array") {
      const uint32_t element = id_of(t.at("subtype"));
      const uint32_t count = t.at("count");
      const uint32_t index = int_index_type();
      return derived("arr " + std::to_string(element) + " " + std::to_string(count),
                     [this, element, index, count] { b_.array(element, index, count); });
    }
    if (kind == "function") return derived("fn", [this] { b_.function_proto(0, {}); });
    throw std::logic_error("btf_from_isf: type kind " + kind);
  }

  const json& isf_;
  BtfBlobBuilder b_;
  std::map<std::string, uint32_t> base_ids_, record_ids_, enum_ids_, derived_ids_, percpu_types_;
  std::vector<std::function<void()>> derived_;
  uint32_t next_derived_ = 0;
};

}  // namespace

std::vector<uint8_t> btf_from_isf(const nlohmann::json& isf) { return BtfFromIsf(isf).run(); }

SelfDescription add_self_description(SyntheticLinux& image, const SelfDescriptionOptions& options) {
  SelfDescription out;
  const uint64_t shift = image.options().virtual_shift;
  const uint64_t text = SyntheticLinux::kLinkText + shift;
  auto put = [&](uint64_t vaddr, const void* bytes, size_t n) {
    image.space().put(image.kernel_physical(vaddr), bytes, n);
  };

  // BTF first: its bounds are symbols.
  out.btf = text + kBtfOffset;
  if (options.btf) {
    out.btf_bytes = btf_from_isf(image.profile_json());
    if (out.btf_bytes.size() > kBtfRoom) throw std::logic_error("synthetic BTF larger than its room");
    out.btf_size = out.btf_bytes.size() - std::min(options.btf_cut, out.btf_bytes.size());
    put(out.btf, out.btf_bytes.data(), out.btf_size);
  }

  // kallsyms: every symbol of the profile, at run time.
  const json& symbols = image.profile_json().at("symbols");
  const uint64_t etext = symbols.contains("_etext") ? symbols.at("_etext").at("address").get<uint64_t>()
                                                    : SyntheticLinux::kLinkText + 0x100000;
  std::vector<KallsymsInput> inputs;
  for (const auto& [name, symbol] : symbols.items()) {
    const uint64_t link = symbol.at("address");
    if (link >= kKernelHalf)
      inputs.push_back({name, link < etext ? 'T' : 'D', link + shift});
    else if (options.kallsyms.absolute_percpu || !options.kallsyms.base_relative)
      inputs.push_back({name, 'A', link});
  }
  // Every digit in some name, as in any real kernel's table.
  inputs.push_back({"synthetic_0123456789", 't', text + 0x10});
  if (options.btf) {
    inputs.push_back({"__start_BTF", 'R', out.btf});
    inputs.push_back({"__stop_BTF", 'R', out.btf + out.btf_size});
  }
  std::stable_sort(inputs.begin(), inputs.end(), [](const auto& a, const auto& b) { return a.address < b.address; });
  out.blob = build_kallsyms(inputs, options.kallsyms);
  out.kallsyms = text + kKallsymsOffset;
  if (out.blob.bytes.size() > kBtfOffset - kKallsymsOffset) throw std::logic_error("synthetic kallsyms too large");
  put(out.kallsyms, out.blob.bytes.data(), out.blob.bytes.size());

  // VMCOREINFO, as the kernel keeps it in RAM (vmcoreinfo_data).
  out.build_id = hex(std::hash<std::string>()(image.banner())).substr(2) + "00112233445566778899aabb";
  if (options.vmcoreinfo) {
    std::string v = "OSRELEASE=" + image.options().release + "\n";
    v += "BUILD-ID=" + out.build_id + "\n";
    v += "PAGESIZE=4096\n";
    v += "SYMBOL(swapper_pg_dir)=" + hex(image.symbol_address("swapper_pg_dir")).substr(2) + "\n";
    v += "SYMBOL(_stext)=" + hex(image.symbol_address("_stext")).substr(2) + "\n";
    if (options.vmcoreinfo_names_kallsyms) v += out.blob.vmcoreinfo_lines(out.kallsyms);
    v += "NUMBER(phys_base)=" +
         std::to_string(static_cast<int64_t>(image.options().physical_shift - image.options().virtual_shift)) + "\n";
    v += "SYMBOL(init_top_pgt)=" + hex(image.symbol_address("init_top_pgt")).substr(2) + "\n";
    v += "NUMBER(pgtable_l5_enabled)=0\n";
    v += "KERNELOFFSET=" + hex(shift).substr(2) + "\n";
    out.vmcoreinfo_physical = image.kernel_physical(text + kVmcoreinfoOffset);
    image.space().put(out.vmcoreinfo_physical, v.c_str(), v.size() + 1);
  }
  return out;
}

}  // namespace memscope::test
