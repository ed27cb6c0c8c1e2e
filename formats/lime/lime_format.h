// The LiME container (Linux Memory Extractor, "lime" output format): a
// sequence of [32-byte header][range bytes] records until end of file, one
// record per physical range, with holes between ranges. Shared by the
// reader (formats/lime.cpp) and the writer (formats/plain_writers.cpp).
#pragma once

#include <bit>
#include <cstdint>
#include <string>

namespace memscope::lime {

static_assert(std::endian::native == std::endian::little, "LiME headers are little-endian");

inline constexpr uint32_t kMagic = 0x4C694D45;  // "EMiL" on disk
inline constexpr uint32_t kVersion = 1;

struct RangeHeader {
  uint32_t magic = kMagic;
  uint32_t version = kVersion;
  uint64_t start = 0;          // first physical address of the range
  uint64_t end_inclusive = 0;  // LAST physical address, not one past it
  uint8_t reserved[8] = {};
};
static_assert(sizeof(RangeHeader) == 32);

// What is wrong with `header`, followed by `remaining` bytes of data, or ""
// (then *length is the range's size): bad magic, a version other than 1, an
// end below the start, a range spanning 2^64, a range longer than what
// remains (a truncated image). Shared by the reader of plain LiME files and
// that of zlib-compressed ones (LiME's compress=1).
std::string check_range_header(const RangeHeader& header, uint64_t remaining, uint64_t* length);

// A LiME range normally matches one "System RAM" entry of /proc/iomem, so
// real images have a handful; this many is not a plausible image and would
// only make us allocate for an attacker.
inline constexpr uint64_t kMaxRanges = uint64_t{1} << 20;

}  // namespace memscope::lime
