// `memscope convert IN OUT [--to lz4|raw|lime|elf] [--chunk-size N]
// [--level N] [--threads N] [--no-verify] [--force]`: see core/convert.h.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <unistd.h>

#include "cli/command.h"
#include "core/convert/convert.h"
#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/util/progress.h"

namespace memscope::cli {
namespace {

// The temporary output's path, for the signal handler: an interrupted
// convert removes its partial file (the final name was never written).
char g_temp_path[4096];

extern "C" void remove_temp_and_exit(int signal) {
  if (g_temp_path[0]) ::unlink(g_temp_path);
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

void track_temp(const std::string& path) {
  if (path.size() >= sizeof g_temp_path) return;
  g_temp_path[0] = '\0';
  std::memcpy(g_temp_path, path.c_str(), path.size() + 1);
}

uint64_t parse_size(const std::string& text) {
  if (text.empty()) throw Error("--chunk-size: empty value");
  uint64_t shift = 0;
  std::string digits = text;
  switch (text.back()) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    default: break;
  }
  if (shift) digits.pop_back();
  uint64_t value = parse_u64(digits, "--chunk-size");
  if (value > (UINT64_MAX >> shift)) throw Error("--chunk-size: " + text + " is too large");
  return value << shift;
}

void add_convert_options(po::options_description& options) {
  options.add_options()
      ("to", po::value<std::string>()->default_value("lz4"), "output format: lz4 (seekable LZ4), raw, lime, elf")
      ("chunk-size", po::value<std::string>()->default_value("1M"),
       "lz4: bytes per independently compressed chunk (power of two, 4K..64M)")
      ("level", po::value<int>()->default_value(1), "lz4: compression level (1 fast .. 12 smallest)")
      ("threads", po::value<unsigned>()->default_value(0), "lz4: compression threads (0: all hardware threads)")
      ("verify", po::value<bool>()->default_value(true)->implicit_value(true), "re-read the output and compare before renaming it")
      ("no-verify", po::bool_switch(), "same as --verify=false")
      ("force", po::bool_switch(), "replace OUT if it exists");
}

int run_convert(const CommandContext& ctx) {
  if (ctx.args.size() != 2) throw UsageError("convert: expected IN and OUT (memscope convert IN OUT [options])");
  Progress::set_quiet(ctx.global.quiet);
  ConvertOptions options;
  options.to = ctx.options["to"].as<std::string>();
  options.chunk_size = parse_size(ctx.options["chunk-size"].as<std::string>());
  options.level = ctx.options["level"].as<int>();
  options.threads = ctx.options["threads"].as<unsigned>();
  options.verify = ctx.options["verify"].as<bool>() && !ctx.options["no-verify"].as<bool>();
  options.force = ctx.options["force"].as<bool>();
  options.progress = !ctx.global.quiet;
  options.on_temp_file = track_temp;
  std::signal(SIGINT, remove_temp_and_exit);
  std::signal(SIGTERM, remove_temp_and_exit);
  std::signal(SIGHUP, remove_temp_and_exit);

  const std::string& in = ctx.args[0];
  const std::string& out = ctx.args[1];
  ConvertResult r = convert_image(in, out, options);
  if (!ctx.global.quiet) {
    double ratio = r.output_bytes ? double(r.data_bytes) / double(r.output_bytes) : 0;
    double rate = r.write_seconds > 0 ? double(r.data_bytes) / r.write_seconds : 0;
    char line[512];
    std::snprintf(line, sizeof line, "%s (%s) -> %s (%s): %s of memory in %llu range(s) -> %s (%.2f:1) in %.1f s, %s/s",
                  in.c_str(), r.source_format.c_str(), out.c_str(), r.target_format.c_str(),
                  Progress::human_bytes(double(r.data_bytes)).c_str(), static_cast<unsigned long long>(r.ranges),
                  Progress::human_bytes(double(r.output_bytes)).c_str(), ratio, r.write_seconds,
                  Progress::human_bytes(rate).c_str());
    std::cerr << line << "\n";
    if (r.chunks)
      std::cerr << "  " << r.chunks << " chunks, " << r.zero_chunks << " all-zero; data sha256 " << r.data_sha256
                << "\n";
    if (r.verified) {
      std::snprintf(line, sizeof line, "  verified in %.1f s", r.verify_seconds);
      std::cerr << line << "\n";
    }
  }
  // Shown even with -q: the output lacks what the source lacked.
  return report_warnings(ctx.global, r.source_warnings);
}

MEMSCOPE_REGISTER(command_registry(), Command{
    .name = "convert",
    .summary = "convert an image to seekable LZ4 (or back to raw, LiME, ELF core)",
    .usage = "convert IN OUT [--to lz4|raw|lime|elf] [--chunk-size N] [--level N] [--threads N]",
    .add_options = add_convert_options,
    .run = run_convert,
    .max_args = 2,
    .outputs = {"text"},
    .uses_image = false,
});

}  // namespace
}  // namespace memscope::cli
