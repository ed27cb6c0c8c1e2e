// `memscope info -f IMAGE [-p PROFILE] [--all-banners]`: what the image is
// (format, size, physical ranges, layers, container notes) and, when a
// kernel can be found, where it is. Its cost does not grow with the image:
// discovery stops at the first validated kernel. Only --all-banners reads
// the whole image (the scanning engine: all cores, holes skipped, progress,
// Ctrl-C gives the partial list marked incomplete).
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/errors.h"
#include "core/linux/discovery/banners.h"
#include "core/util/hex.h"
#include "core/util/printable.h"
#include "core/util/progress.h"
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
  // What the image lacks (a file cut short): said here, and on stderr.
  j["warnings"] = layer.warnings();
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

// A string of the summary as text on the terminal: much of it comes from
// the image (banner, VMCOREINFO, file names, warnings), which must not
// drive the terminal (control characters and bad UTF-8 shown as '.').
std::string shown(const nlohmann::json& value) {
  return printable_text(value.get<std::string>(), kMaxShownTextBytes);
}

void print_text(const nlohmann::json& j) {
  std::cout << "File:            " << shown(j["file"]) << "\n"
            << "Format:          " << shown(j["format"]) << "\n"
            << "File size:       " << j["file_size"].get<uint64_t>() << " bytes\n"
            << "Physical memory: " << j["physical_bytes"].get<uint64_t>() << " bytes in "
            << j["physical_ranges"].size() << " range(s)\n";
  for (const auto& r : j["physical_ranges"])
    std::cout << "  " << shown(r["start"]) << " - " << shown(r["end"]) << "  ("
              << r["size"].get<uint64_t>() << " bytes)\n";
  std::cout << "Layers:          ";
  bool first = true;
  for (const auto& layer : j["layers"]) {
    std::cout << (first ? "" : " <- ") << shown(layer);
    first = false;
  }
  std::cout << "\n";
  for (const auto& [key, value] : j["details"].items())
    std::cout << key << ":" << std::string(key.size() < 16 ? 16 - key.size() : 1, ' ') << shown(value)
              << "\n";
  for (const auto& warning : j["warnings"]) std::cout << "Image warning:   " << shown(warning) << "\n";
  const auto& notes = j["notes"];
  std::cout << "CPU notes:       " << notes["cpus"].get<size_t>() << "\n";
  for (size_t i = 0; i < notes["cr3"].size(); ++i)
    if (!notes["cr3"][i].is_null()) std::cout << "  CPU " << i << " CR3: " << shown(notes["cr3"][i]) << "\n";
  if (!notes["vmcoreinfo"].empty()) {
    // The whole text is in -o json; the keys that locate the kernel here.
    std::cout << "VMCOREINFO:      " << notes["vmcoreinfo"].size() << " keys (all with -o json)\n";
    for (const char* key : {"OSRELEASE", "BUILD-ID", "KERNELOFFSET", "NUMBER(phys_base)", "SYMBOL(swapper_pg_dir)",
                            "SYMBOL(init_top_pgt)", "NUMBER(pgtable_l5_enabled)"})
      if (notes["vmcoreinfo"].contains(key))
        std::cout << "  " << key << "=" << shown(notes["vmcoreinfo"][key]) << "\n";
  }
  if (j.contains("kernel")) {
    const auto& k = j["kernel"];
    if (k.contains("error")) {
      std::cout << "Kernel:          not found: " << shown(k["error"]) << "\n";
      return;
    }
    std::cout << "Kernel:          " << shown(k["os_release"]) << " (found by "
              << shown(k["method"]) << ")\n"
              << "How:             " << shown(k["method_detail"]) << "\n"
              << "Banner:          " << shown(k["banner"]) << "\n"
              << "KASLR virtual:   " << shown(k["kaslr_virtual_shift"]) << "\n"
              << "KASLR physical:  " << shown(k["kaslr_physical_shift"]) << "\n"
              << "DTB:             " << shown(k["dtb"]) << "\n"
              << "Paging:          " << k["paging_levels"].get<int>() << "-level\n";
    for (const auto& warning : k["warnings"]) std::cout << "Warning:         " << shown(warning) << "\n";
    if (k.contains("profile")) {
      std::cout << "Profile:         " << shown(k["profile"]) << "\n";
      if (k.contains("profile_source"))
        std::cout << "Profile from:    " << shown(k["profile_source"]) << ": "
                  << shown(k["profile_reason"]) << "\n";
    }
    if (k.contains("profile_error")) std::cout << "Profile:         none: " << shown(k["profile_error"]) << "\n";
  }
}

