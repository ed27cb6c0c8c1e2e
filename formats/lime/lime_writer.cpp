#include "formats/lime/lime_writer.h"

#include "core/convert/image_writer.h"
#include "formats/lime/lime_format.h"

namespace memscope {

void write_lime_image(AddressSpace& source, const std::vector<Range>& ranges, const std::string& out_path,
                      const ProgressFn& progress) {
  std::vector<Range> sorted = normalize_ranges(ranges, out_path);
  refuse_to_overwrite_evidence(source, out_path);
  OutputFile out(out_path);
  Copier copier(source, out, progress, total_bytes(sorted));
  for (const Range& range : sorted) {
    lime::RangeHeader header;
    header.start = range.start;
    header.end_inclusive = range.start + (range.size - 1);
    out.write(&header, sizeof header);
    copier.copy(range);
  }
  out.finish();
}


namespace {

WriteOutcome write_lime(const WriteRequest& request) {
  ProgressFn report;
  if (request.progress) report = [&](uint64_t done, uint64_t) { request.progress->set_done(done); };
  write_lime_image(request.source, request.ranges, request.out_path, report);
  return {};
}

}  // namespace

MEMSCOPE_REGISTER(image_writer_registry(), ImageWriter{
  .name = "lime",
  .format = "lime",
  .description = "LiME: a 32-byte header before each physical range",
  .write = write_lime,
});

}  // namespace memscope
