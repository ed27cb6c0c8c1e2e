// LiME images: the bytes of each range lie uncompressed right after its
// header, so the reader only walks the headers and hands the segment list
// to SegmentedFileLayer, which serves reads straight from the mmap.
#include <cstring>

#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/layers/segmented_file_layer.h"
#include "formats/lime/lime_format.h"
#include "core/layers/format_registry.h"

namespace memscope {

std::string lime::check_range_header(const RangeHeader& header, uint64_t remaining, uint64_t* length) {
  if (header.magic != kMagic)
    return "bad magic " + hex(header.magic) + " (expected " + hex(kMagic) +
           "); corrupt image or a range length that lies";
  if (header.version != kVersion)
    return "unsupported LiME version " + std::to_string(header.version) + " (only version " +
           std::to_string(kVersion) + " exists)";
  if (header.end_inclusive < header.start)
    return "range end " + hex(header.end_inclusive) + " is below its start " + hex(header.start);
  *length = header.end_inclusive - header.start + 1;  // end is inclusive
  if (*length == 0)  // start 0, end 2^64-1: the whole address space
    return "range " + hex(header.start) + "-" + hex(header.end_inclusive) + " spans the whole 64-bit address space";
  if (*length > remaining)
    return "range " + hex(header.start) + "-" + hex(header.end_inclusive) + " needs " + hex(*length) +
           " bytes but only " + hex(remaining) + " remain in the file (truncated image?)";
  return "";
}

namespace {

class LimeLayer : public SegmentedFileLayer {
 public:
  using SegmentedFileLayer::SegmentedFileLayer;

  LayerDescription describe() const override {
    // The ranges themselves are listed by `memscope info` for every format.
    return {{"LiME ranges", std::to_string(segments().size())}};
  }
};

std::string where(const MappedFile& file, uint64_t header_offset) {
  return file.path() + ": LiME header at file offset " + hex(header_offset);
}

std::vector<FileSegment> read_lime_headers(const MappedFile& file) {
  std::vector<FileSegment> segments;
  const uint64_t file_size = file.size();
  uint64_t offset = 0;
  // Each record holds a 32-byte header and at least one byte, so `offset`
  // grows by at least 33 per turn: the walk ends within file_size / 33 turns.
  while (offset < file_size) {
    if (file_size - offset < sizeof(lime::RangeHeader))
      throw FormatError(where(file, offset) + ": only " + std::to_string(file_size - offset) +
                        " bytes left, a header needs " + std::to_string(sizeof(lime::RangeHeader)) +
                        " (truncated image?)");
    lime::RangeHeader header;
    std::memcpy(&header, file.data() + offset, sizeof header);
    uint64_t data_offset = offset + sizeof header;
    uint64_t length = 0;
    std::string problem = lime::check_range_header(header, file_size - data_offset, &length);
    if (!problem.empty()) throw FormatError(where(file, offset) + ": " + problem);
    if (segments.size() >= lime::kMaxRanges)
      throw FormatError(where(file, offset) + ": more than " + std::to_string(lime::kMaxRanges) +
                        " ranges; not a plausible LiME image");
    segments.push_back(FileSegment{header.start, length, data_offset});
    offset = data_offset + length;
  }
  return segments;
}

MEMSCOPE_REGISTER(format_registry(), FormatHandler{
    .name = "lime",
    .description = "LiME: 32-byte header (magic 0x4c694d45) before each physical range",
    .priority = 100,
    .probe =
        [](const MappedFile& file) {
          std::string_view head = file.bytes(0, sizeof(uint32_t));
          if (head.empty()) return false;
          uint32_t magic;
          std::memcpy(&magic, head.data(), sizeof magic);
          return magic == lime::kMagic;
        },
    .open = [](std::shared_ptr<const MappedFile> file) -> std::unique_ptr<PhysicalLayer> {
      std::vector<FileSegment> segments = read_lime_headers(*file);
      return std::make_unique<LimeLayer>(std::move(file), "lime", std::move(segments));
    }});

}  // namespace
}  // namespace memscope
