#include "core/report/report.h"

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <exception>
#include <new>

#include "core/plugin/loader.h"
#include "core/report/image_hash.h"
#include "core/scan/cancel.h"
#include "core/session/session.h"
#include "core/util/error.h"

namespace memscope {
namespace {

// A kdump with excluded pages or a fragmented LiME has many ranges; past
// this many the list is cut (and says so) so that a document stays small.
constexpr size_t kMaxRanges = 4096;

std::string producer_of(const ProfileMetadata& metadata) {
  std::string producer = metadata.producer_name;
  if (!metadata.producer_version.empty()) producer += (producer.empty() ? "" : " ") + metadata.producer_version;
  return producer;
}

// What the plugin needs that the profile lacks ("type 'kthread', symbol
// 'x'"), or "" when it has everything: a plugin that does not apply to
// this kernel is skipped, with that reason, by a report of every plugin.
std::string missing_requirements(const PluginInfo& info, const Profile& profile) {
  std::string missing;
  for (const std::string& type : info.required_types)
    if (!profile.find_type(type)) missing += (missing.empty() ? "" : ", ") + ("type '" + type + "'");
  for (const std::string& symbol : info.required_symbols)
    if (!profile.symbol(symbol)) missing += (missing.empty() ? "" : ", ") + ("symbol '" + symbol + "'");
  return missing;
}

PluginReport skipped(const Plugin& plugin, std::string reason) {
  PluginReport out;
  out.name = plugin.info.name;
  out.origin = plugin_origin(plugin.info.name);
  out.status = PluginStatus::Skipped;
  out.reason = std::move(reason);
  out.table.columns = plugin.info.columns;
  return out;
}

PluginReport ran(const Plugin& plugin, PluginResult result) {
  PluginReport out;
  out.name = plugin.info.name;
  out.origin = plugin_origin(plugin.info.name);
  out.status = result.ok ? PluginStatus::Ok : PluginStatus::Error;
  out.reason = std::move(result.error);
  out.elapsed_ms = std::chrono::duration<double, std::milli>(result.elapsed).count();
  out.table = std::move(result.table);
  return out;
}

void fill_image(ImageReport& report, PhysicalLayer& image) {
  report.size = image.file_size();
  report.format = image.format();
  size_t total = 0;
  image.ranges([&](const Range& range) {
    if (report.physical_ranges.size() < kMaxRanges) report.physical_ranges.push_back(range);
    ++total;
    return true;
  });
  report.image_warnings = image.warnings();
  if (total > kMaxRanges)
    report.image_warnings.push_back(report.path + ": " + std::to_string(total) + " physical ranges, the first " +
                                    std::to_string(kMaxRanges) + " listed");
}

KernelSummary kernel_summary(const LinuxKernelInfo& kernel) {
  return KernelSummary{.banner = kernel.banner,
                       .release = kernel.os_release,
                       .virtual_shift = kernel.virtual_shift,
                       .physical_shift = kernel.physical_shift,
                       .dtb = kernel.dtb,
                       .paging_levels = kernel.paging_levels,
                       .method = kernel.method,
                       .method_detail = kernel.method_detail};
}

// The profile and the kernel, or the reason in report.error.
void fill_kernel_and_profile(ImageReport& report, Session& session) {
  try {
    const Profile& profile = session.profile();
    ProfileSummary summary{.source = "", .reason = "", .path = profile.source(), .banner = profile.banner(),
                           .producer = producer_of(profile.metadata())};
    if (const auto& choice = session.profile_choice()) {
      summary.source = choice->source;
      summary.reason = choice->reason;
    }
    report.profile = std::move(summary);
    report.kernel = kernel_summary(session.kernel());
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    report.error = e.what();
  }
}

// Everything but the hash; throws what the Session throws when the image
// cannot be opened.
void analyse(ImageReport& report, const std::vector<const Plugin*>& plugins, const ReportOptions& options,
             const ReportProgress& progress) {
  SessionOptions session_options;
  session_options.image = report.path;
  session_options.profile = options.profile;
  session_options.symbol_dirs = options.symbol_dirs;
  session_options.btf = options.btf;
  session_options.system_map = options.system_map;
  session_options.use_profile_cache = options.use_profile_cache;
  if (progress) progress(report.path, "");
  Session session(session_options);
  fill_image(report, session.image());

  // The profile first (choosing it may need the kernel's banner), then the
  // kernel with it: both are shared by every plugin below.
  fill_kernel_and_profile(report, session);

  const bool every_plugin = options.plugin_names.empty();
  for (const Plugin* plugin : plugins) {
    // Ctrl-C: the plugin running finishes what it has (scans stop, marked
    // incomplete); the rest are not started and the image counts as failed.
    if (!report.error && interrupt_token().requested()) report.error = report.path + ": interrupted (Ctrl-C)";
    if (report.error) {
      report.plugins.push_back(skipped(*plugin, "not run: " + *report.error));
      continue;
    }
    if (auto why = needs_options_reason(*plugin, options.args)) {
      report.plugins.push_back(skipped(*plugin, *why));
      continue;
    }
    if (every_plugin) {
      std::string missing = missing_requirements(plugin->info, session.profile());
      if (!missing.empty()) {
        report.plugins.push_back(skipped(*plugin, "does not apply to this kernel: needs " + missing + ", which profile " +
                                                      session.profile().source() + " lacks"));
        continue;
      }
    }
    if (progress) progress(report.path, plugin->info.name);
    report.plugins.push_back(ran(*plugin, run_plugin(*plugin, session, options.args)));
  }
}

}  // namespace

const char* status_name(PluginStatus status) {
  switch (status) {
    case PluginStatus::Ok:
      return "ok";
    case PluginStatus::Error:
      return "error";
    case PluginStatus::Skipped:
      return "skipped";
  }
  return "error";
}

std::vector<const Plugin*> select_plugins(const std::vector<std::string>& names) {
  std::vector<const Plugin*> selected;
  if (names.empty()) {
    for (const Plugin& plugin : plugins()) selected.push_back(&plugin);
    return selected;
  }
  std::string unknown;
  for (const std::string& name : names) {
    const Plugin* plugin = find_plugin(name);
    if (!plugin) {
      unknown += (unknown.empty() ? "" : ", ") + ("'" + name + "'");
      continue;
    }
    bool repeated = false;
    for (const Plugin* p : selected) repeated = repeated || p == plugin;
    if (!repeated) selected.push_back(plugin);
  }
  if (!unknown.empty()) throw Error("no plugin named " + unknown + " (memscope plugins lists them)");
  // In the registry's order, as with every plugin: the document does not
  // depend on the order the names were typed in.
  std::sort(selected.begin(), selected.end(),
            [](const Plugin* a, const Plugin* b) { return a->info.name < b->info.name; });
  return selected;
}

std::optional<std::string> needs_options_reason(const Plugin& plugin, const PluginArgs& args) {
  if (plugin.info.needs_options.empty() || !args.empty()) return std::nullopt;
  return "needs options a report does not give: " + plugin.info.needs_options;
}

ImageReport build_image_report(const std::string& path, const std::vector<const Plugin*>& plugins,
                               const ReportOptions& options, const ReportProgress& progress) {
  ImageReport report;
  report.path = path;
  std::optional<ImageHash> hash;
  try {
    if (options.hash) hash.emplace(path);
    analyse(report, plugins, options, progress);
  } catch (const std::bad_alloc&) {
    report.error = path + ": out of memory";
  } catch (const std::exception& e) {
    report.error = e.what();
  }
  // An image that could not be opened is still named by its bytes, when
  // they can be read.
  if (!report.size) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) report.size = static_cast<uint64_t>(st.st_size);
  }
  // Plugins the analysis did not reach (an exception above) are listed as
  // skipped, so every selected plugin has its entry.
  for (size_t i = report.plugins.size(); i < plugins.size(); ++i)
    report.plugins.push_back(skipped(*plugins[i], "not run: " + report.error.value_or("the report stopped")));
  if (hash) {
    try {
      report.sha256 = hash->result();
      if (!report.sha256) report.image_warnings.push_back(hash->error());
    } catch (const std::exception& e) {
      report.image_warnings.push_back(path + ": hashing failed: " + e.what());
    }
  }
  report.generated_at = utc_timestamp();
  return report;
}

EnvelopeBuilder::EnvelopeBuilder(const std::string& image, bool hash) : image_(image) {
  if (hash) hash_ = std::make_unique<ImageHash>(image);
}

EnvelopeBuilder::~EnvelopeBuilder() = default;

ImageReport EnvelopeBuilder::finish(Session& session, const Plugin& plugin, const PluginResult& result) {
  ImageReport report;
  report.path = image_;
  fill_image(report, session.image());
  fill_kernel_and_profile(report, session);
  report.plugins.push_back(ran(plugin, result));
  if (hash_) {
    report.sha256 = hash_->result();
    if (!report.sha256) report.image_warnings.push_back(hash_->error());
  }
  report.generated_at = utc_timestamp();
  return report;
}

const char* memscope_version() {
#ifdef MEMSCOPE_VERSION
  return MEMSCOPE_VERSION;
#else
  return "unknown";
#endif
}

std::string utc_timestamp(std::chrono::system_clock::time_point when) {
  std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace memscope
