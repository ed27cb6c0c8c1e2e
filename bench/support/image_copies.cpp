#include "bench/support/image_copies.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace memscope::bench {
namespace {

constexpr size_t kPage = 4096;
constexpr size_t kReadSize = size_t{1} << 20;

// Closes the file on every way out, a throw included.
class OpenFile {
 public:
  OpenFile(const std::string& path, int flags) : fd_(::open(path.c_str(), flags, 0644)) {
    if (fd_ < 0) throw std::runtime_error("cannot open " + path);
  }
  ~OpenFile() { ::close(fd_); }
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

void write_at(int fd, const char* data, size_t n, off_t offset, const std::string& path) {
  for (size_t done = 0; done < n;) {
    const ssize_t written = ::pwrite(fd, data + done, n - done, offset + static_cast<off_t>(done));
    if (written <= 0) throw std::runtime_error("cannot write " + path);
    done += static_cast<size_t>(written);
  }
}

}  // namespace

void make_sparse_copy(const std::string& source, const std::string& out, uint64_t size) {
  OpenFile in(source, O_RDONLY);
  OpenFile copy(out, O_WRONLY | O_CREAT | O_TRUNC);
  std::vector<char> buffer(kReadSize);
  const std::vector<char> zero(kPage, 0);
  off_t offset = 0;
  for (;;) {
    const ssize_t n = ::pread(in.fd(), buffer.data(), buffer.size(), offset);
    if (n < 0) throw std::runtime_error("cannot read " + source);
    if (n == 0) break;
    for (size_t at = 0; at < static_cast<size_t>(n); at += kPage) {
      const size_t len = std::min(kPage, static_cast<size_t>(n) - at);
      if (std::memcmp(buffer.data() + at, zero.data(), len) != 0)
        write_at(copy.fd(), buffer.data() + at, len, offset + static_cast<off_t>(at), out);
    }
    offset += n;
  }
  if (::ftruncate(copy.fd(), static_cast<off_t>(size)) != 0) throw std::runtime_error("cannot extend " + out);
}

void make_dense_copy(const std::string& source, const std::string& out, uint64_t size, size_t write_size) {
  OpenFile in(source, O_RDONLY);
  OpenFile copy(out, O_WRONLY | O_CREAT | O_TRUNC);
  std::vector<char> buffer(write_size);
  off_t from = 0;
  for (uint64_t written = 0; written < size;) {
    // A full buffer across the source's end, so that every write but the
    // last is write_size bytes at a multiple of write_size.
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), size - written));
    for (size_t filled = 0; filled < want;) {
      const ssize_t n = ::pread(in.fd(), buffer.data() + filled, want - filled, from);
      if (n < 0 || (n == 0 && from == 0)) throw std::runtime_error("cannot read " + source);
      if (n == 0) {  // the end of the source: the next repeat
        from = 0;
        continue;
      }
      filled += static_cast<size_t>(n);
      from += n;
    }
    write_at(copy.fd(), buffer.data(), want, static_cast<off_t>(written), out);
    written += want;
  }
}

}  // namespace memscope::bench
