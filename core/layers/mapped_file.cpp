#include "core/layers/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

void MappedFile::release(uint64_t offset, uint64_t n) const {
  if (!contains(offset, n)) return;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  // Whole pages only: the partial pages at the edges may still be in use.
  uint64_t from = (offset + page - 1) / page * page;
  uint64_t to = (offset + n) / page * page;
  if (from >= to) return;
  // The mapping is shared and read-only: dropping it loses nothing.
  ::madvise(const_cast<uint8_t*>(data_) + from, to - from, MADV_DONTNEED);
}

void MappedFile::advise_sequential() const {
  ::madvise(const_cast<uint8_t*>(data_), size_, MADV_SEQUENTIAL);
}

void MappedFile::advise_random() const {
  ::madvise(const_cast<uint8_t*>(data_), size_, MADV_RANDOM);
}

}  // namespace memscope
