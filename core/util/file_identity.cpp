#include "core/util/file_identity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/util/error.h"
#include "core/util/sha256.h"

namespace memscope {
namespace {

int64_t nanoseconds(const struct timespec& t) { return int64_t(t.tv_sec) * 1000000000LL + t.tv_nsec; }

FileIdentity from_stat(const struct stat& st) {
  FileIdentity id;
  id.device = uint64_t(st.st_dev);
  id.inode = uint64_t(st.st_ino);
  id.size = uint64_t(st.st_size);
  id.mtime_ns = nanoseconds(st.st_mtim);
  id.ctime_ns = nanoseconds(st.st_ctim);
  return id;
}

bool identifiable(const struct stat& st) { return S_ISREG(st.st_mode) || S_ISBLK(st.st_mode); }

std::string time_text(int64_t ns) {
  char text[48];
  int64_t seconds = ns / 1000000000LL, rest = ns % 1000000000LL;
  if (rest < 0) rest += 1000000000LL, seconds -= 1;
  std::snprintf(text, sizeof text, "%lld.%09lld", static_cast<long long>(seconds), static_cast<long long>(rest));
  return text;
}

// Closes the descriptor on every path out.
struct Descriptor {
  int fd;
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
};

void read_at(int fd, uint64_t offset, uint8_t* buffer, size_t n, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    ssize_t got = ::pread(fd, buffer + done, n - done, off_t(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw Error(path + ": cannot read at offset " + std::to_string(offset + done) + ": " + std::strerror(errno));
    if (got == 0) throw Error(path + ": file shrank while being fingerprinted (at offset " + std::to_string(offset + done) + ")");
    done += size_t(got);
  }
}

// The ranges head_tail_fingerprint hashes: [0, head_end) and [tail_start, size).
struct Sample {
  uint64_t head_end, tail_start;
};
Sample sample_of(uint64_t size, uint64_t window) {
  uint64_t head_end = std::min(size, window);
  uint64_t tail_start = std::max(head_end, size > window ? size - window : size);
  return Sample{head_end, tail_start};
}

std::string fingerprint_text(Sha256& hash) { return "head-tail-sha256:" + Sha256::to_hex(hash.finish()); }

}  // namespace

uint64_t FileIdentity::digest() const {
  // Fields one by one: the struct's padding (none today) must not count.
  const uint64_t fields[5] = {device, inode, size, uint64_t(mtime_ns), uint64_t(ctime_ns)};
  return XXH3_64bits(fields, sizeof fields);
}

std::string FileIdentity::to_string() const {
  char text[64];
  std::snprintf(text, sizeof text, "dev 0x%llx ino %llu size %llu", static_cast<unsigned long long>(device),
                static_cast<unsigned long long>(inode), static_cast<unsigned long long>(size));
  return std::string(text) + " mtime " + time_text(mtime_ns) + " ctime " + time_text(ctime_ns);
}

std::optional<FileIdentity> find_file_identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !identifiable(st)) return std::nullopt;
  return from_stat(st);
}

FileIdentity file_identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw Error(path + ": cannot stat: " + std::strerror(errno));
  if (!identifiable(st)) throw Error(path + ": not a regular file");
  return from_stat(st);
}

FileIdentity file_identity(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error(path + ": cannot stat: " + std::strerror(errno));
  if (!identifiable(st)) throw Error(path + ": not a regular file");
  return from_stat(st);
}

std::string head_tail_fingerprint(const void* data, uint64_t size, uint64_t window) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  Sample s = sample_of(size, window);
  Sha256 hash;
  hash.update(&size, sizeof size);  // little-endian hosts only, as everywhere in memscope
  hash.update(bytes, s.head_end);
  hash.update(bytes + s.tail_start, size - s.tail_start);
  return fingerprint_text(hash);
}

std::string head_tail_fingerprint(const std::string& path, uint64_t window) {
  Descriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) throw Error(path + ": cannot stat: " + std::strerror(errno));
  if (!identifiable(st)) throw Error(path + ": not a regular file");
  // A block device reports no size in stat: ask where its end is.
  uint64_t size = uint64_t(st.st_size);
  if (S_ISBLK(st.st_mode)) {
    off_t end = ::lseek(file.fd, 0, SEEK_END);
    if (end < 0) throw Error(path + ": cannot find the device's size: " + std::strerror(errno));
    size = uint64_t(end);
  }
  Sample s = sample_of(size, window);
  Sha256 hash;
  hash.update(&size, sizeof size);
  std::vector<uint8_t> buffer(size_t(std::min<uint64_t>(window, 1 << 20)));
  auto feed = [&](uint64_t from, uint64_t to) {
    while (from < to) {
      size_t n = size_t(std::min<uint64_t>(to - from, buffer.size()));
      read_at(file.fd, from, buffer.data(), n, path);
      hash.update(buffer.data(), n);
      from += n;
    }
  };
  feed(0, s.head_end);
  feed(s.tail_start, size);
  return fingerprint_text(hash);
}

}  // namespace memscope
