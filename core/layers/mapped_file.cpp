#include "core/layers/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/util/error.h"

namespace memscope {

MappedFile::MappedFile(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw Error(path_ + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    int saved = errno;
    ::close(fd_);
    throw Error(path_ + ": cannot stat: " + std::strerror(saved));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd_);
    throw Error(path_ + ": is a directory, not a memory image");
  }
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    ::close(fd_);
    throw Error(path_ + ": not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
  mtime_ns_ = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  if (size_ == 0) {
    ::close(fd_);
    throw Error(path_ + ": file is empty (0 bytes)");
  }
  void* map = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd_, 0);
  if (map == MAP_FAILED) {
    int saved = errno;
    ::close(fd_);
    throw Error(path_ + ": cannot map " + std::to_string(size_) + " bytes: " + std::strerror(saved));
  }
  data_ = static_cast<const uint8_t*>(map);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  if (fd_ >= 0) ::close(fd_);
}

std::string_view MappedFile::bytes(uint64_t offset, uint64_t n) const {
  if (!contains(offset, n)) return {};
  return std::string_view(reinterpret_cast<const char*>(data_ + offset), n);
}

namespace {

uint64_t page_size() {
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14; older headers lack the name
#endif

}  // namespace

void MappedFile::release(uint64_t offset, uint64_t n) const {
  if (!contains(offset, n) || n == 0) return;
  const uint64_t page = page_size();
  uint64_t from = offset / page * page;
  uint64_t to = std::min((offset + n + page - 1) / page * page, (size_ + page - 1) / page * page);
  // The mapping is shared and read-only: dropping it loses nothing.
  ::madvise(const_cast<uint8_t*>(data_) + from, to - from, MADV_DONTNEED);
}

size_t MappedFile::pread(uint64_t offset, void* out, size_t n) const {
  if (offset >= size_) return 0;
  n = static_cast<size_t>(std::min<uint64_t>(n, size_ - offset));
  size_t done = 0;
  while (done < n) {
    ssize_t got = ::pread(fd_, static_cast<uint8_t*>(out) + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    done += static_cast<size_t>(got);
  }
  return done;
}

void MappedFile::populate(uint64_t offset, uint64_t n) const {
  if (!contains(offset, n) || n == 0) return;
  const uint64_t page = page_size();
  uint64_t from = offset / page * page;
  uint64_t to = std::min((offset + n + page - 1) / page * page, (size_ + page - 1) / page * page);
  if (::madvise(const_cast<uint8_t*>(data_) + from, to - from, MADV_POPULATE_READ) != 0)
    ::madvise(const_cast<uint8_t*>(data_) + from, to - from, MADV_WILLNEED);
}

void MappedFile::data_regions(uint64_t offset, uint64_t n,
                              const std::function<bool(uint64_t, uint64_t, bool)>& visit) const {
  if (offset >= size_) return;
  const uint64_t end = offset + std::min(n, size_ - offset);
  uint64_t at = offset;
  while (at < end) {
    off_t data = ::lseek(fd_, static_cast<off_t>(at), SEEK_DATA);
    if (data < 0) {
      // ENXIO: no data from `at` to the end of the file. Anything else
      // (EINVAL on a device or a filesystem without the call): all data.
      if (errno == ENXIO) visit(at, end - at, true);
      else visit(at, end - at, false);
      return;
    }
    uint64_t data_at = std::min<uint64_t>(static_cast<uint64_t>(data), end);
    if (data_at > at && !visit(at, data_at - at, true)) return;
    if (data_at >= end) return;
    off_t hole = ::lseek(fd_, static_cast<off_t>(data_at), SEEK_HOLE);
    uint64_t hole_at = hole < 0 ? end : std::min<uint64_t>(static_cast<uint64_t>(hole), end);
    if (hole_at <= data_at) hole_at = end;  // cannot happen; never loop
    if (!visit(data_at, hole_at - data_at, false)) return;
    at = hole_at;
  }
}

void MappedFile::advise_sequential() const {
  ::madvise(const_cast<uint8_t*>(data_), size_, MADV_SEQUENTIAL);
}

void MappedFile::advise_random() const {
  ::madvise(const_cast<uint8_t*>(data_), size_, MADV_RANDOM);
}

}  // namespace memscope
