#include "support/fixtures.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <openssl/evp.h>
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

bool running_in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

void skip(const std::string& why) {
  std::cerr << "SKIPPED: " << why << std::endl;
  std::cout << "SKIPPED: " << why << std::endl;
  std::_Exit(kSkipExitCode);
}

void skip_unless_ci(const std::string& why) {
  if (!running_in_ci()) skip(why);
  // CI has every fixture and tool: a skip there would hide a broken path.
  std::cerr << "FAILED (CI=true): " << why << std::endl;
  std::cout << "FAILED (CI=true): " << why << std::endl;
  std::_Exit(1);
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

std::string sha256_of_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    EVP_DigestUpdate(ctx, buffer.data(), static_cast<size_t>(in.gcount()));
  }
  unsigned char digest[32];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx, digest, &length);
  EVP_MD_CTX_free(ctx);
  static const char* digits = "0123456789abcdef";
  std::string text;
  for (unsigned i = 0; i < length; ++i) {
    text += digits[digest[i] >> 4];
    text += digits[digest[i] & 15];
  }
  return text;
}

// Evidence integrity: every image a test process opened must hold, when the
// test run ends, exactly the bytes the guest's truth.json records for it
// (SHA-256 of each image before compression). Checked once the tests are
// done (catch_main.cpp's listener) so that it covers everything they did
// with the file; a difference fails the test process even if every
// assertion passed.
namespace {

struct WatchedImage {
  std::string path;
  std::string expected_sha256;
};
std::mutex watch_mutex;
std::vector<WatchedImage>& watched_images() {
  static std::vector<WatchedImage> images;
  return images;
}

}  // namespace

void check_watched_images() {
  std::lock_guard guard(watch_mutex);
  for (const WatchedImage& image : watched_images()) {
    std::string now = sha256_of_file(image.path);
    if (now != image.expected_sha256) {
      std::cerr << "EVIDENCE CHANGED: " << image.path << " has SHA-256 " << now << ", truth.json says "
                << image.expected_sha256 << std::endl;
      std::_Exit(1);
    }
  }
}

// Registers `path` (the fixture `name`) for the check at exit when
// truth.json knows its hash; returns `path`.
std::string watched(const std::string& path, const std::string& name, const std::string& set) {
  const nlohmann::json& images = truth(set).value("images", nlohmann::json::object());
  if (!images.contains(name) || !images[name].contains("sha256")) return path;
  std::lock_guard guard(watch_mutex);
  for (const WatchedImage& image : watched_images())
    if (image.path == path) return path;
  watched_images().push_back({path, images[name]["sha256"].get<std::string>()});
  return path;
}

std::string fixtures_root() {
  const char* env = std::getenv("MEMSCOPE_FIXTURES");
  return env && *env ? std::string(env) : (fs::path(MEMSCOPE_SOURCE_DIR) / ".." / "shared" / "fixtures").string();
}

std::string require_fixture_dir(const std::string& set) {
  std::string dir = fixture_dir(set);
  if (dir.empty())
    skip_unless_ci("fixtures not found: " + (fs::path(fixtures_root()) / set).string() +
                   " is absent (set MEMSCOPE_FIXTURES or place them at ../shared/fixtures)");
  return dir;
}

std::string fixture_file(const std::string& name, const std::string& set) {
  fs::path path = fs::path(require_fixture_dir(set)) / name;
  if (!fs::exists(path)) skip_unless_ci("fixture " + path.string() + " is absent");
  return path.string();
}

std::string fixture(const std::string& name, const std::string& set) {
  std::string dir = require_fixture_dir(set);
  fs::path plain = fs::path(dir) / name;
  if (fs::exists(plain)) return watched(plain.string(), name, set);
  fs::path compressed = fs::path(dir) / (name + ".zst");
  if (!fs::exists(compressed)) skip_unless_ci("fixture " + compressed.string() + " is absent");

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
  return watched(target.string(), name, set);
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
