// `memscope profile info [FILE] [--verify]` and
// `memscope profile generate --btf FILE --system-map FILE [--banner STR] [-f IMAGE] -o OUT.json[.xz]`,
// `memscope profile generate --from-image IMAGE [--btf FILE | --system-map FILE] -o OUT.json[.xz]`.
#include <algorithm>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cli/command.h"
#include "core/linux/discovery/banners.h"
#include "core/linux/discovery/discovery.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "core/util/error.h"
#include "profiles/btf/isf_from_btf.h"
#include "profiles/btf/isf_from_profile.h"
#include "profiles/cache/profile_cache.h"
#include "profiles/image/image_profile.h"
#include "profiles/isf/isf_loader.h"
#include "profiles/isf/isf_writer.h"

namespace memscope::cli {
namespace {

bool typed(const Profile& profile, const SymbolInfo& symbol) {
  return symbol.type.valid() && !profile.type(symbol.type).is_void();
}

// What the registered plugins ask of a profile's symbols: those it lacks,
// and those it has without a type (plugins read a typed global as an
// object; an untyped one needs its type named in the plugin).
void plugin_symbols(const Profile& profile, std::vector<std::string>& untyped, std::vector<std::string>& missing) {
  std::set<std::string> wanted;
  for (const Plugin& plugin : plugins())
    for (const std::string& symbol : plugin.info.required_symbols) wanted.insert(symbol);
  for (const std::string& name : wanted) {
    const SymbolInfo* symbol = profile.find_symbol(name);
    if (!symbol)
      missing.push_back(name);
    else if (!typed(profile, *symbol))
      untyped.push_back(name);
  }
}

std::string joined(const std::vector<std::string>& items) {
  if (items.empty()) return "none";
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// `profile info FILE [--verify]`: FILE is an ISF (loaded through the
// cache, as every command does) or a profile cache entry (.msprof) opened
// as it is. Without FILE, with -f IMAGE: the profile the image gets when
// analysed with the same options, and which source gave it.
// --verify checks the profile in full: every table's checksum, every
// reference, the sort orders; a damaged profile is an error.
int profile_info(const CommandContext& ctx) {
  if (ctx.args.size() > 2 || (ctx.args.size() == 1 && ctx.global.file.empty()))
    throw UsageError("usage: memscope profile info FILE [--verify] | memscope profile info -f IMAGE [--verify]");
  std::shared_ptr<const Profile> profile;
  std::optional<ProfileChoice> choice;
  std::string file;
  bool cache_file = false;
  std::unique_ptr<Session> session;
  if (ctx.args.size() == 2) {
    file = ctx.args[1];
    cache_file = is_profile_file(file);
    profile = cache_file ? open_profile_file(file) : load_profile(file);
  } else {
    session = std::make_unique<Session>(session_options(ctx.global));
    profile = session->shared_profile();
    choice = session->profile_choice();
    file = profile->origin();
    cache_file = is_profile_file(file);
  }
  const bool verify = ctx.options.count("verify") && ctx.options["verify"].as<bool>();
  if (verify) {
    try {
      profile->verify();
    } catch (const FormatError& e) {
      if (cache_file || choice) throw;
      // The ISF's cache entry is damaged: rebuilt from the ISF, as a load
      // does with an entry it refuses.
      print_warning(std::string(e.what()) + "; rebuilding the cache entry from " + file);
      LoadOptions rebuild;
      rebuild.rebuild = true;
      profile = load_profile(file, rebuild);
      profile->verify();
    }
  }
  const ProfileMetadata& meta = profile->metadata();
  const bool mapped = profile->origin() != meta.source_path;
  // One count per name; a name's other addresses (repeats) apart.
  size_t typed_symbols = 0, named_symbols = 0, repeats = 0;
  for (const SymbolInfo& s : profile->symbols()) {
    if (s.repeat()) {
      ++repeats;
      continue;
    }
    ++named_symbols;
    typed_symbols += typed(*profile, s);
  }
  std::vector<std::string> untyped, missing;
  plugin_symbols(*profile, untyped, missing);
  nlohmann::json j = {
      {"file", file},
      {"source", meta.source_path},
      {"storage", mapped ? "mapped from " + profile->origin() : std::string("parsed (not cached)")},
      {"banner", meta.banner},
      {"os", meta.os},
      {"format", meta.format_version},
      {"producer", meta.producer_name + (meta.producer_version.empty() ? "" : " " + meta.producer_version)},
      {"types", profile->types().size()},
      {"members", profile->member_count()},
      {"enumerators", profile->enumerator_count()},
      {"symbols", named_symbols},
      {"symbol_repeats", repeats},
      {"typed", typed_symbols},
      {"untyped_used", untyped},
      {"missing_used", missing},
  };
  std::vector<const char*> keys = {"file", "source", "storage", "banner", "os", "format", "producer", "types",
                                   "members", "enumerators", "symbols", "symbol_repeats", "typed", "untyped_used", "missing_used"};
  if (choice) {
    j["chosen_by"] = choice->source;
    j["why"] = choice->reason;
    keys.insert(keys.begin() + 1, {"chosen_by", "why"});
  }
  if (verify) {
    j["verified"] = "ok: " + std::to_string(profile->bytes().size()) + " bytes, every table checksum, reference and order";
    keys.push_back("verified");
  }
  if (ctx.global.output == "text") {
    // Lists read as one line; the labels say what the plugins ask for.
    static const std::map<std::string, std::string> labels = {
        {"typed", "typed"}, {"untyped_used", "untyped"}, {"missing_used", "missing"}};
    for (const char* key : keys) {
      const auto& value = j[key];
      std::string text;
      if (value.is_string())
        text = value.get<std::string>();
      else if (value.is_array())
        text = joined(value.get<std::vector<std::string>>()) + " (symbols plugins use)";
      else if (std::string(key) == "typed")
        text = value.dump() + " of " + std::to_string(named_symbols) + " symbols have a type";
      else if (std::string(key) == "symbol_repeats")
        text = value.dump() + " other addresses of names listed more than once (found by address)";
      else
        text = value.dump();
      std::string label = labels.count(key) ? labels.at(key) : key;
      std::cout << label << ":" << std::string(label.size() < 13 ? 13 - label.size() : 1, ' ') << text << "\n";
    }
  } else {
    std::cout << j.dump(ctx.global.output == "json" ? 2 : -1, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  }
  return 0;
}

// The banner for a generated profile, read from an image: at System.map's
// linux_banner through the kernel found without a profile (VMCOREINFO or
// CPU notes), else the one distinct banner in memory.
std::string banner_from_image(const GlobalOptions& global, const SystemMap& map) {
  SessionOptions options = session_options(global);
  options.btf.clear();  // no profile is needed to read the banner
  options.system_map.clear();
  Session session(options);
  std::optional<uint64_t> address;
  for (const SystemMapSymbol& symbol : map.symbols)
    if (symbol.name == "linux_banner") address = symbol.address;
  DiscoveryOptions discovery;
  discovery.image_name = global.file;
  try {
    LinuxKernelInfo kernel =
        discover_linux_kernel(session.physical(), session.image().notes(), nullptr, discovery);
    if (!kernel.banner.empty()) return kernel.banner;
    if (address) {
      X86_64Paging space(session.physical(), kernel.dtb, kernel.paging_levels, "kernel");
      char buffer[kMaxBannerBytes] = {0};
      IoResult r = space.read(*address + kernel.virtual_shift, buffer, sizeof buffer - 1);
      std::string text(buffer, strnlen(buffer, r.done));
      if (!text.empty() && text.back() == '\n') text.pop_back();
      if (looks_like_linux_banner(text)) return text;
    }
  } catch (const KernelNotFound&) {
  }
  std::vector<std::string> banners = find_linux_banners(session.physical());
  if (banners.size() == 1) return banners.front();
  throw Error(global.file + ": cannot tell the kernel's banner (" + std::to_string(banners.size()) +
              " candidates in memory): give it with --banner");
}

IsfWriteOptions write_options() {
  IsfWriteOptions options;
  options.xz_threads = std::max(1u, std::thread::hardware_concurrency());
  return options;
}

std::string output_file(const CommandContext& ctx) {
  const std::string out = ctx.global.output;
  if (out.empty() || out == "text" || out == "json" || out == "jsonl" || out == "csv")
    throw Error("profile generate needs -o OUT.json or -o OUT.json.xz");
  return out;
}

// `--from-image IMAGE`: the profile recovered from the image's memory
// (kallsyms and BTF; either half from --system-map / --btf if given),
// written as an ISF that Volatility 3 and memscope load.
int generate_from_image(const CommandContext& ctx, const std::string& image) {
  const std::string out = output_file(ctx);
  SessionOptions options;
  options.image = image;
  Session session(options);
  ImageKernel kernel;
  kernel.physical = &session.physical();
  kernel.notes = &session.image().notes();
  kernel.image = image;
  std::optional<LinuxKernelInfo> found;
  DiscoveryOptions discovery;
  discovery.image_name = image;
  try {
    found = discover_linux_kernel(session.physical(), session.image().notes(), nullptr, discovery);
    kernel.kernel = &*found;
  } catch (const KernelNotFound& e) {
    kernel.kernel_error = e.what();
  }
  ImageProfileOptions recover;
  recover.btf_path = ctx.global.btf;
  recover.system_map_path = ctx.global.system_map;
  recover.producer_version = MEMSCOPE_VERSION;
  ImageProfile recovered;
  try {
    recovered = recover_image_profile(kernel, recover);
  } catch (const ImageProfileUnavailable& e) {
    throw Error(image + ": no profile can be recovered: " + e.what());
  }
  IsfExportOptions export_options;
  export_options.symbols_name = recovered.symbols_name;
  write_isf(isf_from_profile(*recovered.profile, export_options), out, write_options());
  if (!ctx.global.quiet) {
    const IsfFromBtfReport& r = recovered.report;
    std::cerr << "wrote " << out << ": " << r.user_types << " user types, " << r.enums << " enums, " << r.base_types
              << " base types, " << r.symbols << " symbols; " << recovered.reason << "\n";
  }
  // -q hides what was written, never what is missing from it.
  return report_warnings(ctx.global, recovered.warnings);
}

int profile_generate(const CommandContext& ctx) {
  const auto& vm = ctx.options;
  if (vm.count("from-image")) return generate_from_image(ctx, vm["from-image"].as<std::string>());
  if (ctx.global.btf.empty() || ctx.global.system_map.empty())
    throw Error("profile generate needs --btf FILE and --system-map FILE, or --from-image IMAGE");
  const std::string out = output_file(ctx);
  IsfFromBtfOptions options;
  options.producer_version = MEMSCOPE_VERSION;
  Btf btf = Btf::load(ctx.global.btf);
  SystemMap map = load_system_map(ctx.global.system_map);
  if (vm.count("banner"))
    options.banner = vm["banner"].as<std::string>();
  else if (!ctx.global.file.empty())
    options.banner = banner_from_image(ctx.global, map);
  IsfFromBtfReport report;
  nlohmann::json isf = isf_from_btf(btf, map, options, &report);
  write_isf(isf, out, write_options());
  if (!ctx.global.quiet) {
    std::cerr << "wrote " << out << ": " << report.user_types << " user types, " << report.enums << " enums, "
              << report.base_types << " base types, " << report.symbols << " symbols"
              << (options.banner ? "" : " (no banner: give --banner or -f IMAGE to match images by banner)")
              << "\n";
  }
  return report_warnings(ctx.global, report.warnings);
}

int run_profile(const CommandContext& ctx) {
  const std::string action = ctx.args.empty() ? "" : ctx.args[0];
  if (action == "info") return profile_info(ctx);
  if (action == "generate") return profile_generate(ctx);
  throw UsageError("usage: memscope profile info FILE [--verify] | memscope profile generate --btf FILE --system-map FILE "
              "[--banner STR] [-f IMAGE] -o OUT.json[.xz] | memscope profile generate --from-image IMAGE -o "
              "OUT.json[.xz]");
}

MEMSCOPE_REGISTER(command_registry(), Command{
    .name = "profile",
    .summary = "kernel profiles: `profile info FILE`, `profile generate --btf ... --system-map ... -o OUT`, "
               "`profile generate --from-image IMAGE -o OUT`",
    .usage = "profile info FILE [--verify] | profile info -f IMAGE | profile generate --btf FILE --system-map FILE "
             "[--banner STR] [-f IMAGE] -o OUT.json[.xz] | profile generate --from-image IMAGE -o OUT.json[.xz]",
    .output_is_file = true,
    .add_options =
        [](po::options_description& options) {
          options.add_options()("from-image", po::value<std::string>()->value_name("IMAGE"),
                                "generate: recover the profile from the image's memory (kallsyms and BTF)")(
              "banner", po::value<std::string>()->value_name("STR"),
              "generate: the kernel's banner (default: read from -f IMAGE if given)")(
              "verify", po::bool_switch(),
              "info: check the profile (its cache entry, or a .msprof FILE) in full: checksums, references, order");
        },
    .run = run_profile,
    .max_args = 2,
    .actions = {"info", "generate"},
});

}  // namespace
}  // namespace memscope::cli
