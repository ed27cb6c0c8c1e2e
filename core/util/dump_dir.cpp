#include "core/util/dump_dir.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2, RENAME_NOREPLACE (glibc 2.28+)
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "core/util/error.h"

namespace memscope {
namespace {

std::string errno_text() { return std::strerror(errno); }

// The name as a message can show it: a NUL or control character would cut
// or garble the message, so they appear as \xNN.
std::string printable(const std::string& name) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

bool plain_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

}  // namespace

DumpDir::DumpDir(const std::string& path, bool force) : path_(path), force_(force) {
  if (path.empty()) throw Error("no folder to write into was given");
  fd_ = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ < 0) throw Error("cannot open the folder " + path + ": " + errno_text());
  if (::faccessat(fd_, ".", W_OK, AT_EACCESS) != 0) {
    std::string why = errno_text();
    ::close(fd_);
    throw Error("cannot write into the folder " + path + ": " + why);
  }
}

DumpDir::~DumpDir() {
  if (fd_ >= 0) ::close(fd_);
}

DumpFile DumpDir::create(const std::string& name) {
  if (!plain_name(name)) throw Error("'" + printable(name) + "' is not a plain file name");
  struct stat st {};
  if (!force_ && ::fstatat(fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
    throw Error(path_ + "/" + name + " exists; use --force to overwrite it");
  static std::atomic<unsigned> counter{0};
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string temp = "." + name + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    int fd = ::openat(fd_, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0) return DumpFile(fd_, fd, temp, name, force_);
    if (errno != EEXIST) throw Error("cannot create a file in " + path_ + ": " + errno_text());
  }
  throw Error("cannot create a temporary file in " + path_);
}

DumpFile::DumpFile(int dir_fd, int fd, std::string temp, std::string name, bool force)
    : dir_fd_(dir_fd), fd_(fd), temp_(std::move(temp)), name_(std::move(name)), force_(force) {}

DumpFile::DumpFile(DumpFile&& other) noexcept
    : dir_fd_(other.dir_fd_),
      fd_(other.fd_),
      temp_(std::move(other.temp_)),
      name_(std::move(other.name_)),
      force_(other.force_),
      size_(other.size_),
      committed_(other.committed_) {
  other.fd_ = -1;
  other.committed_ = true;
}

DumpFile::~DumpFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlinkat(dir_fd_, temp_.c_str(), 0);
}

void DumpFile::write(const void* data, uint64_t n) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  while (n > 0) {
    ssize_t done = ::pwrite(fd_, bytes, n, static_cast<off_t>(size_));
    if (done < 0 && errno == EINTR) continue;
    if (done <= 0) throw Error("cannot write " + name_ + ": " + (done < 0 ? errno_text() : "nothing written"));
    bytes += done;
    n -= static_cast<uint64_t>(done);
    size_ += static_cast<uint64_t>(done);
  }
}

void DumpFile::commit() {
  if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) throw Error("cannot size " + name_ + ": " + errno_text());
  if (::close(fd_) != 0) {
    fd_ = -1;
    throw Error("cannot write " + name_ + ": " + errno_text());
  }
  fd_ = -1;
  int status = force_ ? ::renameat(dir_fd_, temp_.c_str(), dir_fd_, name_.c_str())
                      : ::renameat2(dir_fd_, temp_.c_str(), dir_fd_, name_.c_str(), RENAME_NOREPLACE);
  if (status != 0) {
    if (errno == EEXIST) throw Error(name_ + " appeared while it was written; use --force to overwrite it");
    throw Error("cannot rename the temporary file to " + name_ + ": " + errno_text());
  }
  committed_ = true;
}

}  // namespace memscope
