#include "core/report/report_files.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include "core/util/error.h"

namespace memscope {
namespace {

std::atomic<unsigned> g_temp_counter{0};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Moves `temp` to `name` unless `name` exists. False when it does.
bool rename_no_replace(int dir, const std::string& temp, const std::string& name) {
  if (::renameat2(dir, temp.c_str(), dir, name.c_str(), RENAME_NOREPLACE) == 0) return true;
  if (errno == EEXIST) return false;
  if (errno != EINVAL && errno != ENOSYS) throw Error(name + ": cannot rename into place: " + std::strerror(errno));
  // A file system without RENAME_NOREPLACE: a hard link fails on an
  // existing name just as atomically.
  if (::linkat(dir, temp.c_str(), dir, name.c_str(), 0) == 0) {
    ::unlinkat(dir, temp.c_str(), 0);
    return true;
  }
  if (errno == EEXIST) return false;
  throw Error(name + ": cannot link into place: " + std::strerror(errno));
}

}  // namespace

std::string report_base_name(const std::string& image_path) {
  std::string path = image_path;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty() || base == "." || base == ".." || base == "/") base = "image";
  // A hidden name (".mem") would make a hidden report.
  if (base[0] == '.') base = "_" + base.substr(1);
  return base;
}

std::string write_new_file(const std::string& dir, const std::string& base, const std::string& suffix,
                           const std::string& bytes) {
  Fd folder(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (folder.get() < 0) throw Error(dir + ": cannot open the output folder: " + std::strerror(errno));
  std::string temp = "." + base + suffix + ".tmp." + std::to_string(::getpid()) + "." +
                     std::to_string(g_temp_counter.fetch_add(1));
  Fd file(::openat(folder.get(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (file.get() < 0) throw Error(dir + "/" + temp + ": cannot create: " + std::strerror(errno));
  auto fail = [&](const std::string& what) {
    int saved = errno;
    ::unlinkat(folder.get(), temp.c_str(), 0);
    throw Error(dir + "/" + base + suffix + ": " + what + ": " + std::strerror(saved));
  };
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(file.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write failed");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(file.get()) != 0) fail("fsync failed");
  if (::close(file.release()) != 0) fail("close failed");
  try {
    for (unsigned n = 0; n < 100000; ++n) {
      std::string name = n == 0 ? base + suffix : base + "." + std::to_string(n) + suffix;
      if (rename_no_replace(folder.get(), temp, name)) return dir + (dir.back() == '/' ? "" : "/") + name;
    }
  } catch (...) {
    ::unlinkat(folder.get(), temp.c_str(), 0);
    throw;
  }
  ::unlinkat(folder.get(), temp.c_str(), 0);
  throw Error(dir + "/" + base + suffix + ": no free name left");
}

}  // namespace memscope
