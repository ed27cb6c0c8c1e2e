// Fuzz target for one image format's reader (FUZZ_FORMAT names it, as the
// format registry does: "lime", "elf", "lz4", "lz4-seekable", "kdump",
// "avml", "lime-zlib", "raw"), or for detection and opening by content
// ("detect": every format's probe, then the one chosen). The input is the
// image file. After opening, everything a session asks of a physical
// layer is asked, bounded: ranges, extents, reads at the ranges' edges and
// at addresses the input chooses, a scanner's read, peek, warnings and
// descriptions. A clear FormatError is the expected outcome of most inputs;
// a crash, a leak, undefined behaviour or a hang is a bug.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/layers/format_registry.h"
#include "core/layers/mapped_file.h"
#include "core/util/error.h"
#include "fuzz/fuzz_support.h"

#ifndef FUZZ_FORMAT
#error "FUZZ_FORMAT must name a format (or \"detect\")"
#endif

using namespace memscope;

namespace {

constexpr size_t kMaxReads = 64;
constexpr size_t kReadSize = 4096;
constexpr size_t kScanSize = 64 << 10;

void exercise(PhysicalLayer& layer, fuzz::Bytes& choices) {
  (void)layer.warnings();
  (void)layer.describe();
  (void)layer.notes();
  (void)layer.limit();
  std::vector<Range> ranges;
  layer.ranges([&](const Range& r) {
    ranges.push_back(r);
    return ranges.size() < 16;
  });
  std::vector<uint8_t> buffer(kScanSize);
  size_t reads = 0;
  auto read = [&](uint64_t address, size_t n) {
    if (reads++ >= kMaxReads) return;
    IoResult r = layer.read(address, buffer.data(), std::min(n, buffer.size()));
    if (r.fault) (void)r.fault->message();
    (void)layer.peek(address, std::min<size_t>(n, 64));
  };
  for (const Range& r : ranges) {
    read(r.start, kReadSize);
    if (r.size > kReadSize) read(r.end() - kReadSize, kReadSize);
  }
  size_t extents = 0;
  layer.extents(0, ~uint64_t{0}, [&](const PhysicalExtent&) { return ++extents < 64; });
  for (int i = 0; i < 8; ++i) read(choices.u64() % (layer.limit() + 1), choices.u16() % kReadSize + 1);
  if (!ranges.empty()) {
    IoResult r = layer.scan_read(ranges.front().start, buffer.data(),
                                 static_cast<size_t>(std::min<uint64_t>(ranges.front().size, kScanSize)));
    (void)r;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::no_user_caches();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;  // MappedFile refuses empty files, by design
  fuzz::MemFile input(data, size);
  // The read addresses come from the input's last bytes (reversed), so the
  // same input chooses them every time.
  std::vector<uint8_t> tail(data + size - std::min<size_t>(size, 80), data + size);
  std::reverse(tail.begin(), tail.end());
  fuzz::Bytes choices(tail.data(), tail.size());
  try {
    std::string format = FUZZ_FORMAT;
    std::unique_ptr<PhysicalLayer> layer;
    if (format == "detect") {
      layer = open_image(input.path());
    } else {
      const FormatHandler* handler = format_registry().find(format);
      if (!handler) __builtin_trap();  // a misnamed target must not pass silently
      layer = handler->open(std::make_shared<const MappedFile>(input.path()));
    }
    exercise(*layer, choices);
  } catch (const Error&) {
    // A clear refusal naming the file: the expected outcome of most inputs.
  }
  return 0;
}
