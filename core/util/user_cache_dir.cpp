#include "core/util/user_cache_dir.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace fs = std::filesystem;

namespace memscope {
namespace {

std::optional<fs::path> cache_root() {
  // XDG Base Directory spec: a relative $XDG_CACHE_HOME is invalid, ignore it.
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && xdg[0] == '/') return fs::path(xdg);
  const char* home = std::getenv("HOME");
  if (home && home[0] == '/') return fs::path(home) / ".cache";
  if (struct passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir && pw->pw_dir[0] == '/')
    return fs::path(pw->pw_dir) / ".cache";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> user_cache_dir(const std::string& sub) {
  auto root = cache_root();
  if (!root) return std::nullopt;
  fs::path dir = *root / "memscope";
  if (!sub.empty()) dir /= sub;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir, ec)) return std::nullopt;
  // The cache may describe evidence: keep it private to the user.
  ::chmod(dir.c_str(), 0700);
  return dir.string();
}

bool write_cache_file(const std::string& dir, const std::string& name, const std::string& bytes) {
  std::string final_path = dir + "/" + name;
  std::string tmp = final_path + ".tmp" + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n <= 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      return false;
    }
    written += static_cast<size_t>(n);
  }
  if (::close(fd) != 0 || ::rename(tmp.c_str(), final_path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace memscope
