// What the fuzz targets share: the fuzzer's bytes as a file (a memfd, so
// that formats read it through MappedFile as they read evidence), a
// little-endian reader that never runs out (zeros after the end), and the
// environment every target sets once (no per-user caches are written).
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace memscope::fuzz {

// The fuzzer's bytes as a file, for the lifetime of the object.
class MemFile {
 public:
  MemFile(const uint8_t* data, size_t size) {
    fd_ = ::memfd_create("fuzz-input", MFD_CLOEXEC);
    if (fd_ < 0) throw std::runtime_error("memfd_create failed");
    size_t done = 0;
    while (done < size) {
      ssize_t n = ::write(fd_, data + done, size - done);
      if (n <= 0) throw std::runtime_error("memfd write failed");
      done += static_cast<size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// Reads values off the front of the input; past its end, zeros.
class Bytes {
 public:
  Bytes(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint64_t u64() { return take(8); }
  uint32_t u32() { return static_cast<uint32_t>(take(4)); }
  uint16_t u16() { return static_cast<uint16_t>(take(2)); }
  uint8_t u8() { return static_cast<uint8_t>(take(1)); }
  const uint8_t* rest() const { return data_ + at_; }
  size_t rest_size() const { return size_ - at_; }

 private:
  uint64_t take(size_t n) {
    uint64_t value = 0;
    for (size_t i = 0; i < n; ++i) value |= uint64_t(at_ < size_ ? data_[at_++] : 0) << (8 * i);
    return value;
  }
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

// Caches (plain .lz4 and compressed LiME indexes, profiles) would be
// written for every input: point them where nothing can be created.
inline void no_user_caches() {
  ::setenv("XDG_CACHE_HOME", "/proc/memscope-fuzz-no-cache", 1);
  ::setenv("HOME", "/proc/memscope-fuzz-no-home", 1);
}

}  // namespace memscope::fuzz
