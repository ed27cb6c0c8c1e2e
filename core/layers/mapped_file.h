// A file opened read-only and mapped into memory. Evidence is only ever
// opened through this class: O_RDONLY, PROT_READ, so no code path can
// modify it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace memscope {

class MappedFile {
 public:
  // Throws memscope::Error naming the path for a missing file, a directory,
  // an empty file, or a failed mmap.
  explicit MappedFile(std::string path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  const uint8_t* data() const { return data_; }
  // Bytes [offset, offset + n) or an empty view when they are not all in
  // the file (the caller names the offset in its error).
  std::string_view bytes(uint64_t offset, uint64_t n) const;
  bool contains(uint64_t offset, uint64_t n) const {
    return offset <= size_ && n <= size_ - offset;
  }
  // Modification time in nanoseconds (for caches keyed by the file).
  int64_t mtime_ns() const { return mtime_ns_; }

  // Drops this process's mapping of the whole pages inside [offset,
  // offset + n): they leave its resident set and are read again (from the
  // page cache) on the next access. Pointers into them stay valid.
  void release(uint64_t offset, uint64_t n) const;

  // Hints the kernel about access patterns over the whole file.
  void advise_sequential() const;
  void advise_random() const;

 private:
  std::string path_;
  int fd_ = -1;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  int64_t mtime_ns_ = 0;
};

}  // namespace memscope
