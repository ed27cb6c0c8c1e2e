// Batch reports: one document per image that says which image (path, size,
// format, SHA-256, physical ranges), which kernel, which profile and which
// memscope it came from, and for each selected plugin its status, time,
// typed columns, rows and warnings. docs/report-schema.json is the JSON
// Schema of the document; report_json.h writes it.
//
// One opened image (a Session), one profile and one kernel discovery are
// shared by all the plugins of an image. Nothing here throws for a bad
// image or a failing plugin: an image that cannot be analysed gives a
// document whose `error` says why, a failing plugin a status "error" with
// the reason, so a batch always completes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/plugin/plugin.h"
#include "core/plugin/table.h"
#include "core/layers/address_space.h"

namespace memscope {

// Bumped when a key of the document changes meaning or disappears (adding
// keys does not bump it).
constexpr int kReportSchemaVersion = 1;

enum class PluginStatus { Ok, Error, Skipped };
const char* status_name(PluginStatus status);  // "ok", "error", "skipped"

struct PluginReport {
  std::string name;
  // Where the plugin comes from: "built-in" or the shared library's path
  // (core/plugin/loader.h).
  std::string origin;
  PluginStatus status = PluginStatus::Skipped;
  std::string reason;  // why it failed or was skipped; empty when ok
  double elapsed_ms = 0;
  // Columns always (from the plugin's schema); rows and warnings of the run.
  Table table;
};

struct KernelSummary {
  std::string banner;
  std::string release;
  uint64_t virtual_shift = 0;   // KASLR: run-time = link-time + shift
  uint64_t physical_shift = 0;  // physical load displacement
  uint64_t dtb = 0;             // physical address of the top-level page table
  int paging_levels = 4;
  std::string method;  // how it was found ("vmcoreinfo note", "banner scan", ...)
  std::string method_detail;
};

struct ProfileSummary {
  std::string source;  // the profile source that answered ("file", "symbols", "image", "cache", "btf")
  std::string reason;  // why that source
  std::string path;    // the file it was made from, or the source's description
  std::string banner;
  std::string producer;  // "dwarf2json 0.8.0", ... ("" when the profile does not say)
};

struct ImageReport {
  std::string generated_at;  // UTC ISO-8601, when the document was completed
  // --- the image ---
  std::string path;  // as given
  std::optional<uint64_t> size;
  std::optional<std::string> format;
  std::optional<std::string> sha256;  // of the file's bytes; absent with --no-hash or when unreadable
  std::vector<Range> physical_ranges;
  std::vector<std::string> image_warnings;  // what the format says is missing from the evidence
  // --- what was found in it ---
  std::optional<KernelSummary> kernel;
  std::optional<ProfileSummary> profile;
  // Set when the image could not be analysed at all (unreadable, no
  // kernel, no profile): the report of a failed image.
  std::optional<std::string> error;
  // In the order the plugins were selected (by name).
  std::vector<PluginReport> plugins;

  bool failed() const { return error.has_value(); }
};

// What to run on each image.
struct ReportOptions {
  // Explicit plugin names (--plugins a,b); empty: every plugin that applies
  // (--all, and the default). Names are checked by select_plugins.
  std::vector<std::string> plugin_names;
  // The profile (-p), symbol folders (-s), --btf/--system-map: every field
  // of SessionOptions but the image.
  std::string profile;
  std::vector<std::string> symbol_dirs;
  std::string btf;
  std::string system_map;
  bool use_profile_cache = true;
  // SHA-256 of each image file, computed on a thread of its own while the
  // plugins read the image (--no-hash: not computed).
  bool hash = true;
  // Arguments given to the plugins (the single-plugin command's envelope);
  // a batch report gives none.
  PluginArgs args;
};

// The plugins a report runs, by name. Throws Error naming every unknown
// name (and how to list the known ones).
std::vector<const Plugin*> select_plugins(const std::vector<std::string>& names);

// Told what is going on, for a progress display: the image's path and the
// plugin about to run ("" when the image is being opened). Called on the
// thread building the report.
using ReportProgress = std::function<void(const std::string& image, const std::string& plugin)>;

// Runs `plugins` on the image at `path` and returns its report. Never
// throws for anything the image or a plugin does (std::bad_alloc included:
// the document then says "out of memory").
ImageReport build_image_report(const std::string& path, const std::vector<const Plugin*>& plugins,
                               const ReportOptions& options, const ReportProgress& progress = {});

// Why a plugin cannot run unattended (it needs options a report does not
// give), or nullopt. Used to skip it with that reason.
std::optional<std::string> needs_options_reason(const Plugin& plugin, const PluginArgs& args);

class ImageHash;
class Session;

// The single-plugin command's `--envelope`: the document of one plugin run
// in a session the command opened itself. Hashing starts when the builder
// is made, so that it runs while the plugin reads the image.
class EnvelopeBuilder {
 public:
  EnvelopeBuilder(const std::string& image, bool hash);
  ~EnvelopeBuilder();
  EnvelopeBuilder(const EnvelopeBuilder&) = delete;
  EnvelopeBuilder& operator=(const EnvelopeBuilder&) = delete;

  // Waits for the hash. Never throws for what the session cannot find
  // (the kernel or profile are then null, and `error` says why).
  ImageReport finish(Session& session, const Plugin& plugin, const PluginResult& result);

 private:
  std::string image_;
  std::unique_ptr<ImageHash> hash_;
};

// memscope's version, as the document's `tool` gives it.
const char* memscope_version();

// The current time as UTC ISO-8601 with seconds: "2026-11-20T04:35:18Z".
std::string utc_timestamp(std::chrono::system_clock::time_point when = std::chrono::system_clock::now());

}  // namespace memscope
