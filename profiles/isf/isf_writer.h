// Writing (and reading back) ISF profiles: plain JSON, or xz-compressed JSON
// when the file name ends in ".xz" (as Volatility 3 symbol packs ship them).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace memscope {

struct IsfWriteOptions {
  int indent = -1;          // -1: compact; dwarf2json writes 2
  uint32_t xz_preset = 6;   // 0 (fast) .. 9 (small); xz's default is 6
  uint32_t xz_threads = 1;  // >1: liblzma's multi-threaded encoder
};

// True when `path` ends in ".xz".
bool isf_path_is_xz(const std::string& path);

// Writes `isf` to `path`. The bytes go to a temporary file in the same
// directory, which is renamed over `path` once complete, so a reader never
// sees a half-written profile and a failure leaves no debris. Throws
// memscope::Error naming the path.
void write_isf(const nlohmann::json& isf, const std::string& path, const IsfWriteOptions& options = {});

// The JSON text of a .json or .json.xz file (decompressed), at most
// `max_bytes` of it: a corrupt or hostile .xz cannot make memscope allocate
// more. Throws memscope::Error / FormatError naming the path.
std::string read_isf_text(const std::string& path, uint64_t max_bytes = uint64_t{4} << 30);

}  // namespace memscope
