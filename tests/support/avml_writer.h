// A test-side writer of AVML's compressed format (no AVML binary is
// installed here): as `avml --compress` lays a file out, from the format's
// description (formats/avml/avml.h): each RAM range cut into blocks of at
// most 16 MiB from its start, all-zero blocks left out, each other block a
// 32-byte header (magic "AVML", version 2, start, inclusive end, zero
// padding), a Snappy framed stream of its bytes (64 KiB chunks, each
// compressed unless that saves less than an eighth, with its masked
// CRC-32C), and the stream's length as a little-endian u64.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/layers/physical_layer.h"

namespace memscope::test {

struct AvmlWriteOptions {
  uint64_t block_size = uint64_t{16} << 20;
  bool skip_zero_blocks = true;
};

struct AvmlBlockLayout {
  uint64_t start = 0, size = 0;
  uint64_t header_offset = 0, stream_offset = 0, stream_length = 0;
  std::vector<uint64_t> chunk_offsets;  // file offsets of the data chunks' headers
};

// Writes `source`'s ranges to `path`. Throws std::runtime_error.
std::vector<AvmlBlockLayout> write_avml(PhysicalLayer& source, const std::string& path,
                                        const AvmlWriteOptions& options = {});

}  // namespace memscope::test
