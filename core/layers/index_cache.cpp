#include "core/layers/index_cache.h"

#include <filesystem>
#include <system_error>

#include "core/util/file_identity.h"
#include "core/util/hex.h"
#include "core/util/user_cache_dir.h"

namespace memscope {

IndexCache::IndexCache(const MappedFile& file, bool use, const std::optional<std::string>& index_dir,
                       const std::string& sub) {
  if (!use) return;
  std::optional<std::string> dir = index_dir ? index_dir : user_cache_dir(sub);
  if (!dir) return;
  if (index_dir) {
    std::error_code ec;  // a directory that cannot be made fails the write, which only costs the cache
    std::filesystem::create_directories(*dir, ec);
  }
  // The path is stat'ed after the file was mapped: when that no longer
  // describes the mapped file, go without the cache.
  std::optional<FileIdentity> identity = find_file_identity(file.path());
  if (!identity || identity->size != file.size() || identity->mtime_ns != file.mtime_ns()) return;
  dir_ = *dir;
  name_ = hex(identity->size).substr(2) + "-" + hex_address(identity->digest()).substr(2) + ".idx";
}

bool IndexCache::store(const std::string& bytes) const { return usable() && write_cache_file(dir_, name_, bytes); }

}  // namespace memscope
