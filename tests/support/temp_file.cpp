#include "support/temp_file.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace fs = std::filesystem;

namespace memscope::test {
namespace {

std::string unique_path(const std::string& stem) {
  static std::atomic<unsigned> counter{0};
  fs::path dir = fs::temp_directory_path() / "memscope-tests";
  fs::create_directories(dir);
  return (dir / (stem + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++))).string();
}

}  // namespace

TempFile::TempFile(const std::string& stem) : path_(unique_path(stem)) {}
TempFile::~TempFile() {
  std::error_code ec;
  fs::remove(path_, ec);
}

void TempFile::write(const std::vector<uint8_t>& bytes) const {
  write(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

void TempFile::write(std::string_view bytes) const {
  std::ofstream out(path_, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> TempFile::read() const {
  std::ifstream in(path_, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

TempDir::TempDir(const std::string& stem) : path_(unique_path(stem)) { fs::create_directories(path_); }
TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

}  // namespace memscope::test
