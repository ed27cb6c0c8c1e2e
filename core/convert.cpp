#include "core/convert.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>

#include "core/error.h"
#include "core/hex.h"
#include "core/physical_layer.h"
#include "core/progress.h"
#include "formats/lz4_seekable_writer.h"
#include "formats/plain_writers.h"
#include "formats/registry.h"

namespace memscope {
namespace {

namespace fs = std::filesystem;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The output must not be the evidence, whatever the spelling of the path.
void refuse_same_file(const std::string& in, const std::string& out) {
  struct stat a {}, b {};
  if (::stat(in.c_str(), &a) == 0 && ::stat(out.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
    throw Error(out + ": is the input image itself; refusing to overwrite evidence");
}

// Removes the temporary file unless released (renamed into place).
class TempOutput {
 public:
  TempOutput(const std::string& out, std::function<void(const std::string&)> notify)
      : path_(out + ".partial-" + std::to_string(::getpid())), notify_(std::move(notify)) {
    if (notify_) notify_(path_);
  }
  ~TempOutput() {
    if (path_.empty()) return;
    ::unlink(path_.c_str());
    if (notify_) notify_("");
  }
  const std::string& path() const { return path_; }
  void rename_to(const std::string& out) {
    if (::rename(path_.c_str(), out.c_str()) != 0)
      throw Error(out + ": cannot rename " + path_ + " into place: " + std::strerror(errno));
    path_.clear();
    if (notify_) notify_("");
  }

 private:
  std::string path_;
  std::function<void(const std::string&)> notify_;
};

std::unique_ptr<Progress> make_progress(const ConvertOptions& options, std::string label, uint64_t total) {
  if (!options.progress) return nullptr;
  return std::make_unique<Progress>(std::move(label), total);
}

}  // namespace

void verify_same_physical_bytes(PhysicalLayer& source, const std::string& path) {
  auto copy = open_image(path);
  constexpr size_t kStep = 1 << 20;
  std::vector<uint8_t> a(kStep), b(kStep);
  std::vector<Range> ranges;
  source.ranges([&](const Range& r) {
    ranges.push_back(r);
    return true;
  });
  for (const Range& r : ranges) {
    for (uint64_t done = 0; done < r.size;) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(kStep, r.size - done));
      uint64_t at = r.start + done;
      source.read_exact(at, a.data(), take);
      IoResult got = copy->read(at, b.data(), take);
      if (!got.ok())
        throw FormatError(path + ": verification failed: " + got.fault->message() + " (the source has bytes there)");
      if (std::memcmp(a.data(), b.data(), take) != 0) {
        size_t i = 0;
        while (a[i] == b[i]) ++i;
        throw FormatError(path + ": verification failed: physical address " + hex(at + i) +
                          " differs from the source");
      }
      done += take;
    }
  }
}

ConvertResult convert_image(const std::string& in, const std::string& out, const ConvertOptions& options) {
  const std::string& to = options.to;
  if (to != "lz4" && to != "raw" && to != "lime" && to != "elf")
    throw Error("convert: unknown target format '" + to + "' (lz4, raw, lime or elf)");
  if (to == "lz4" && !lz4s::valid_chunk_size(options.chunk_size))
    throw Error("convert: chunk size " + std::to_string(options.chunk_size) +
                " is not a power of two between 4 KiB and 64 MiB");
  refuse_same_file(in, out);
  std::error_code ec;
  if (!options.force && fs::exists(out, ec))
    throw Error(out + ": already exists (use --force to replace it)");
  if (fs::is_directory(out, ec)) throw Error(out + ": is a directory");

  auto source = open_image(in);
  ConvertResult result;
  result.source_format = source->format();
  result.target_format = to == "lz4" ? "lz4-seekable" : to;
  result.input_bytes = source->file_size();
  std::vector<Range> ranges;
  source->ranges([&](const Range& r) {
    ranges.push_back(r);
    result.data_bytes += r.size;
    return true;
  });
  result.ranges = ranges.size();

  TempOutput temp(out, options.on_temp_file);
  const std::string name = fs::path(out).filename().string();
  auto start = std::chrono::steady_clock::now();
  if (to == "lz4") {
    auto progress = make_progress(options, "converting " + name, result.data_bytes);
    Lz4WriteOptions w;
    w.chunk_size = options.chunk_size;
    w.level = options.level;
    w.threads = options.threads;
    w.progress = progress.get();
    Lz4WriteResult written = write_lz4_seekable(*source, temp.path(), w);
    result.output_bytes = written.output_bytes;
    result.chunks = written.chunks;
    result.zero_chunks = written.zero_chunks;
    result.data_sha256 = Sha256::to_hex(written.data_sha256);
  } else {
    uint64_t total = to == "raw" && !ranges.empty() ? ranges.back().end() : result.data_bytes;
    auto progress = make_progress(options, "converting " + name, total);
    ProgressFn report;
    if (progress) report = [&](uint64_t done, uint64_t) { progress->set_done(done); };
    if (to == "raw")
      write_raw_image(*source, ranges, temp.path(), report);
    else if (to == "lime")
      write_lime_image(*source, ranges, temp.path(), report);
    else
      write_elf_core(*source, ranges, source->notes(), temp.path(), report);
    if (progress) progress->finish();
    result.output_bytes = fs::file_size(temp.path());
  }
  result.write_seconds = seconds_since(start);

  if (options.verify) {
    start = std::chrono::steady_clock::now();
    auto progress = make_progress(options, "verifying  " + name, result.data_bytes);
    if (to == "lz4")
      verify_lz4_seekable(temp.path(), options.threads, progress.get());
    else
      verify_same_physical_bytes(*source, temp.path());
    result.verify_seconds = seconds_since(start);
    result.verified = true;
  }
  temp.rename_to(out);
  return result;
}

}  // namespace memscope
