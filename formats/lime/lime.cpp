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

std::string where(const MappedFile& file, uint64_t header_offset) {
  return file.path() + ": LiME header at file offset " + hex(header_offset);
}

// The ranges of a LiME file, from its headers. A file cut short (LiME
// writes range after range, so an acquisition that stopped leaves the last
// one short) keeps what it holds: the cut range's bytes up to the end of
// the file, the rest of it a missing range, and a warning. A header that
// is not a LiME header after the first ranges (corruption, or a length
// that lies) ends the walk the same way; a bad first header is an error.
struct LimeLayout {
  std::vector<FileSegment> segments;
  std::vector<MissingRange> missing;
  std::vector<std::string> warnings;
};

LimeLayout read_lime_headers(const MappedFile& file) {
  LimeLayout out;
  const uint64_t file_size = file.size();
  uint64_t offset = 0;
  auto lost = [&](uint64_t at) {
    return "; the " + std::to_string(out.segments.size()) + " range(s) before it are read, anything after file offset " +
           hex(at) + " is lost";
  };
  // Each record holds a 32-byte header and at least one byte, so `offset`
  // grows by at least 33 per turn: the walk ends within file_size / 33 turns.
  while (offset < file_size) {
    if (file_size - offset < sizeof(lime::RangeHeader)) {
      std::string problem = where(file, offset) + ": only " + std::to_string(file_size - offset) +
                            " bytes left, a header needs " + std::to_string(sizeof(lime::RangeHeader)) +
                            " (truncated image?)";
      if (out.segments.empty()) throw FormatError(problem);
      out.warnings.push_back(problem + lost(offset));
      break;
    }
    lime::RangeHeader header;
    std::memcpy(&header, file.data() + offset, sizeof header);
    const uint64_t data_offset = offset + sizeof header;
    const uint64_t remaining = file_size - data_offset;
    uint64_t length = 0;
    // Every check but the length against what the file holds: a range cut
    // by the end of the file is a truncation, not a bad header.
    std::string problem = lime::check_range_header(header, ~uint64_t{0}, &length);
    if (!problem.empty()) {
      if (out.segments.empty()) throw FormatError(where(file, offset) + ": " + problem);
      out.warnings.push_back(where(file, offset) + ": " + problem + lost(offset));
      break;
    }
    if (out.segments.size() >= lime::kMaxRanges)
      throw FormatError(where(file, offset) + ": more than " + std::to_string(lime::kMaxRanges) +
                        " ranges; not a plausible LiME image");
    if (length > remaining) {
      if (out.segments.empty() && remaining == 0)
        throw FormatError(where(file, offset) + ": " +
                          lime::check_range_header(header, remaining, &length) + ": no memory to read");
      const uint64_t absent = header.start + remaining;
      out.segments.push_back(FileSegment{header.start, remaining, data_offset});
      out.missing.push_back(MissingRange{absent, length - remaining,
                                         "not in the file: " + file.path() + " ends at file offset " + hex(file_size) +
                                             " inside LiME range " + hex(header.start) + "-" +
                                             hex(header.end_inclusive) + " (truncated image)"});
      out.warnings.push_back(file.path() + ": truncated: the file ends at " + hex(file_size) + " inside LiME range #" +
                             std::to_string(out.segments.size() - 1) + " (physical " + hex(header.start) + "-" +
                             hex(header.end_inclusive) + ", header at file offset " + hex(offset) + "): physical " +
                             hex(absent) + "-" + hex(header.end_inclusive) + " (" +
                             std::to_string(length - remaining) +
                             " bytes) is not in the file, nor any range LiME wrote after it; reads there fail");
      break;
    }
    out.segments.push_back(FileSegment{header.start, length, data_offset});
    offset = data_offset + length;
  }
  return out;
}

class LimeLayer : public SegmentedFileLayer {
 public:
  explicit LimeLayer(std::shared_ptr<const MappedFile> file, LimeLayout layout)
      : SegmentedFileLayer(std::move(file), "lime", std::move(layout.segments), std::move(layout.missing)) {
    for (std::string& w : layout.warnings) add_warning(std::move(w));
  }

  LayerDescription describe() const override {
    // The ranges themselves are listed by `memscope info` for every format.
    return {{"LiME ranges", std::to_string(segments().size())}};
  }
};

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
      LimeLayout layout = read_lime_headers(*file);
      return std::make_unique<LimeLayer>(std::move(file), std::move(layout));
    }});

}  // namespace
}  // namespace memscope
