// Where a format keeps the index it builds of a compressed image (the
// offsets to seek by) between runs, so that only the first open of an
// image pays for decompressing it end to end: the per-user cache
// (core/util/user_cache_dir.h) or a directory the caller names. An index is
// named by its image's identity (core/util/file_identity.h): an edit of the
// image, even one that keeps its size and puts its mtime back, changes the
// ctime and so the name, and the stale index is never read.
#pragma once

#include <optional>
#include <string>

#include "core/layers/mapped_file.h"

namespace memscope {

class IndexCache {
 public:
  // The index slot of `file` in `index_dir` (created if missing) or else in
  // the user cache's `sub` directory. Unusable when `use` is false, when no
  // cache directory can be had, or when the file's path no longer
  // describes the mapped file (replaced since it was mapped): the caller
  // then builds its index and keeps it in memory only.
  IndexCache(const MappedFile& file, bool use, const std::optional<std::string>& index_dir, const std::string& sub);

  bool usable() const { return !dir_.empty(); }
  // dir/name of the index file; "" when not usable.
  std::string path() const { return usable() ? dir_ + "/" + name_ : std::string(); }
  // Writes `bytes` as the index, atomically (a concurrent reader never sees
  // half of it). False when not usable or on any error.
  bool store(const std::string& bytes) const;

 private:
  std::string dir_, name_;
};

}  // namespace memscope
