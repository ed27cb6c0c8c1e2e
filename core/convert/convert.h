// `memscope convert`: copies an image from any format memscope reads into
// the seekable LZ4 format (the recommended way to keep images) or, for tools
// that need a plain image, into raw, LiME or ELF core. The output is written
// under a temporary name beside it and renamed only once complete (and
// verified): an interrupted convert never leaves a half file under the final
// name.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace memscope {

struct ConvertOptions {
  std::string to = "lz4";     // "lz4" (seekable LZ4), "raw", "lime", "elf"
  uint64_t chunk_size = 1ull << 20;  // lz4: bytes per chunk (power of two, 4 KiB..64 MiB)
  int level = 1;              // lz4: LZ4 compression level (1 fast .. 12 HC)
  unsigned threads = 0;       // lz4: worker threads; 0: hardware threads
  bool verify = true;         // re-read the output and compare before renaming
  bool force = false;         // replace an existing output file
  bool progress = true;       // progress bars on a terminal (also silenced by Progress::set_quiet)
  // Called with the temporary file's path once it exists, and with "" once
  // it is renamed or removed: lets a signal handler remove it.
  std::function<void(const std::string&)> on_temp_file;
};

struct ConvertResult {
  std::string source_format;
  std::string target_format;
  uint64_t data_bytes = 0;    // physical bytes copied (ranges, holes excluded)
  uint64_t ranges = 0;
  uint64_t input_bytes = 0;   // size of the input file
  uint64_t output_bytes = 0;  // size of the output file
  uint64_t chunks = 0;        // lz4 only
  uint64_t zero_chunks = 0;   // lz4 only
  std::string data_sha256;    // lz4 only: SHA-256 of the data stream
  double write_seconds = 0;
  double verify_seconds = 0;
  bool verified = false;
  // What the source's reader warned of (a truncated or damaged image): the
  // output holds only what the source held. Seekable LZ4 records them in
  // its metadata; raw, LiME and ELF cannot, so the caller must show them.
  std::vector<std::string> source_warnings;
};

// Converts `in` (any detected format) to `out`. Throws memscope::Error:
// unknown target, output exists (without force), output is the input, read
// or write errors, verification failure. On any error the temporary file is
// removed and `out` is untouched.
ConvertResult convert_image(const std::string& in, const std::string& out, const ConvertOptions& options);

// Compares every byte of `source`'s ranges with the same addresses of the
// image at `path` (opened and detected afresh). Throws FormatError naming
// the first differing address.
class PhysicalLayer;
void verify_same_physical_bytes(PhysicalLayer& source, const std::string& path);

}  // namespace memscope
