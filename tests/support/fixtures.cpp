#include "support/fixtures.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <zstd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace fs = std::filesystem;

namespace memscope::test {

void skip(const std::string& why) {
  std::cerr << "SKIPPED: " << why << std::endl;
  std::cout << "SKIPPED: " << why << std::endl;
  std::_Exit(4);
}

std::string fixture_dir(const std::string& set) {
  const char* env = std::getenv("MEMSCOPE_FIXTURES");
  fs::path root = env && *env ? fs::path(env) : fs::path(MEMSCOPE_SOURCE_DIR) / ".." / "shared" / "fixtures";
  fs::path dir = root / set;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return "";
  return fs::weakly_canonical(dir).string();
}

namespace {

void decompress(const fs::path& from, const fs::path& to) {
  std::ifstream in(from, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + from.string());
  fs::path tmp = to;
  tmp += ".tmp" + std::to_string(::getpid());
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + tmp.string());
  ZSTD_DStream* stream = ZSTD_createDStream();
  ZSTD_initDStream(stream);
  std::vector<char> inbuf(ZSTD_DStreamInSize()), outbuf(ZSTD_DStreamOutSize());
  while (in) {
    in.read(inbuf.data(), static_cast<std::streamsize>(inbuf.size()));
    ZSTD_inBuffer input{inbuf.data(), static_cast<size_t>(in.gcount()), 0};
    while (input.pos < input.size) {
      ZSTD_outBuffer output{outbuf.data(), outbuf.size(), 0};
      size_t rc = ZSTD_decompressStream(stream, &output, &input);
      if (ZSTD_isError(rc)) {
        ZSTD_freeDStream(stream);
        throw std::runtime_error(from.string() + ": " + ZSTD_getErrorName(rc));
      }
      out.write(outbuf.data(), static_cast<std::streamsize>(output.pos));
    }
  }
  ZSTD_freeDStream(stream);
  out.close();
  fs::rename(tmp, to);
}

}  // namespace

std::string fixture_file(const std::string& name, const std::string& set) {
  std::string dir = fixture_dir(set);
  if (dir.empty())
    skip("fixtures not found (set MEMSCOPE_FIXTURES or place them at ../shared/fixtures)");
  fs::path path = fs::path(dir) / name;
  if (!fs::exists(path)) skip("fixture " + path.string() + " is absent");
  return path.string();
}

std::string fixture(const std::string& name, const std::string& set) {
  std::string dir = fixture_dir(set);
  if (dir.empty())
    skip("fixtures not found (set MEMSCOPE_FIXTURES or place them at ../shared/fixtures)");
  fs::path plain = fs::path(dir) / name;
  if (fs::exists(plain)) return plain.string();
  fs::path compressed = fs::path(dir) / (name + ".zst");
  if (!fs::exists(compressed)) skip("fixture " + compressed.string() + " is absent");

  fs::path cache = fs::path(MEMSCOPE_BINARY_DIR) / "fixtures" / set;
  fs::create_directories(cache);
  fs::path target = cache / name;
  // Tests run in parallel processes: one decompresses, the others wait.
  int lock = ::open((cache / ".lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (lock >= 0) ::flock(lock, LOCK_EX);
  std::error_code ec;
  bool fresh = fs::exists(target, ec) &&
               fs::last_write_time(target, ec) >= fs::last_write_time(compressed, ec);
  if (!fresh) decompress(compressed, target);
  if (lock >= 0) ::close(lock);
  return target.string();
}

const nlohmann::json& truth(const std::string& set) {
  static std::mutex mutex;
  static std::map<std::string, nlohmann::json> cache;
  std::lock_guard guard(mutex);
  auto it = cache.find(set);
  if (it != cache.end()) return it->second;
  std::ifstream in(fixture_file("truth.json", set));
  return cache[set] = nlohmann::json::parse(in);
}

}  // namespace memscope::test