// Distinct banners --all-banners lists at most (a real image holds one or
// two; more is an image stuffed with copies).
constexpr size_t kMaxBannersListed = 256;
// Holes listed in text (the largest); -o json has ScanStats::kMaxHolesListed.
constexpr size_t kHolesPrinted = 8;

std::string seconds(const nlohmann::json& value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f s", value.get<double>());
  return text;
}

void print_banners(const nlohmann::json& all) {
  if (!all["listed"].get<bool>()) {
    std::cout << "Banners in RAM:  not listed (memscope info --all-banners scans the whole image for every banner)\n";
    return;
  }
  const auto& scan = all["scan"];
  std::cout << "Banners in RAM:  " << all["banners"].size() << (all["truncated"].get<bool>() ? " (list cut)" : "")
            << (scan.contains("incomplete") ? " (incomplete: " + shown(scan["incomplete"]) + ")" : "")
            << "\n";
  for (const auto& banner : all["banners"])
    std::cout << "  " << shown(banner["address"]) << "  " << shown(banner["text"]) << "\n";
  std::cout << "Scanned:         " << Progress::human_bytes(scan["bytes_scanned"].get<double>()) << " read, "
            << Progress::human_bytes(scan["bytes_skipped"].get<double>()) << " in " << scan["holes"].get<uint64_t>()
            << " hole(s) skipped unread, " << Progress::human_bytes(scan["bytes_unmapped"].get<double>())
            << " not in the image; " << scan["threads"].get<unsigned>() << " thread(s), " << seconds(scan["seconds"])
            << "\n";
  // The largest holes, in address order.
  std::vector<nlohmann::json> holes(scan["holes_skipped"].begin(), scan["holes_skipped"].end());
  auto larger = [](const nlohmann::json& a, const nlohmann::json& b) {
    return a["size"].get<uint64_t>() > b["size"].get<uint64_t>();
  };
  std::stable_sort(holes.begin(), holes.end(), larger);
  if (holes.size() > kHolesPrinted) holes.resize(kHolesPrinted);
  std::stable_sort(holes.begin(), holes.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return std::stoull(a["start"].get<std::string>(), nullptr, 16) < std::stoull(b["start"].get<std::string>(), nullptr, 16);
  });
  for (const auto& hole : holes)
    std::cout << "  hole " << shown(hole["start"]) << " - " << shown(hole["end"]) << "  ("
              << Progress::human_bytes(hole["size"].get<double>()) << ")\n";
  if (scan["holes"].get<uint64_t>() > holes.size())
    std::cout << "  ... and " << scan["holes"].get<uint64_t>() - holes.size() << " smaller hole(s) (the "
              << ScanStats::kMaxHolesListed << " largest with -o json)\n";
  for (const auto& fault : scan["faults"]) std::cout << "Read fault:      " << shown(fault) << "\n";
  if (scan.contains("incomplete")) std::cout << "incomplete: " << shown(scan["incomplete"]) << "\n";
}

