// What identifies one version of a file, for caches of data derived from it
// (profile cache entries, the banner index, LZ4 indexes) and for naming an
// image in saved overlays.
//
// Two answers, for two needs:
// - FileIdentity: device, inode, size, and modification and status-change
//   times in nanoseconds, from one stat(). Costs no read. ctime is what
//   catches an edit that keeps the size and puts the mtime back (touch -r,
//   tar, rsync -t): no user can set ctime. It does not survive copying:
//   a copy is another file, whose derived data is built again.
// - head_tail_fingerprint: a hash of the size and of the first and last
//   bytes, for callers that need a name that survives copying (an overlay
//   saved on one machine, applied to a copy of the image on another). It
//   cannot see an edit in the middle; callers that must, use FileIdentity.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace memscope {

struct FileIdentity {
  uint64_t device = 0;
  uint64_t inode = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;

  bool operator==(const FileIdentity&) const = default;
  // A 64-bit digest of every field (xxHash), for naming cache files.
  uint64_t digest() const;
  // "dev 0x803 ino 1234 size 5678 mtime 1700000000.000000001 ctime ...", for messages.
  std::string to_string() const;
};

// stat(path); nullopt when the file does not exist or is not a regular file
// (or a block device: images may be read straight from one).
std::optional<FileIdentity> find_file_identity(const std::string& path);
// Same, throwing memscope::Error naming the path and the reason.
FileIdentity file_identity(const std::string& path);
// fstat(fd), for a file already open (no race with a rename of its path).
// Throws memscope::Error naming `path`.
FileIdentity file_identity(int fd, const std::string& path);

// Default sample of head_tail_fingerprint: the first and last MiB hold
// every image container's headers and tables.
inline constexpr uint64_t kFingerprintWindow = uint64_t(1) << 20;

// "head-tail-sha256:<64 hex digits>": SHA-256 of the file's size (8 bytes,
// little-endian), then its first min(size, window) bytes, then its last
// `window` bytes that were not already hashed. Reads at most 2 * window
// bytes with pread. Throws memscope::Error naming the path.
std::string head_tail_fingerprint(const std::string& path, uint64_t window = kFingerprintWindow);
// Same over bytes already in memory (a mapped file).
std::string head_tail_fingerprint(const void* data, uint64_t size, uint64_t window = kFingerprintWindow);

}  // namespace memscope
