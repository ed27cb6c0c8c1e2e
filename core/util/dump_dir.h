// Writing extracted data (process memory, ELF images) into the folder the
// analyst named, and nowhere else.
//
//   DumpDir dir(args.string("dump-dir"), args.flag("force"));
//   DumpFile out = dir.create("pid.98.0x400000-0x401000.dmp");
//   out.write(bytes, n);
//   out.skip(4096);           // a hole: reads back as zeros, takes no space
//   out.commit();             // renamed into place; never half-written
//
// Names are plain file names chosen by the caller from numbers (never a
// path from the image): one with '/', "." or ".." or a NUL is refused. The
// folder is opened once and files are created relative to it
// (openat/renameat), so a symbolic link swapped in for the folder later
// does not redirect writes. A file is written under a temporary name in
// the folder (O_EXCL, O_NOFOLLOW) and renamed into place when complete;
// without `force` an existing file of the name is never replaced (checked
// before writing and again by renameat2's RENAME_NOREPLACE).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace memscope {

class DumpFile;

class DumpDir {
 public:
  // Throws Error if `path` is not an existing, writable directory.
  DumpDir(const std::string& path, bool force);
  ~DumpDir();
  DumpDir(const DumpDir&) = delete;
  DumpDir& operator=(const DumpDir&) = delete;

  const std::string& path() const { return path_; }
  // A new file `name` in the folder. Throws Error for a name that is not a
  // plain file name, or one that exists when `force` is off ("exists; use
  // --force to overwrite").
  DumpFile create(const std::string& name);

 private:
  std::string path_;
  bool force_;
  int fd_ = -1;
};

class DumpFile {
 public:
  DumpFile(DumpFile&&) noexcept;
  DumpFile& operator=(DumpFile&&) = delete;
  DumpFile(const DumpFile&) = delete;
  ~DumpFile();  // removes the temporary file unless committed

  // Appends bytes (throws Error on a write error: disk full, ...).
  void write(const void* data, uint64_t n);
  // Appends n zero bytes as a hole.
  void skip(uint64_t n) { size_ += n; }
  uint64_t size() const { return size_; }
  // Sets the final size and renames the file into place. Throws Error if
  // the name was taken meanwhile (without force) or the rename fails.
  void commit();

  const std::string& name() const { return name_; }

 private:
  friend class DumpDir;
  DumpFile(int dir_fd, int fd, std::string temp, std::string name, bool force);

  int dir_fd_;
  int fd_;
  std::string temp_, name_;
  bool force_;
  uint64_t size_ = 0;
  bool committed_ = false;
};

}  // namespace memscope
