// The Snappy framing format (google/snappy framing_format.txt), which AVML
// writes after each block header: a stream identifier chunk, then chunks of
// at most 64 KiB of data each, compressed (type 0x00) or stored (0x01),
// each with the masked CRC-32C of its data. A chunk header is one type byte
// and a 24-bit little-endian length. Chunks are independent: an index of
// their offsets gives random access to the stream.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace memscope::snappy_frames {

inline constexpr uint8_t kCompressed = 0x00;
inline constexpr uint8_t kUncompressed = 0x01;
inline constexpr uint8_t kPadding = 0xfe;
inline constexpr uint8_t kStreamIdentifier = 0xff;
inline constexpr size_t kHeaderSize = 4;
inline constexpr size_t kChecksumSize = 4;
inline constexpr size_t kMaxData = 65536;  // data bytes per chunk
inline constexpr char kIdentifier[] = "sNaPpY";

// One data chunk of a stream.
struct Chunk {
  uint64_t file_offset = 0;  // of its 4-byte header
  uint32_t length = 0;       // bytes after the header: checksum + payload
  uint8_t type = 0;          // kCompressed or kUncompressed
  uint32_t data_size = 0;    // bytes it decodes to
  uint64_t data_offset = 0;  // where they start in the stream's data
};

// Reads the chunk at `offset` of `file` (size `file_size`) without decoding
// it. Returns its type and length, and for data chunks its data size; or
// an error naming what is wrong.
struct ChunkHeader {
  uint8_t type = 0;
  uint32_t length = 0;
  uint32_t data_size = 0;  // data chunks only
};
std::optional<ChunkHeader> read_chunk_header(const uint8_t* file, uint64_t file_size, uint64_t offset,
                                             std::string& error);

// Decodes data chunk `chunk` into `out` (chunk.data_size bytes) and checks
// its CRC-32C. nullopt on success, else what is wrong.
std::optional<std::string> decode_chunk(const uint8_t* file, const Chunk& chunk, uint8_t* out);

}  // namespace memscope::snappy_frames
