#include "support/fixture_profiles.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "core/util/sha256.h"
#include "profiles/btf/isf_from_btf.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;

namespace memscope::test {
namespace {

// The file that holds isf_from_btf_files: libmemscope.so.
std::string generator_library() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&isf_from_btf_files), &info) == 0 || !info.dli_fname)
    throw std::runtime_error("cannot find the library that holds the BTF generator");
  return info.dli_fname;
}

std::string stat_key(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + path);
  return std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

}  // namespace

void use_build_tree_cache() {
  static bool done = [] {
    std::string dir = std::string(MEMSCOPE_BINARY_DIR) + "/test-cache";
    fs::create_directories(dir);
    ::setenv("XDG_CACHE_HOME", dir.c_str(), 1);
    return true;
  }();
  (void)done;
}

std::string fixture_isf_profile() { return fixture_file("isf.json.xz"); }

std::string fixture_btf_profile() {
  static std::string path = [] {
    const std::string btf = fixture("vmlinux.btf");
    const std::string map = fixture("System.map");
    const std::string banner = truth().at("linux_banner").get<std::string>();
    const std::string key = stat_key(btf) + "|" + stat_key(map) + "|" + banner + "|" + stat_key(generator_library());
    Sha256 hash;
    hash.update(key.data(), key.size());
    const std::string digest = Sha256::to_hex(hash.finish()).substr(0, 16);
    fs::path dir = fs::path(MEMSCOPE_BINARY_DIR) / "test-cache" / "btf-profiles";
    fs::create_directories(dir);
    fs::path out = dir / ("fixture-btf-" + digest + ".json");
    int lock = ::open((dir / ".lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (lock >= 0) ::flock(lock, LOCK_EX);
    if (!fs::exists(out)) {
      // Older generations are stale by construction: remove them.
      for (const auto& entry : fs::directory_iterator(dir))
        if (entry.path().extension() == ".json") fs::remove(entry.path());
      IsfFromBtfOptions options;
      options.banner = banner;
      nlohmann::json isf = isf_from_btf_files(btf, map, options);
      fs::path temporary = out;
      temporary += ".tmp" + std::to_string(::getpid());
      std::ofstream(temporary) << isf.dump();
      fs::rename(temporary, out);
    }
    if (lock >= 0) ::close(lock);
    return out.string();
  }();
  return path;
}

std::string fixture_profile(const std::string& kind) {
  return kind == "isf" ? fixture_isf_profile() : fixture_btf_profile();
}

}  // namespace memscope::test
