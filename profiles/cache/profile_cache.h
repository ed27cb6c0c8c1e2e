// A per-user cache of profiles in their binary format, used where it lies.
//
// Parsing a 40 MB ISF takes a fraction of a second; a cache entry is the
// parsed profile's buffer (core/types/profile.h, docs/profile-format.md)
// written to disk as it is, and loading it is mapping it read-only: only
// the header is checked, nothing is decoded, and a lookup touches the few
// pages it reads. Entries live in $XDG_CACHE_HOME/memscope/profiles (or
// ~/.cache/memscope/profiles), one per source path (named by a hash of it),
// and are valid only for the exact version of the file they were made from:
// the same device, inode, size, mtime and ctime (see core/util/
// file_identity.h), recorded in the entry's header. Entries are verified
// in full (checksums, every reference, sort orders) when they are written,
// written to a temporary file and renamed, so a reader never sees half an
// entry. A damaged entry is refused at open when its header is damaged,
// and by any lookup that meets a reference it cannot follow (a FormatError
// naming the entry); `verify()` finds the rest.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/types/profile.h"
#include "core/util/file_identity.h"

namespace memscope {

// "$XDG_CACHE_HOME/memscope/profiles", else "~/.cache/memscope/profiles"
// (created, mode 0700: see core/util/user_cache_dir.h), else "" (no cache).
std::string default_cache_dir();

// What identifies one version of a source file.
struct SourceKey {
  std::string path;  // absolute, normalised
  FileIdentity identity;
  bool operator==(const SourceKey&) const = default;
};
// One stat(); throws memscope::Error when the file cannot be stat'ed.
SourceKey source_key(const std::string& path);

// A file in the profile format (a cache entry), mapped read-only; only its
// header is checked (Profile::open). Throws FormatError or Error naming it.
std::shared_ptr<const Profile> open_profile_file(const std::string& path);
// True when the file starts with the profile format's magic bytes.
bool is_profile_file(const std::string& path);

enum class CacheMiss {
  kNone,     // a hit
  kAbsent,   // no entry for this path
  kStale,    // an entry for another version of the file (or another file at this path)
  kDamaged,  // an entry that is not a usable profile
};

struct CacheLookup {
  std::shared_ptr<const Profile> profile;  // null on a miss
  CacheMiss miss = CacheMiss::kNone;
  std::string why;    // the reason of a miss
  std::string entry;  // the entry's path
};

class ProfileCache {
 public:
  explicit ProfileCache(std::string dir);
  const std::string& dir() const { return dir_; }
  // Where the entry for this source lives (whether or not it exists).
  std::string entry_path(const SourceKey& key) const;
  // The entry for exactly this version of the source, mapped, or a miss
  // saying why.
  CacheLookup lookup(const SourceKey& key) const;
  // Same, nullptr on a miss (reason in *why).
  std::shared_ptr<const Profile> load(const SourceKey& key, std::string* why = nullptr) const;
  // Writes `profile`'s buffer as the entry for `key`, after verifying it in
  // full. The profile must have been made from exactly that version of the
  // source (its recorded identity and path). Best effort: false (reason in
  // *why) when the entry cannot be written.
  bool store(const SourceKey& key, const Profile& profile, std::string* why = nullptr) const;
  // The banner recorded in the entry for `key` (reads its header and the
  // banner's bytes only).
  std::optional<std::string> cached_banner(const SourceKey& key) const;
  // Keeps the directory bounded (store() calls it): removes entries whose
  // source file no longer exists (entries recovered from an image's memory,
  // whose source is not a path, have none), unreadable entries, temporary files left
  // by interrupted writes, and then the least recently written entries
  // beyond `max_entries`. `keep` is never removed. Returns how many files
  // were removed.
  size_t prune(size_t max_entries = kMaxEntries, const std::string& keep = "") const;

  static constexpr size_t kMaxEntries = 32;

 private:
  std::string dir_;
};

}  // namespace memscope
