#include "formats/avml/snappy_frames.h"

#include <snappy-c.h>

#include <cstring>

#include "core/util/hex.h"
#include "formats/avml/crc32c.h"

namespace memscope::snappy_frames {

std::optional<ChunkHeader> read_chunk_header(const uint8_t* file, uint64_t file_size, uint64_t offset,
                                             std::string& error) {
  if (offset > file_size || file_size - offset < kHeaderSize) {
    error = "a chunk header at file offset " + hex(offset) + " would run past the end of the file (truncated?)";
    return std::nullopt;
  }
  const uint8_t* p = file + offset;
  ChunkHeader h;
  h.type = p[0];
  h.length = uint32_t(p[1]) | uint32_t(p[2]) << 8 | uint32_t(p[3]) << 16;
  if (h.length > file_size - offset - kHeaderSize) {
    error = "the chunk at file offset " + hex(offset) + " claims " + std::to_string(h.length) +
            " bytes, past the end of the file (truncated?)";
    return std::nullopt;
  }
  const uint8_t* body = p + kHeaderSize;
  switch (h.type) {
    case kStreamIdentifier:
      if (h.length != 6 || std::memcmp(body, kIdentifier, 6) != 0) {
        error = "the stream identifier at file offset " + hex(offset) + " is not \"sNaPpY\"";
        return std::nullopt;
      }
      return h;
    case kCompressed: {
      size_t size = 0;
      if (h.length < kChecksumSize ||
          snappy_uncompressed_length(reinterpret_cast<const char*>(body + kChecksumSize), h.length - kChecksumSize,
                                     &size) != SNAPPY_OK) {
        error = "the compressed chunk at file offset " + hex(offset) + " has no valid length preamble";
        return std::nullopt;
      }
      if (size > kMaxData) {
        error = "the compressed chunk at file offset " + hex(offset) + " claims " + std::to_string(size) +
                " bytes of data, more than the format's 65536";
        return std::nullopt;
      }
      h.data_size = static_cast<uint32_t>(size);
      return h;
    }
    case kUncompressed:
      if (h.length < kChecksumSize || h.length - kChecksumSize > kMaxData) {
        error = "the uncompressed chunk at file offset " + hex(offset) + " has a length of " + std::to_string(h.length);
        return std::nullopt;
      }
      h.data_size = h.length - static_cast<uint32_t>(kChecksumSize);
      return h;
    default:
      if (h.type >= 0x80) return h;  // padding and reserved skippable chunks
      error = "the chunk at file offset " + hex(offset) + " has reserved unskippable type " + hex(h.type);
      return std::nullopt;
  }
}

std::optional<std::string> decode_chunk(const uint8_t* file, const Chunk& chunk, uint8_t* out) {
  const uint8_t* body = file + chunk.file_offset + kHeaderSize;
  uint32_t stored;
  std::memcpy(&stored, body, sizeof stored);
  const uint8_t* payload = body + kChecksumSize;
  const size_t payload_size = chunk.length - kChecksumSize;
  if (chunk.type == kUncompressed) {
    std::memcpy(out, payload, chunk.data_size);
  } else {
    size_t size = chunk.data_size;
    if (snappy_uncompress(reinterpret_cast<const char*>(payload), payload_size, reinterpret_cast<char*>(out), &size) !=
            SNAPPY_OK ||
        size != chunk.data_size)
      return "snappy: corrupt compressed data";
  }
  uint32_t actual = snappy_masked_crc(crc32c(out, chunk.data_size));
  if (actual != stored)
    return "CRC-32C mismatch: the data's masked checksum is " + hex(actual) + ", the chunk records " + hex(stored);
  return std::nullopt;
}

}  // namespace memscope::snappy_frames
