// memscope report: the selected plugins (default: every plugin that
// applies) on each image given with -f, one JSON document per image
// (docs/report-schema.json) into --out-dir DIR or as one line per image
// into --jsonl FILE (default: stdout), and with --html DIR one page per
// image. Images run -j at a time; one that cannot be analysed gets a
// document saying why and the batch goes on; the exit status is the number
// of images that failed (at most 100). docs/batch.md shows it in
// schedulers.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <optional>
#include <sys/stat.h>
#include <thread>

#include "cli/command.h"
#include "cli/render/html_report.h"
#include "core/report/batch.h"
#include "core/report/report.h"
#include "core/report/report_files.h"
#include "core/report/report_json.h"
#include "core/scan/cancel.h"
#include "core/util/error.h"
#include "core/util/progress.h"

namespace memscope::cli {
namespace {

// Exit statuses above this would read as signals (128+) or wrap at 256.
constexpr size_t kMaxFailedStatus = 100;

std::vector<std::string> split_names(const std::vector<std::string>& values) {
  std::vector<std::string> names;
  for (const std::string& value : values) {
    size_t from = 0;
    while (from <= value.size()) {
      size_t end = value.find_first_of(", ", from);
      if (end == std::string::npos) end = value.size();
      if (end > from) names.push_back(value.substr(from, end - from));
      from = end + 1;
    }
  }
  return names;
}

void require_folder(const std::string& path, const char* option) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw UsageError(std::string(option) + " " + path + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) throw UsageError(std::string(option) + " " + path + " is not a folder");
  if (::access(path.c_str(), W_OK) != 0)
    throw UsageError(std::string(option) + " " + path + " is not writable: " + std::strerror(errno));
}

// The JSONL stream: stdout, a pipe or device, or a new file (an existing
// regular file is refused before any image is opened, never overwritten).
// One write per line, so a reader following the file sees whole lines.
class JsonlStream {
 public:
  explicit JsonlStream(const std::string& path) : path_(path) {
    if (path == "-") {
      fd_ = STDOUT_FILENO;
      return;
    }
    // A pipe, a device or a process substitution (/dev/fd/63) is a stream,
    // not a report file: written to as it is.
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
      fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    else
      fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw Error("--jsonl " + path + ": " +
                  (errno == EEXIST ? std::string("exists: a report is never written over; choose another name")
                                   : std::strerror(errno)));
  }
  ~JsonlStream() {
    if (fd_ > STDERR_FILENO) ::close(fd_);
  }
  JsonlStream(const JsonlStream&) = delete;
  JsonlStream& operator=(const JsonlStream&) = delete;

  void write_line(std::string line) {
    line += '\n';
    size_t done = 0;
    while (done < line.size()) {
      ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error("--jsonl " + path_ + ": write failed: " + std::strerror(errno));
      done += static_cast<size_t>(n);
    }
  }
  void finish() {
    if (fd_ > STDERR_FILENO && ::fsync(fd_) != 0) throw Error("--jsonl " + path_ + ": " + std::strerror(errno));
  }

