// A file opened read-only and mapped into memory. Evidence is only ever
// opened through this class: O_RDONLY, PROT_READ, so no code path can
// modify it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
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

  // Drops this process's mapping of the pages covering [offset, offset +
  // n): they leave its resident set and are read again (from the page
  // cache) on the next access. Pointers into them stay valid, and a thread
  // reading them meanwhile just faults them in again (the mapping is
  // shared and read-only), so neighbouring users of an edge page lose
  // nothing. Thread-safe.
  void release(uint64_t offset, uint64_t n) const;

  // Copies [offset, offset + n) into `out` with pread, without mapping
  // anything: for readers that see each byte once (a scan decompressing a
  // compressed image's frames), so that the file's pages never become
  // resident in this process (a mapping, even released behind, keeps the
  // neighbours its page faults map around). Returns the bytes copied (fewer
  // only at the end of the file or on an I/O error). Thread-safe.
  size_t pread(uint64_t offset, void* out, size_t n) const;

  // Maps the pages covering [offset, offset + n) in one call
  // (MADV_POPULATE_READ, Linux 5.14+; a hint on older kernels) instead of
  // one page fault per 64 KiB as they are first touched. Thread-safe.
  void populate(uint64_t offset, uint64_t n) const;

  // Visits [offset, offset + n) (clipped to the file) as consecutive
  // regions of data and holes, in file order, as the filesystem reports
  // them with lseek(SEEK_DATA / SEEK_HOLE): visit(offset, size, hole)
  // returns false to stop. A hole reads as zeros without being stored, so
  // a scanner skips it unread. Filesystems that do not track holes (and
  // block devices) report one data region. Not thread-safe (it moves the
  // descriptor's offset, which nothing else here uses).
  void data_regions(uint64_t offset, uint64_t n,
                    const std::function<bool(uint64_t offset, uint64_t size, bool hole)>& visit) const;

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
