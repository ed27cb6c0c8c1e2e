#include "core/report/image_hash.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "core/scan/cancel.h"
#include "core/util/sha256.h"

namespace memscope {

ImageHash::ImageHash(std::string path) : path_(std::move(path)) {
  thread_ = std::thread([this] { run(); });
}

ImageHash::~ImageHash() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::optional<std::string> ImageHash::result() {
  if (thread_.joinable()) thread_.join();
  return digest_;
}

void ImageHash::run() {
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error_ = path_ + ": cannot open for hashing: " + std::strerror(errno);
    return;
  }
  // Sequential reads: let the kernel read ahead generously.
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  constexpr size_t kBlock = size_t{1} << 20;
  std::unique_ptr<uint8_t[]> buffer(new uint8_t[kBlock]);
  Sha256 sha;
  uint64_t offset = 0;
  for (;;) {
    if (stop_ || interrupt_token().requested()) {
      error_ = path_ + ": hashing interrupted at offset " + std::to_string(offset);
      ::close(fd);
      return;
    }
    ssize_t n = ::pread(fd, buffer.get(), kBlock, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      error_ = path_ + ": read error at offset " + std::to_string(offset) + " while hashing: " + std::strerror(errno);
      ::close(fd);
      return;
    }
    if (n == 0) break;
    sha.update(buffer.get(), static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  ::close(fd);
  digest_ = Sha256::to_hex(sha.finish());
}

}  // namespace memscope
