// `memscope info -f IMAGE [-p PROFILE]`: what the image is (format, size,
// physical ranges, layers, container notes) and, when a kernel can be found,
// where it is.
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/util/hex.h"
#include "core/session/session.h"

namespace memscope::cli {
namespace {

nlohmann::json physical_summary(PhysicalLayer& layer) {
  nlohmann::json j;
  j["file"] = layer.path();
  j["format"] = layer.format();
  j["file_size"] = layer.file_size();
  nlohmann::json ranges = nlohmann::json::array();
  uint64_t mapped = 0;
  layer.ranges([&](const Range& r) {
    ranges.push_back({{"start", hex(r.start)}, {"end", hex(r.end())}, {"size", r.size}});
    mapped += r.size;
    return true;
  });
  j["physical_ranges"] = ranges;
  j["physical_bytes"] = mapped;
  nlohmann::json details = nlohmann::json::object();
  for (const auto& [key, value] : layer.describe()) details[key] = value;
  j["details"] = details;
  const ImageNotes& notes = layer.notes();
  nlohmann::json n;
  n["cpus"] = notes.cpus.size();
  nlohmann::json cr3 = nlohmann::json::array();
  for (const CpuState& cpu : notes.cpus) cr3.push_back(cpu.cr3 ? nlohmann::json(hex(*cpu.cr3)) : nlohmann::json());
  n["cr3"] = cr3;
  nlohmann::json keys = nlohmann::json::object();
  for (const auto& [key, value] : notes.vmcoreinfo_keys) keys[key] = value;
  n["vmcoreinfo"] = keys;
  j["notes"] = n;
  return j;
}

void print_text(const nlohmann::json& j) {
  std::cout << "File:            " << j["file"].get<std::string>() << "\n"
            << "Format:          " << j["format"].get<std::string>() << "\n"
            << "File size:       " << j["file_size"].get<uint64_t>() << " bytes\n"
            << "Physical memory: " << j["physical_bytes"].get<uint64_t>() << " bytes in "
            << j["physical_ranges"].size() << " range(s)\n";
  for (const auto& r : j["physical_ranges"])
    std::cout << "  " << r["start"].get<std::string>() << " - " << r["end"].get<std::string>() << "  ("
              << r["size"].get<uint64_t>() << " bytes)\n";
  std::cout << "Layers:          ";
  bool first = true;
  for (const auto& layer : j["layers"]) {
    std::cout << (first ? "" : " <- ") << layer.get<std::string>();
    first = false;
  }
  std::cout << "\n";
  for (const auto& [key, value] : j["details"].items())
    std::cout << key << ":" << std::string(key.size() < 16 ? 16 - key.size() : 1, ' ') << value.get<std::string>()
              << "\n";
  const auto& notes = j["notes"];
  std::cout << "CPU notes:       " << notes["cpus"].get<size_t>() << "\n";
  for (size_t i = 0; i < notes["cr3"].size(); ++i)
    if (!notes["cr3"][i].is_null()) std::cout << "  CPU " << i << " CR3: " << notes["cr3"][i].get<std::string>() << "\n";
  if (!notes["vmcoreinfo"].empty()) {
    // The whole text is in -o json; the keys that locate the kernel here.
    std::cout << "VMCOREINFO:      " << notes["vmcoreinfo"].size() << " keys (all with -o json)\n";
    for (const char* key : {"OSRELEASE", "BUILD-ID", "KERNELOFFSET", "NUMBER(phys_base)", "SYMBOL(swapper_pg_dir)",
                            "SYMBOL(init_top_pgt)", "NUMBER(pgtable_l5_enabled)"})
      if (notes["vmcoreinfo"].contains(key))
        std::cout << "  " << key << "=" << notes["vmcoreinfo"][key].get<std::string>() << "\n";
  }
  if (j.contains("kernel")) {
    const auto& k = j["kernel"];
    if (k.contains("error")) {
      std::cout << "Kernel:          not found: " << k["error"].get<std::string>() << "\n";
      return;
    }
    std::cout << "Kernel:          " << k["os_release"].get<std::string>() << " (found by "
              << k["method"].get<std::string>() << ")\n"
              << "How:             " << k["method_detail"].get<std::string>() << "\n"
              << "Banner:          " << k["banner"].get<std::string>() << "\n"
              << "KASLR virtual:   " << k["kaslr_virtual_shift"].get<std::string>() << "\n"
              << "KASLR physical:  " << k["kaslr_physical_shift"].get<std::string>() << "\n"
              << "DTB:             " << k["dtb"].get<std::string>() << "\n"
              << "Paging:          " << k["paging_levels"].get<int>() << "-level\n";
    for (const auto& warning : k["warnings"]) std::cout << "Warning:         " << warning.get<std::string>() << "\n";
    if (k.contains("profile")) std::cout << "Profile:         " << k["profile"].get<std::string>() << "\n";
    std::cout << "Banners in RAM:  " << k["banners_found"].size() << "\n";
    for (const auto& banner : k["banners_found"]) {
      std::string text = banner.get<std::string>();
      std::cout << "  " << text.substr(0, text.find('\n')) << "\n";
    }
  }
}

nlohmann::json kernel_summary(Session& session) {
  nlohmann::json k;
  try {
    const LinuxKernelInfo& info = session.kernel();
    k["banner"] = info.banner;
    k["os_release"] = info.os_release;
    k["kaslr_virtual_shift"] = hex(info.virtual_shift);
    k["kaslr_physical_shift"] = hex(info.physical_shift);
    k["dtb"] = hex(info.dtb);
    k["paging_levels"] = info.paging_levels;
    k["method"] = info.method;
    k["method_detail"] = info.method_detail;
    k["warnings"] = info.warnings;
    k["banners_found"] = info.banners_found;
    if (session.has_profile()) k["profile"] = session.profile().source();
  } catch (const std::exception& e) {
    k["error"] = e.what();
  }
  return k;
}

int run_info(const CommandContext& ctx) {
  SessionOptions options = session_options(ctx.global);
  options.list_all_banners = true;
  Session session(options);
  nlohmann::json j = physical_summary(session.image());
  nlohmann::json kernel = kernel_summary(session);
  nlohmann::json layers = nlohmann::json::array();
  AddressSpace* top = kernel.contains("error") ? static_cast<AddressSpace*>(&session.physical())
                                               : &session.kernel_space();
  for (AddressSpace* at = top; at; at = at->below()) layers.push_back(at->name());
  j["layers"] = layers;
  j["kernel"] = kernel;
  if (ctx.global.output == "text")
    print_text(j);
  else
    std::cout << j.dump(ctx.global.output == "json" ? 2 : -1, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  return 0;
}

MEMSCOPE_REGISTER(command_registry(), Command{
    .name = "info",
    .summary = "describe an image: format, physical ranges, layers, notes, kernel",
    .usage = "info -f IMAGE [-p PROFILE]",
    .add_options = {},
    .run = run_info,
});

}  // namespace
}  // namespace memscope::cli
