// Writes a seekable LZ4 memory dump (docs/formats/lz4-seekable.md) from any
// physical layer: N worker threads compress chunks while one thread reads
// the source in order and the caller's thread writes the frames in order,
// with at most 2N chunks in flight, so memory stays bounded whatever the
// image size.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/layers/physical_layer.h"
#include "core/util/progress.h"
#include "core/util/sha256.h"
#include "formats/lz4/lz4_seekable_format.h"

namespace memscope {

struct Lz4WriteOptions {
  uint64_t chunk_size = lz4s::kDefaultChunkSize;  // power of two, 4 KiB..64 MiB
  // LZ4 level: 1 (default) and below use the fast compressor (negative
  // levels trade ratio for speed), 3..12 the high-compression one.
  int level = 1;
  unsigned threads = 0;           // 0: the machine's hardware threads
  Progress* progress = nullptr;   // advanced by the data bytes written
  // Hash the source file (SHA-256) for the metadata. When the source is a
  // raw image its file is the data stream, hashed anyway.
  bool hash_source_file = true;
};

struct Lz4WriteResult {
  uint64_t data_bytes = 0;    // bytes of the physical ranges
  uint64_t output_bytes = 0;  // size of the written file
  uint64_t chunks = 0;
  uint64_t zero_chunks = 0;
  Sha256Digest data_sha256{};
  std::optional<Sha256Digest> source_sha256;
};

// Writes `out_path` (created or truncated) from `source`. The metadata
// records the source's format, file name, size and SHA-256, its ranges and
// its notes (VMCOREINFO, CPU registers). Throws memscope::Error on a read
// error of the source or a write error (naming the path).
Lz4WriteResult write_lz4_seekable(PhysicalLayer& source, const std::string& out_path,
                                  const Lz4WriteOptions& options = {});

// Re-reads a written file: opens it as an image (metadata, seek table),
// decompresses every chunk with `threads` threads, checking each against its
// seek-table checksum, and compares the SHA-256 of the data stream with the
// metadata's. Throws FormatError on any difference.
void verify_lz4_seekable(const std::string& path, unsigned threads = 0, Progress* progress = nullptr);

// The frame this writer emits for an all-zero chunk of `length` bytes
// (computed once per length); the reader compares flagged chunks with it.
std::string lz4_seekable_zero_frame(uint64_t length);

}  // namespace memscope
