// Reading profile files that may be compressed: ISF files ship as .json,
// .json.xz or .json.gz. The compression is recognised by magic bytes, never
// by the file name. Output is streamed (a std::istream), so a 40 MB JSON
// document is never held in memory whole.
#pragma once

#include <cstdint>
#include <istream>
#include <memory>
#include <streambuf>
#include <string>
#include <string_view>

namespace memscope {

class MappedFile;

enum class Compression { kNone, kXz, kGzip };

const char* compression_name(Compression compression);
Compression detect_compression(std::string_view first_bytes);

// Default bound on decompressed output: far above any real profile, low
// enough to stop a decompression bomb.
inline constexpr uint64_t kDefaultMaxDecompressed = uint64_t(4) << 30;

// A file opened read-only (mmap) and decompressed as it is read. Errors
// (corrupt data, truncated stream, output above max_output) are thrown as
// FormatError naming the file, from whatever reads the stream.
class DecompressedFile {
 public:
  explicit DecompressedFile(const std::string& path, uint64_t max_output = kDefaultMaxDecompressed);
  ~DecompressedFile();
  DecompressedFile(const DecompressedFile&) = delete;
  DecompressedFile& operator=(const DecompressedFile&) = delete;

  std::istream& stream() { return stream_; }
  // The underlying stream buffer (faster than the istream for bulk reads).
  std::streambuf& buffer();
  Compression compression() const { return compression_; }
  const std::string& path() const { return path_; }
  // Decompressed bytes handed out so far.
  uint64_t position() const;

 private:
  class Buffer;
  std::string path_;
  Compression compression_;
  std::shared_ptr<const MappedFile> file_;
  std::unique_ptr<Buffer> buffer_;
  std::istream stream_;
};

// The whole decompressed content (tests, small files).
std::string read_decompressed(const std::string& path, uint64_t max_output = kDefaultMaxDecompressed);

}  // namespace memscope
