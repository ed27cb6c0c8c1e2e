#include "formats/raw/raw_writer.h"

#include "core/convert/image_writer.h"
#include "core/util/error.h"

namespace memscope {

void write_raw_image(AddressSpace& source, const std::vector<Range>& ranges, const std::string& out_path,
                     const ProgressFn& progress) {
  std::vector<Range> sorted = normalize_ranges(ranges, out_path);
  refuse_to_overwrite_evidence(source, out_path);
  uint64_t total = sorted.empty() ? 0 : sorted.back().end();
  if (!sorted.empty() && total == 0)
    throw Error(out_path + ": a raw image cannot reach physical 2^64 (its size would not fit a file)");
  OutputFile out(out_path);
  Copier copier(source, out, progress, total);
  uint64_t position = 0;
  for (const Range& range : sorted) {
    out.skip_zeros(range.start - position);
    copier.advance(range.start - position);
    copier.copy(range);
    position = range.end();
  }
  out.finish();
}


namespace {

WriteOutcome write_raw(const WriteRequest& request) {
  ProgressFn report;
  if (request.progress) report = [&](uint64_t done, uint64_t) { request.progress->set_done(done); };
  write_raw_image(request.source, request.ranges, request.out_path, report);
  return {};
}

}  // namespace

MEMSCOPE_REGISTER(image_writer_registry(), ImageWriter{
  .name = "raw",
  .format = "raw",
  .description = "flat physical memory from address 0 (holes left sparse)",
  // Progress counts the holes too: they are skipped, but they are the file.
  .progress_total = [](const std::vector<Range>& ranges) -> uint64_t { return ranges.empty() ? 0 : ranges.back().end(); },
  .write = write_raw,
});

}  // namespace memscope
