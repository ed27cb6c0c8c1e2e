// On-disk structures of the seekable LZ4 memory dump (docs/formats/lz4-seekable.md),
// shared by the reader (formats/lz4_seekable.cpp) and the writer
// (formats/lz4_seekable_writer.cpp). Everything is little-endian.
//
//   [metadata skippable frame] [LZ4 frame: chunk 0] ... [LZ4 frame: chunk N-1]
//   [seek table skippable frame, ending with a 32-byte footer]
//
// The data stream is the concatenation of the physical ranges' bytes, cut
// into chunks of `chunk_size` bytes (the last one may be shorter); each chunk
// is one standard LZ4 frame, so `lz4 -d` prints the data stream.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/layers/address_space.h"
#include "core/layers/image_notes.h"
#include "core/util/sha256.h"

namespace memscope::lz4s {

// Skippable frame magics (LZ4 frame format: 0x184D2A50..0x184D2A5F).
inline constexpr uint32_t kMetadataFrameMagic = 0x184D2A5A;
inline constexpr uint32_t kSeekTableFrameMagic = 0x184D2A5B;
inline constexpr uint32_t kLz4FrameMagic = 0x184D2204;
inline constexpr size_t kSkippableHeaderSize = 8;  // magic + payload size

// Magic numbers inside the payloads.
inline constexpr char kMetadataMagic[8] = {'M', 'S', 'L', 'Z', '4', 'M', 'E', 'T'};
inline constexpr char kFooterMagic[8] = {'M', 'S', 'L', 'Z', '4', 'I', 'D', 'X'};

inline constexpr uint16_t kVersionMajor = 1;
inline constexpr uint16_t kVersionMinor = 0;

inline constexpr uint32_t kMetadataFixedSize = 128;  // fixed part of the metadata payload
inline constexpr uint32_t kRangeEntrySize = 16;      // u64 start, u64 size
inline constexpr uint32_t kSeekEntrySize = 12;       // u32 compressed size, u32 xxh32, u32 flags
inline constexpr uint32_t kFooterSize = 32;

// Seek table entry flags.
inline constexpr uint32_t kChunkAllZero = 1u << 0;

// Metadata flags.
inline constexpr uint32_t kHasSourceSha256 = 1u << 0;
inline constexpr uint32_t kHasDataSha256 = 1u << 1;

// Chunk sizes: powers of two in [4 KiB, 64 MiB].
inline constexpr uint64_t kMinChunkSize = 4096;
inline constexpr uint64_t kMaxChunkSize = 64ull << 20;
inline constexpr uint64_t kDefaultChunkSize = 1ull << 20;
bool valid_chunk_size(uint64_t size);

// Offsets of the fields the writer patches once the whole source was read.
inline constexpr size_t kSourceSha256Offset = 56;
inline constexpr size_t kDataSha256Offset = 88;
inline constexpr size_t kMetadataFlagsOffset = 120;

struct Metadata {
  uint16_t version_major = kVersionMajor;
  uint16_t version_minor = kVersionMinor;
  uint64_t chunk_size = kDefaultChunkSize;
  uint64_t data_size = 0;    // sum of the ranges' sizes
  uint64_t chunk_count = 0;  // ceil(data_size / chunk_size)
  uint64_t source_size = 0;
  std::optional<Sha256Digest> source_sha256;  // of the source file as it was
  std::optional<Sha256Digest> data_sha256;    // of the data stream (= `lz4 -d` output)
  std::vector<Range> ranges;                  // ascending, disjoint, non-empty
  // Descriptive fields (JSON part).
  std::string source_format;  // "raw", "lime", "elf", ...
  std::string source_name;    // file name of the source, without directories
  std::string created;        // ISO 8601 UTC, "2024-05-01T12:00:00Z"
  std::string tool;           // "memscope 0.1.0"
  ImageNotes notes;
  // What the source's reader warned of (a truncated acquisition, memory
  // the source lacked): converting must not make damaged evidence look
  // whole. The reader repeats them among its own warnings.
  std::vector<std::string> source_warnings;
};

struct SeekEntry {
  uint32_t compressed_size = 0;  // bytes of the chunk's LZ4 frame
  uint32_t checksum = 0;         // XXH32 (seed 0) of the decompressed chunk
  uint32_t flags = 0;            // kChunkAllZero
};

struct Footer {
  uint64_t chunk_count = 0;
  uint32_t entry_size = kSeekEntrySize;
  uint32_t entries_crc32 = 0;
  uint64_t first_frame_offset = 0;  // where chunk 0's frame starts
};

// Little-endian helpers.
inline uint32_t load_u32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
inline uint64_t load_u64(const uint8_t* p) { return uint64_t(load_u32(p)) | uint64_t(load_u32(p + 4)) << 32; }
inline uint16_t load_u16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
inline void store_u16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
}
inline void store_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
inline void store_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i));
}

uint32_t crc32(const uint8_t* data, size_t n);

// The whole metadata skippable frame (header included). Throws Error if the
// metadata cannot be represented (too many ranges, JSON over 4 GiB).
std::vector<uint8_t> encode_metadata_frame(const Metadata& metadata);
// Parses a metadata payload (after the 8-byte skippable header). `where`
// names the file in errors. Throws FormatError.
Metadata decode_metadata_payload(const uint8_t* payload, size_t size, const std::string& where);

// The whole seek table skippable frame, footer included.
std::vector<uint8_t> encode_seek_table_frame(const std::vector<SeekEntry>& entries, uint64_t first_frame_offset);
// Parses the 32 bytes at the end of the file. Throws FormatError.
Footer decode_footer(const uint8_t* bytes, const std::string& where, uint64_t offset);

// ceil(data_size / chunk_size) and the decompressed size of chunk `index`.
inline uint64_t chunk_count_for(uint64_t data_size, uint64_t chunk_size) {
  return data_size / chunk_size + (data_size % chunk_size != 0);
}
inline uint64_t chunk_length(uint64_t index, uint64_t data_size, uint64_t chunk_size) {
  uint64_t start = index * chunk_size;
  return data_size - start < chunk_size ? data_size - start : chunk_size;
}

}  // namespace memscope::lz4s
