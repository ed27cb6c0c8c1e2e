// A test-side writer of LiME's compress=1 output: the LiME file (a 32-byte
// header before each range's bytes) deflated into one zlib stream with the
// parameters LiME's deflate.c uses (window bits 11, memory level 5, the
// default level), no flush points. No LiME kernel module runs here.
#pragma once

#include <string>

#include "core/layers/physical_layer.h"

namespace memscope::test {

struct LimeZlibWriteOptions {
  int level = -1;        // Z_DEFAULT_COMPRESSION, as LiME
  int window_bits = 11;  // as LiME's DEFLATE_WBITS
  // A full flush (a byte-aligned point where a new deflate block starts)
  // after this many bytes of LiME stream, for tests that damage a block
  // header at a known offset; 0: none, as LiME.
  uint64_t full_flush_at = 0;
};

// Writes `source`'s ranges to `path`; returns the file offset where the
// block after the full flush starts (0 without one). Throws
// std::runtime_error.
uint64_t write_lime_zlib(PhysicalLayer& source, const std::string& path, const LimeZlibWriteOptions& options = {});

}  // namespace memscope::test