// Every banner in memory: the one whole-image pass info makes, on request.
nlohmann::json all_banners(Session& session, bool wanted) {
  nlohmann::json all;
  all["listed"] = wanted;
  if (!wanted) {
    all["how"] = "memscope info --all-banners";
    return all;
  }
  ScanOptions options;
  options.progress = "listing banners";
  BannerListing listing = list_linux_banners(session.physical(), kMaxBannersListed, options);
  nlohmann::json banners = nlohmann::json::array();
  for (const FoundBanner& banner : listing.banners) banners.push_back({{"address", hex(banner.address)}, {"text", banner.text}});
  all["banners"] = banners;
  all["truncated"] = listing.truncated;
  const ScanStats& stats = listing.scan;
  nlohmann::json scan;
  scan["bytes_scanned"] = stats.bytes_scanned;
  scan["bytes_skipped"] = stats.bytes_skipped;
  scan["bytes_unmapped"] = stats.bytes_unmapped;
  scan["holes"] = stats.holes;
  scan["chunks"] = stats.chunks;
  nlohmann::json holes = nlohmann::json::array();
  for (const Range& hole : stats.holes_listed)
    holes.push_back({{"start", hex(hole.start)}, {"end", hex(hole.end())}, {"size", hole.size}});
  scan["holes_skipped"] = holes;
  scan["read_faults"] = stats.read_faults;
  scan["faults"] = stats.fault_messages;
  scan["threads"] = stats.threads;
  scan["seconds"] = stats.seconds;
  if (!stats.incomplete().empty()) scan["incomplete"] = stats.incomplete();
  all["scan"] = scan;
  return all;
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
    if (session.has_profile()) {
      k["profile"] = session.profile().source();
      if (const auto& choice = session.profile_choice()) {
        k["profile_source"] = choice->source;
        k["profile_reason"] = choice->reason;
      }
    } else {
      try {
        session.profile();
      } catch (const std::exception& e) {
        k["profile_error"] = e.what();
      }
    }
  } catch (const std::exception& e) {
    k["error"] = e.what();
  }
  return k;
}

int run_info(const CommandContext& ctx) {
  SessionOptions options = session_options(ctx.global);
  Session session(options);
  nlohmann::json j = physical_summary(session.image());
  nlohmann::json kernel = kernel_summary(session);
  nlohmann::json layers = nlohmann::json::array();
  AddressSpace* top = kernel.contains("error") ? static_cast<AddressSpace*>(&session.physical())
                                               : &session.kernel_space();
  for (AddressSpace* at = top; at; at = at->below()) layers.push_back(at->name());
  j["layers"] = layers;
  j["kernel"] = kernel;
  j["all_banners"] = all_banners(session, ctx.options["all-banners"].as<bool>());
  if (ctx.global.output == "text") {
    print_text(j);
    print_banners(j["all_banners"]);
  } else {
    std::cout << j.dump(ctx.global.output == "json" ? 2 : -1, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  }
  // Ctrl-C: the partial result is printed, and the status says so.
  if (j["all_banners"].contains("scan") && j["all_banners"]["scan"].contains("incomplete")) return kExitInterrupted;
  // What failed is said on stderr too, and in the status: 0 only when the
  // kernel was found and every profile file named loaded (a script must
  // not take "no kernel" for an answer), or when no kernel was asked for:
  // --all-banners asks for the banners in memory (Volatility's
  // banners.Banners), found or not.
  int status = report_warnings(ctx.global, session.image().warnings());
  const bool profile_named = !options.profile.empty() || !options.btf.empty() || !options.system_map.empty();
  const bool kernel_asked = !ctx.options["all-banners"].as<bool>();
  if (profile_named && !session.has_profile()) {
    // The profile named is the first thing to fix: a kernel that needs it
    // cannot be found without it.
    std::string why = kernel.value("profile_error", std::string());
    if (why.empty()) {
      try {
        session.profile();
      } catch (const std::exception& e) {
        why = e.what();
      }
    }
    print_error(std::cerr, "info: the profile given could not be used: " + why, "", ctx.global.verbose);
    status = kExitFailed;
  }
  if (kernel.contains("error") && kernel_asked) {
    print_error(std::cerr, "info: " + kernel["error"].get<std::string>(), "", ctx.global.verbose);
    status = kExitFailed;
  }
  return status;
}

void add_info_options(po::options_description& options) {
  options.add_options()("all-banners", po::bool_switch(),
                        "list every kernel banner in memory: a scan of the whole image (holes skipped)");
}

MEMSCOPE_REGISTER(command_registry(), Command{
    .name = "info",
    .summary = "describe an image: format, physical ranges, layers, notes, kernel",
    .usage = "info -f IMAGE [-p PROFILE] [--all-banners]",
    .add_options = add_info_options,
    .run = run_info,
    .outputs = {"text", "json", "jsonl"},
});

}  // namespace
}  // namespace memscope::cli
