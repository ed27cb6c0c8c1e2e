// The formats `memscope convert` can write, as a registry: a format's folder
// registers its writer, and convert (core) picks one by the name `--to`
// gives, without knowing any format.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/layers/address_space.h"
#include "core/layers/physical_layer.h"
#include "core/util/progress.h"
#include "core/util/registry.h"

namespace memscope {

// What one write is asked to do. Tuning fields a writer has no use for are
// ignored by it (convert rejects options that do not apply to the target).
struct WriteRequest {
  PhysicalLayer& source;
  const std::vector<Range>& ranges;  // the source's ranges, sorted
  std::string out_path{};              // created or truncated; the caller renames it
  uint64_t chunk_size = 0;           // compressed formats: bytes per chunk
  int level = 1;                     // compressed formats: compression level
  unsigned threads = 0;              // 0: every hardware thread
  Progress* progress = nullptr;      // advanced as bytes are written (may be null)
};

// What a writer reports beyond the output file's size.
struct WriteOutcome {
  uint64_t chunks = 0;        // compressed formats only
  uint64_t zero_chunks = 0;
  std::string data_sha256{};    // hex, when the writer hashes the data stream
};

struct ImageWriter {
  std::string name{};         // as `--to` spells it: "lz4", "raw", "lime", "elf"
  std::string format{};       // the name its reader reports: "lz4-seekable"
  std::string description{};  // one line for `memscope convert --help`
  bool uses_chunking = false;  // honours chunk_size, level and threads
  // Refuses a request it cannot honour (throws Error); may be empty.
  std::function<void(const WriteRequest&)> check{};
  // The progress total in bytes for these ranges (raw counts the holes it
  // skips); empty: the bytes of the ranges.
  std::function<uint64_t(const std::vector<Range>&)> progress_total{};
  std::function<WriteOutcome(const WriteRequest&)> write{};
  // Checks a written file against the source; empty: convert compares
  // every physical byte after opening the file as an image.
  std::function<void(const std::string& path, const WriteRequest&)> verify{};
};

// Every writer, by name. A format registers its own:
//   MEMSCOPE_REGISTER(image_writer_registry(), ImageWriter{.name = "raw", ...});
Registry<ImageWriter>& image_writer_registry();

// "lz4, raw, lime or elf": the names, for messages and help.
std::string image_writer_names();

}  // namespace memscope
