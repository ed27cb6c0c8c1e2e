#include "profiles/cache/profile_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/layers/mapped_file.h"
#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/util/user_cache_dir.h"

namespace memscope {
namespace {

namespace fs = std::filesystem;

// Written in chunks of this size, on purpose: the page cache makes its
// folios as large as the writes (up to 2 MiB), and a mapped large folio is
// mapped whole on the first touch, so a lookup that reads 24 bytes would
// make 2 MiB resident. With 64 KiB folios a touch costs what the kernel's
// fault-around maps anyway.
constexpr size_t kWriteChunk = 64 << 10;

bool write_all(int fd, const uint8_t* data, size_t size) {
  size_t written = 0;
  while (written < size) {
    ssize_t n = ::write(fd, data + written, std::min(size - written, kWriteChunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    written += size_t(n);
  }
  return true;
}

}  // namespace

std::string default_cache_dir() { return user_cache_dir("profiles").value_or(""); }

SourceKey source_key(const std::string& path) {
  SourceKey key;
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  key.path = ec ? path : absolute.lexically_normal().string();
  key.identity = file_identity(path);
  return key;
}

namespace {

std::shared_ptr<const Profile> open_mapped(std::shared_ptr<const MappedFile> file) {
  // A lookup touches a few scattered pages. Recent kernels map a whole
  // page-cache folio at the first touch of any of its pages (with one PMD
  // when it is 2 MiB and aligned), so the folios must stay small: no
  // readahead (it reads, and caches, in large folios) and no huge pages.
  // Writing the entry in small chunks keeps the writer's folios small too
  // (see write_all).
  file->advise_random();
  ::madvise(const_cast<uint8_t*>(file->data()), size_t(file->size()), MADV_NOHUGEPAGE);
  std::span<const uint8_t> bytes(file->data(), size_t(file->size()));
  std::string path = file->path();
  return Profile::open(std::move(file), bytes, std::move(path));
}

}  // namespace

std::shared_ptr<const Profile> open_profile_file(const std::string& path) {
  return open_mapped(std::make_shared<const MappedFile>(path));
}

bool is_profile_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  uint8_t head[8] = {};
  ssize_t n = ::pread(fd, head, sizeof head, 0);
  ::close(fd);
  return n == ssize_t(sizeof head) && Profile::has_magic(head);
}

ProfileCache::ProfileCache(std::string dir) : dir_(std::move(dir)) {}

std::string ProfileCache::entry_path(const SourceKey& key) const {
  // One entry per source path: a new version of the file replaces the old.
  std::string name = hex_address(XXH3_64bits(key.path.data(), key.path.size())).substr(2);
  return (fs::path(dir_) / (name + ".msprof")).string();
}

CacheLookup ProfileCache::lookup(const SourceKey& key) const {
  CacheLookup result;
  result.entry = entry_path(key);
  struct stat st {};
  if (::stat(result.entry.c_str(), &st) != 0) {
    result.miss = CacheMiss::kAbsent;
    result.why = "no entry";
    return result;
  }
  std::shared_ptr<const Profile> profile;
  try {
    auto file = std::make_shared<const MappedFile>(result.entry);
    // An entry of another format version was written by another memscope:
    // not damaged, only stale.
    std::optional<uint32_t> version =
        Profile::format_version_of(std::span<const uint8_t>(file->data(), size_t(std::min<uint64_t>(file->size(), 16))));
    if (version && *version != Profile::format_version()) {
      result.miss = CacheMiss::kStale;
      result.why = result.entry + ": format version " + std::to_string(*version) + ", this memscope writes " +
                   std::to_string(Profile::format_version());
      return result;
    }
    profile = open_mapped(std::move(file));
  } catch (const Error& e) {
    result.miss = CacheMiss::kDamaged;
    result.why = e.what();
    return result;
  }
  if (profile->source() != key.path) {
    // Entries are named by a hash of their source's path: another path
    // inside is a damaged entry, not another file.
    result.miss = CacheMiss::kDamaged;
    result.why = result.entry + ": records the source " + profile->source() + ", not " + key.path;
  } else if (!(profile->source_identity() == key.identity)) {
    result.miss = CacheMiss::kStale;
    result.why = "entry is for another version of the file (entry: " + profile->source_identity().to_string() +
                 "; file: " + key.identity.to_string() + ")";
  } else {
    result.profile = std::move(profile);
  }
  return result;
}

std::shared_ptr<const Profile> ProfileCache::load(const SourceKey& key, std::string* why) const {
  CacheLookup result = lookup(key);
  if (why) *why = result.why;
  return result.profile;
}

std::optional<std::string> ProfileCache::cached_banner(const SourceKey& key) const {
  CacheLookup result = lookup(key);
  if (!result.profile) return std::nullopt;
  return result.profile->banner();
}

bool ProfileCache::store(const SourceKey& key, const Profile& profile, std::string* why) const {
  auto failed = [&](const std::string& reason) {
    if (why) *why = reason;
    return false;
  };
  if (profile.source() != key.path || !(profile.source_identity() == key.identity))
    return failed("the profile was not made from this version of " + key.path);
  // Checked once, here: later loads only check the header.
  try {
    profile.verify();
  } catch (const Error& e) {
    return failed(e.what());
  }
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return failed("cannot create " + dir_ + ": " + ec.message());
  std::string target = entry_path(key);
  std::string temp = target + ".XXXXXX";
  int fd = ::mkstemp(temp.data());
  if (fd < 0) return failed("cannot create a file in " + dir_ + ": " + std::strerror(errno));
  std::span<const uint8_t> bytes = profile.bytes();
  bool ok = write_all(fd, bytes.data(), bytes.size());
  std::string error = ok ? "" : std::strerror(errno);
  if (::close(fd) != 0 && ok) {
    ok = false;
    error = std::strerror(errno);
  }
  if (ok && ::rename(temp.c_str(), target.c_str()) != 0) {
    ok = false;
    error = std::strerror(errno);
  }
  if (!ok) {
    ::unlink(temp.c_str());
    return failed("cannot write " + target + ": " + error);
  }
  prune(kMaxEntries, target);
  return true;
}

size_t ProfileCache::prune(size_t max_entries, const std::string& keep) const {
  struct Entry {
    fs::path path;
    fs::file_time_type written;
  };
  std::vector<Entry> entries;
  size_t removed = 0;
  auto remove = [&](const fs::path& path) {
    std::error_code ec;
    if (fs::remove(path, ec)) ++removed;
  };
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  size_t visited = 0;
  for (auto it = fs::directory_iterator(dir_, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (++visited > 100000) break;  // bounded, whatever else lives there
    std::error_code entry_ec;
    if (!it->is_regular_file(entry_ec)) continue;
    std::string name = it->path().filename().string();
    fs::file_time_type written = it->last_write_time(entry_ec);
    if (entry_ec) continue;
    // "<hash>.msprof.XXXXXX": a write that died; give live writers an hour.
    if (name.find(".msprof.") != std::string::npos) {
      if (now - written > std::chrono::hours(1)) remove(it->path());
      continue;
    }
    if (!name.ends_with(".msprof") || it->path().string() == keep) continue;
    bool source_exists = false;
    try {
      // The header and the source path only: cheap whatever the entry's size.
      // A profile recovered from an image's memory names no file (its
      // source is not an absolute path): only the count bounds it.
      const std::string source = open_profile_file(it->path().string())->source();
      source_exists = !source.starts_with('/') || fs::is_regular_file(source, entry_ec);
    } catch (const Error&) {
    }
    if (!source_exists) {
      remove(it->path());
      continue;
    }
    entries.push_back(Entry{it->path(), written});
  }
  // The kept entry counts against the limit.
  size_t room = keep.empty() ? max_entries : (max_entries > 0 ? max_entries - 1 : 0);
  if (entries.size() > room) {
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.written > b.written; });
    for (size_t i = room; i < entries.size(); ++i) remove(entries[i].path);
  }
  return removed;
}

}  // namespace memscope
