// `memscope profile info FILE [--verify]` and
// `memscope profile generate --btf FILE --system-map FILE [--banner STR] [-f IMAGE] -o OUT.json[.xz]`.
#include <cstring>
#include <algorithm>
#include <iostream>
#include <thread>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/util/error.h"
#include "core/linux/discovery/banners.h"
#include "core/session/session.h"
#include "profiles/btf/isf_from_btf.h"
#include "profiles/cache/profile_cache.h"
#include "profiles/isf/isf_loader.h"
#include "profiles/isf/isf_writer.h"

namespace memscope::cli {
namespace {

// `profile info FILE [--verify]`: FILE is an ISF (loaded through the
// cache, as every command does) or a profile cache entry (.msprof) opened
// as it is. --verify checks the profile in full: every table's checksum,
// every reference, the sort orders; a damaged profile is an error.
int profile_info(const CommandContext& ctx) {
  if (ctx.args.size() != 2) throw Error("usage: memscope profile info FILE [--verify]");
  const std::string& file = ctx.args[1];
  const bool cache_file = is_profile_file(file);
  std::shared_ptr<const Profile> profile = cache_file ? open_profile_file(file) : load_profile(file);
  const bool verify = ctx.options.count("verify") && ctx.options["verify"].as<bool>();
  if (verify) {
    try {
      profile->verify();
    } catch (const FormatError& e) {
      if (cache_file) throw;
      // The ISF's cache entry is damaged: rebuilt from the ISF, as a load
      // does with an entry it refuses.
      std::cerr << "warning: " << e.what() << "; rebuilding the cache entry from " << file << "\n";
      LoadOptions rebuild;
      rebuild.rebuild = true;
      profile = load_profile(file, rebuild);
      profile->verify();
    }
  }
  const ProfileMetadata& meta = profile->metadata();
  const bool mapped = profile->origin() != meta.source_path;
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
      {"symbols", profile->symbols().size()},
  };
  std::vector<const char*> keys = {"file", "source", "storage", "banner", "os", "format", "producer",
                                   "types", "members", "enumerators", "symbols"};
  if (verify) {
    j["verified"] = "ok: " + std::to_string(profile->bytes().size()) + " bytes, every table checksum, reference and order";
    keys.push_back("verified");
  }
  if (ctx.global.output == "text") {
    for (const char* key : keys) {
      const auto& value = j[key];
      std::string text = value.is_string() ? value.get<std::string>() : value.dump();
      std::cout << key << ":" << std::string(13 - std::string(key).size(), ' ') << text << "\n";
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
  Session session(session_options(global));
  std::optional<uint64_t> address;
  for (const SystemMapSymbol& symbol : map.symbols)
    if (symbol.name == "linux_banner") address = symbol.address;
  if (address && session.has_kernel()) {
    char buffer[kMaxBannerBytes] = {0};
    IoResult r = session.kernel_space().read(*address + session.kernel().virtual_shift, buffer, sizeof buffer - 1);
    std::string text(buffer, strnlen(buffer, r.done));
    if (!text.empty() && text.back() == '\n') text.pop_back();
    if (looks_like_linux_banner(text)) return text;
  }
  std::vector<std::string> banners = find_linux_banners(session.physical());
  if (banners.size() == 1) return banners.front();
  throw Error(global.file + ": cannot tell the kernel's banner (" + std::to_string(banners.size()) +
              " candidates in memory): give it with --banner");
}

int profile_generate(const CommandContext& ctx) {
  const auto& vm = ctx.options;
  if (!vm.count("btf") || !vm.count("system-map"))
    throw Error("profile generate needs --btf FILE and --system-map FILE");
  const std::string out = ctx.global.output;
  if (out.empty() || out == "text") throw Error("profile generate needs -o OUT.json or -o OUT.json.xz");
  IsfFromBtfOptions options;
  options.producer_version = MEMSCOPE_VERSION;
  Btf btf = Btf::load(vm["btf"].as<std::string>());
  SystemMap map = load_system_map(vm["system-map"].as<std::string>());
  if (vm.count("banner"))
    options.banner = vm["banner"].as<std::string>();
  else if (!ctx.global.file.empty())
    options.banner = banner_from_image(ctx.global, map);
  IsfFromBtfReport report;
  nlohmann::json isf = isf_from_btf(btf, map, options, &report);
  IsfWriteOptions write_options;
  write_options.xz_threads = std::max(1u, std::thread::hardware_concurrency());
  write_isf(isf, out, write_options);
  if (!ctx.global.quiet) {
    std::cerr << "wrote " << out << ": " << report.user_types << " user types, " << report.enums << " enums, "
              << report.base_types << " base types, " << report.symbols << " symbols"
              << (options.banner ? "" : " (no banner: give --banner or -f IMAGE to match images by banner)")
              << "\n";
    for (const std::string& warning : report.warnings) std::cerr << "warning: " << warning << "\n";
  }
  return 0;
}

int run_profile(const CommandContext& ctx) {
  const std::string action = ctx.args.empty() ? "" : ctx.args[0];
  if (action == "info") return profile_info(ctx);
  if (action == "generate") return profile_generate(ctx);
  throw Error("usage: memscope profile info FILE [--verify] | memscope profile generate --btf FILE --system-map FILE "
              "[--banner STR] [-f IMAGE] -o OUT.json[.xz]");
}

MEMSCOPE_REGISTER(command_registry(), Command{
    .name = "profile",
    .summary = "kernel profiles: `profile info FILE [--verify]`, `profile generate --btf ... --system-map ... -o OUT`",
    .usage = "profile info FILE [--verify] | profile generate --btf FILE --system-map FILE [--banner STR] [-f IMAGE] "
             "-o OUT.json[.xz]",
    .output_is_file = true,
    .add_options =
        [](po::options_description& options) {
          options.add_options()("btf", po::value<std::string>()->value_name("FILE"),
                                "BTF: raw (/sys/kernel/btf/vmlinux) or a vmlinux ELF with .BTF")(
              "system-map", po::value<std::string>()->value_name("FILE"), "the kernel's System.map")(
              "banner", po::value<std::string>()->value_name("STR"),
              "the kernel's banner (default: read from -f IMAGE if given)")(
              "verify", po::bool_switch(),
              "profile info: check the profile (its cache entry, or a .msprof FILE) in full: checksums, references, order");
        },
    .run = run_profile,
});

}  // namespace
}  // namespace memscope::cli
