#include "core/linux/bpf.h"

#include <cctype>

#include "core/linux/idr.h"
#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {
namespace {

// A program uses at most MAX_USED_MAPS (64) maps (kernel/bpf/verifier.c).
constexpr uint64_t kMaxUsedMaps = 64;

std::optional<std::string> enum_text(const Object& value, std::string_view prefix) {
  auto name = value.enum_name();
  if (name) return bpf_type_name(*name, prefix);
  return std::to_string(value.enum_value());
}

}  // namespace

std::string bpf_type_name(std::string_view enumerator, std::string_view prefix) {
  if (enumerator.substr(0, prefix.size()) == prefix) enumerator.remove_prefix(prefix.size());
  std::string out(enumerator);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

BpfReader::BpfReader(const KernelView& kernel) : kernel_(kernel) {
  const Profile& profile = kernel.profile();
  profile.require_symbol("prog_idr");
  for (const char* type : {"idr", "bpf_prog", "bpf_prog_aux"}) profile.require_type(type);
  if (!profile.has_member("bpf_prog", "aux")) profile.fail("struct bpf_prog has no aux");
}

BpfMap BpfReader::read_map(uint64_t address, Warnings& warnings) const {
  BpfMap out;
  out.address = address;
  Object map = kernel_.object("bpf_map", address);
  ItemFailures failed;
  if (map.has_member("id")) failed.attempt("id", [&] { out.id = static_cast<uint32_t>(map["id"].as_u64()); });
  if (map.has_member("name")) failed.attempt("name", [&] { out.name = map["name"].as_string(); });
  if (map.has_member("map_type"))
    failed.attempt("map_type", [&] { out.type = enum_text(map["map_type"], "BPF_MAP_TYPE_"); });
  failed.report(warnings, "BPF map", "BPF map " + hex_address(address));
  return out;
}

std::vector<BpfProgram> BpfReader::programs(Warnings& warnings) const {
  const Profile& profile = kernel_.profile();
  std::vector<BpfProgram> out;
  IdrWalker idr(profile);
  for (const IdrEntry& e : idr.entries(kernel_.symbol("prog_idr", "idr"), "BPF programs (prog_idr)", warnings)) {
    BpfProgram p;
    p.address = e.pointer;
    p.id = e.id;
    Object prog = kernel_.object("bpf_prog", e.pointer);
    ItemFailures failed;
    failed.attempt("type", [&] { p.type = enum_text(prog["type"], "BPF_PROG_TYPE_"); });
    if (prog.has_member("tag"))
      failed.attempt("tag", [&] {
        static const char kDigits[] = "0123456789abcdef";
        std::string text;
        for (uint8_t byte : prog["tag"].bytes(8)) {
          text += kDigits[byte >> 4];
          text += kDigits[byte & 15];
        }
        p.tag = text;
      });
    failed.attempt("aux", [&] {
      Object aux = prog["aux"].deref();
      ItemFailures fields;
      if (aux.has_member("id"))
        fields.attempt("id", [&] {
          if (aux["id"].as_u64() != e.id)
            warnings.add("BPF program " + hex_address(e.pointer) + " is filed under id " + std::to_string(e.id) +
                         " but says it is " + std::to_string(aux["id"].as_u64()));
        });
      if (aux.has_member("name")) fields.attempt("name", [&] { p.name = aux["name"].as_string(); });
      if (aux.has_member("load_time")) fields.attempt("load_time", [&] { p.load_time_ns = aux["load_time"].as_u64(); });
      if (aux.has_member("used_maps") && aux.has_member("used_map_cnt"))
        fields.attempt("used_maps", [&] {
          const uint64_t count = aux["used_map_cnt"].as_u64();
          if (count > kMaxUsedMaps)
            throw Error("used_map_cnt " + std::to_string(count) + " is more than a program may use");
          const uint64_t maps = count ? aux["used_maps"].pointer() : 0;
          for (uint64_t i = 0; i < count; ++i) {
            uint64_t map = kernel_.kernel().read_value<uint64_t>(maps + 8 * i);
            p.maps.push_back(read_map(map, warnings));
          }
        });
      fields.report(warnings, "BPF program",
                    "BPF program " + std::to_string(e.id) + " at " + hex_address(e.pointer) + ": bpf_prog_aux " +
                        hex_address(aux.address()));
    });
    failed.report(warnings, "BPF program", "BPF program " + std::to_string(e.id) + " at " + hex_address(e.pointer));
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace memscope::linux_kernel