 private:
  std::string path_;
  int fd_ = -1;
};

std::vector<std::string> images_of(const CommandContext& ctx) {
  std::vector<std::string> images;
  images = ctx.global.files;
  if (images.empty()) throw UsageError("report: no image given: use -f IMAGE (repeatable)");
  return images;
}

int run_report(const CommandContext& ctx) {
  const po::variables_map& vm = ctx.options;
  std::vector<std::string> images = images_of(ctx);
  bool all = vm.count("all") && vm["all"].as<bool>();
  std::vector<std::string> names =
      vm.count("plugins") ? split_names(vm["plugins"].as<std::vector<std::string>>()) : std::vector<std::string>{};
  if (all && !names.empty()) throw UsageError("report: --plugins and --all: give one of them");
  if (vm.count("plugins") && names.empty()) throw UsageError("report: --plugins names no plugin");
  std::optional<std::string> out_dir, jsonl, html_dir;
  if (vm.count("out-dir")) out_dir = vm["out-dir"].as<std::string>();
  if (vm.count("jsonl")) jsonl = vm["jsonl"].as<std::string>();
  if (vm.count("html")) html_dir = vm["html"].as<std::string>();
  if (out_dir && jsonl) throw UsageError("report: --out-dir and --jsonl: give one of them");
  unsigned jobs = vm.count("jobs") ? vm["jobs"].as<unsigned>() : std::max(1u, std::thread::hardware_concurrency());
  if (jobs == 0) throw UsageError("report: -j takes a number of images at a time, at least 1");

  // Everything the command line names is checked before any image is
  // opened: a typo costs nothing.
  std::vector<const Plugin*> selected;
  try {
    selected = select_plugins(names);
  } catch (const Error& e) {
    throw UsageError(std::string("report: ") + e.what());
  }
  if (out_dir) require_folder(*out_dir, "--out-dir");
  if (html_dir) require_folder(*html_dir, "--html");
  std::optional<JsonlStream> stream;
  if (!out_dir) stream.emplace(jsonl.value_or("-"));

  ReportOptions options;
  options.plugin_names = names;
  options.profile = ctx.global.profile;
  options.symbol_dirs = ctx.global.symbol_dirs;
  options.btf = ctx.global.btf;
  options.system_map = ctx.global.system_map;
  options.hash = !(vm.count("no-hash") && vm["no-hash"].as<bool>());

  uint64_t total_bytes = 0;
  for (const std::string& image : images) {
    struct stat st {};
    if (::stat(image.c_str(), &st) == 0) total_bytes += static_cast<uint64_t>(st.st_size);
  }
  std::atomic<size_t> done{0};
  Progress progress("report", total_bytes);
  auto label = [&](const std::string& image, const std::string& plugin) {
    std::string text = "report " + std::to_string(done.load()) + "/" + std::to_string(images.size()) + " images: " +
                       report_base_name(image) + (plugin.empty() ? "" : " " + plugin);
    progress.set_label(std::move(text));
    progress.advance(0);
  };
  BatchProgress steps{[&](size_t, const std::string& image, const std::string& plugin) { label(image, plugin); }};

  // Emitted on this thread, in the images' order.
  std::vector<std::string> notes;
  auto emit = [&](size_t index, ImageReport& report) {
    // A document that cannot be written is that image's failure, said on
    // stderr; the batch goes on.
    try {
      std::string base = report_base_name(report.path);
      if (out_dir) {
        std::string path = write_new_file(*out_dir, base, ".json", report_json(report, 2) + "\n");
        if (path != *out_dir + (out_dir->back() == '/' ? "" : "/") + base + ".json")
          notes.push_back(report.path + ": an earlier report has its name: written as " + path);
      } else {
        stream->write_line(report_json(report, -1));
      }
      if (html_dir) {
        std::string path = write_new_file(*html_dir, base, ".html", report_html(report));
        if (!ctx.global.quiet) notes.push_back(report.path + ": HTML report " + path);
      }
    } catch (const std::exception& e) {
      notes.push_back(std::string("cannot write the report of ") + images[index] + ": " + e.what());
      if (!report.error) report.error = e.what();
    }
    if (report.error) notes.push_back(report.path + ": failed: " + *report.error);
    done.fetch_add(1);
    label(report.path, "");
    struct stat st {};
    progress.advance(::stat(report.path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0);
  };
  size_t failed = run_report_batch(images, selected, options, jobs, emit, steps);
  progress.finish();
  if (stream) stream->finish();
  for (const std::string& note : notes) std::cerr << "memscope: " << note << "\n";
  if (!ctx.global.quiet)
    std::cerr << "memscope: report: " << images.size() << (images.size() == 1 ? " image, " : " images, ") << failed
              << " failed" << (out_dir ? "; documents in " + *out_dir : std::string()) << "\n";
  if (interrupt_token().requested()) return 130;
  return static_cast<int>(std::min(failed, kMaxFailedStatus));
}

void add_report_options(po::options_description& options) {
  options.add_options()
      ("plugins", po::value<std::vector<std::string>>()->composing()->multitoken()->value_name("a,b,..."),
       "only these plugins (names separated by commas)")
      ("all", po::bool_switch(), "every plugin that applies to the image's kernel (the default)")
      ("jobs,j", po::value<unsigned>()->value_name("N"), "images analysed at a time (default: the cores)")
      ("out-dir", po::value<std::string>()->value_name("DIR"),
       "one JSON document per image into DIR, named after the image (an existing one is kept: the new one is "
       "numbered)")
      ("jsonl", po::value<std::string>()->value_name("FILE|-"),
       "one JSON line per image into FILE (a new file) or stdout (-, the default)")
      ("html", po::value<std::string>()->value_name("DIR"), "also one self-contained HTML page per image into DIR")
      ("no-hash", po::bool_switch(), "do not compute each image's SHA-256");
}

MEMSCOPE_REGISTER(command_registry(), Command{
    .name = "report",
    .summary = "run many plugins on many images: one JSON document (and HTML page) per image",
    .usage = "report -f IMAGE [-f IMAGE ...] [--plugins a,b,...|--all] [-p PROFILE|-s DIR] [-j N] "
             "[--out-dir DIR | --jsonl FILE|-] [--html DIR] [--no-hash]",
    .add_options = add_report_options,
    .run = run_report,
    // -o jsonl is what it writes without --out-dir.
    .outputs = {"jsonl"},
    .many_images = true,
    .no_strict_because = "each document lists its warnings and the exit status counts the images that failed",
});

}  // namespace
}  // namespace memscope::cli
