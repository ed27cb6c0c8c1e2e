// A per-user binary cache of parsed profiles.
//
// Parsing a 40 MB ISF takes a fraction of a second; reading its binary image
// back takes milliseconds. Entries live in $XDG_CACHE_HOME/memscope/profiles
// (or ~/.cache/memscope/profiles), one per source file (named by a hash of
// its absolute path), and are valid only for the exact file they were made
// from: same absolute path, size, modification time and a hash of its first
// and last 64 KiB. Entries are written to a temporary file and renamed, so a
// reader never sees half an entry; every entry is checked on reading
// (checksums, every count bounded by the entry's size, every index in
// range) and any mismatch is a miss, never a crash. See docs/profile-format.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/types/profile.h"

namespace memscope {

// "$XDG_CACHE_HOME/memscope/profiles", else "~/.cache/memscope/profiles"
// (created, mode 0700: see core/user_cache_dir.h), else "" (no cache).
std::string default_cache_dir();

// What identifies one version of a source file.
struct SourceKey {
  std::string path;  // absolute, normalised
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t content_hash = 0;  // of the first and last 64 KiB
  bool operator==(const SourceKey&) const = default;
};
// Throws memscope::Error when the file cannot be read.
SourceKey source_key(const std::string& path);

// The versioned binary form of a profile, bound to `key`.
std::string encode_profile(const Profile& profile, const SourceKey& key);
// The profile back, or nullptr (with the reason in *why) when the bytes are
// not a valid entry for `key`.
std::shared_ptr<const Profile> decode_profile(std::string_view bytes, const SourceKey& key, std::string* why = nullptr);

class ProfileCache {
 public:
  explicit ProfileCache(std::string dir);
  const std::string& dir() const { return dir_; }
  // Where the entry for this source lives (whether or not it exists).
  std::string entry_path(const SourceKey& key) const;
  // nullptr on a miss, a stale entry or a damaged one (reason in *why).
  std::shared_ptr<const Profile> load(const SourceKey& key, std::string* why = nullptr) const;
  // Best effort: false (reason in *why) when the entry cannot be written.
  bool store(const SourceKey& key, const Profile& profile, std::string* why = nullptr) const;
  // The banner recorded in a valid entry for `key`, read without decoding
  // the whole profile.
  std::optional<std::string> cached_banner(const SourceKey& key) const;
  // Keeps the directory bounded (store() calls it): removes entries whose
  // source file no longer exists, unreadable entries, temporary files left
  // by interrupted writes, and then the least recently written entries
  // beyond `max_entries`. `keep` is never removed. Returns how many files
  // were removed.
  size_t prune(size_t max_entries = kMaxEntries, const std::string& keep = "") const;

  static constexpr size_t kMaxEntries = 32;

 private:
  std::string dir_;
};

// 64-bit hash used for cache keys and checksums (not cryptographic).
uint64_t hash_bytes(const void* data, size_t n, uint64_t seed = 0);

}  // namespace memscope
