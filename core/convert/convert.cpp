#include "core/convert/convert.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>

#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/layers/physical_layer.h"
#include "core/util/progress.h"
#include "core/convert/image_writer.h"
#include "core/layers/format_registry.h"

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

Registry<ImageWriter>& image_writer_registry() {
  static Registry<ImageWriter> registry("image writer", [](const ImageWriter& w) -> std::string_view { return w.name; });
  return registry;
}

std::string image_writer_names() {
  const auto& writers = image_writer_registry().entries();
  std::string names;
  for (size_t i = 0; i < writers.size(); ++i) {
    if (i) names += i + 1 == writers.size() ? " or " : ", ";
    names += writers[i].name;
  }
  return names;
}

ConvertResult convert_image(const std::string& in, const std::string& out, const ConvertOptions& options) {
  const ImageWriter* writer = image_writer_registry().find(options.to);
  if (!writer)
    throw Error("convert: unknown target format '" + options.to + "' (" + image_writer_names() + ")");
  refuse_same_file(in, out);
  std::error_code ec;
  if (!options.force && fs::exists(out, ec))
    throw Error(out + ": already exists (use --force to replace it)");
  if (fs::is_directory(out, ec)) throw Error(out + ": is a directory");

  auto source = open_image(in);
  ConvertResult result;
  result.source_format = source->format();
  result.target_format = writer->format;
  result.input_bytes = source->file_size();
  result.source_warnings = source->warnings();
  std::vector<Range> ranges;
  source->ranges([&](const Range& r) {
    ranges.push_back(r);
    result.data_bytes += r.size;
    return true;
  });
  result.ranges = ranges.size();

  TempOutput temp(out, options.on_temp_file);
  WriteRequest request{.source = *source,
                       .ranges = ranges,
                       .out_path = temp.path(),
                       .chunk_size = options.chunk_size,
                       .level = options.level,
                       .threads = options.threads};
  if (writer->check) writer->check(request);
  const std::string name = fs::path(out).filename().string();
  auto start = std::chrono::steady_clock::now();
  {
    uint64_t total = writer->progress_total ? writer->progress_total(ranges) : result.data_bytes;
    auto progress = make_progress(options, "converting " + name, total);
    request.progress = progress.get();
    WriteOutcome written = writer->write(request);
    if (progress) progress->finish();
    result.chunks = written.chunks;
    result.zero_chunks = written.zero_chunks;
    result.data_sha256 = written.data_sha256;
    result.output_bytes = fs::file_size(temp.path());
  }
  result.write_seconds = seconds_since(start);

  if (options.verify) {
    start = std::chrono::steady_clock::now();
    auto progress = make_progress(options, "verifying  " + name, result.data_bytes);
    request.progress = progress.get();
    if (writer->verify)
      writer->verify(temp.path(), request);
    else
      verify_same_physical_bytes(*source, temp.path());
    result.verify_seconds = seconds_since(start);
    result.verified = true;
  }
  temp.rename_to(out);
  return result;
}

}  // namespace memscope
