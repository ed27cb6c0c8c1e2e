// The per-user cache directory for derived data that is worth keeping
// between runs (indexes of plain .lz4 images, generated profiles, ...):
// $XDG_CACHE_HOME/memscope/<sub>, or ~/.cache/memscope/<sub>. Derived data
// is never written beside the evidence.
#pragma once

#include <optional>
#include <string>

namespace memscope {

// The directory for `sub` (e.g. "lz4-index"), created with mode 0700 if
// missing. std::nullopt when no home directory is known or the directory
// cannot be created: callers then work without a persistent cache.
std::optional<std::string> user_cache_dir(const std::string& sub);

// Writes `bytes` to `dir/name` atomically (temporary file + rename), so a
// concurrent reader never sees half a file. Returns false on any error.
bool write_cache_file(const std::string& dir, const std::string& name, const std::string& bytes);

}  // namespace memscope
