// Temporary files for tests, removed when the object goes away.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace memscope::test {

class TempFile {
 public:
  explicit TempFile(const std::string& stem);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }
  void write(const std::vector<uint8_t>& bytes) const;
  void write(std::string_view bytes) const;
  std::vector<uint8_t> read() const;

 private:
  std::string path_;
};

// A temporary directory, removed recursively when the object goes away.
class TempDir {
 public:
  explicit TempDir(const std::string& stem);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace memscope::test
