#include "profiles/decompress.h"

#include <lzma.h>
#include <zlib.h>

#include <cstring>
#include <vector>

#include "core/util/error.h"
#include "core/layers/mapped_file.h"

namespace memscope {
namespace {

constexpr size_t kChunk = 256 * 1024;

}  // namespace

const char* compression_name(Compression compression) {
  switch (compression) {
    case Compression::kNone: return "none";
    case Compression::kXz: return "xz";
    case Compression::kGzip: return "gzip";
  }
  return "?";
}

Compression detect_compression(std::string_view first) {
  static constexpr unsigned char kXzMagic[] = {0xfd, '7', 'z', 'X', 'Z', 0x00};
  if (first.size() >= sizeof kXzMagic && std::memcmp(first.data(), kXzMagic, sizeof kXzMagic) == 0)
    return Compression::kXz;
  if (first.size() >= 2 && static_cast<unsigned char>(first[0]) == 0x1f && static_cast<unsigned char>(first[1]) == 0x8b)
    return Compression::kGzip;
  return Compression::kNone;
}

// A read-only streambuf over the mapped file. Plain files are served from
// the mapping without a copy; compressed ones are decoded a chunk at a time
// into `out_`.
class DecompressedFile::Buffer : public std::streambuf {
 public:
  Buffer(const MappedFile& file, Compression compression, uint64_t max_output)
      : file_(file), compression_(compression), max_output_(max_output) {
    char* begin = reinterpret_cast<char*>(const_cast<uint8_t*>(file.data()));
    switch (compression_) {
      case Compression::kNone:
        if (file.size() > max_output_) too_big();
        setg(begin, begin, begin + file.size());
        handed_out_ = file.size();
        break;
      case Compression::kXz: {
        xz_ = LZMA_STREAM_INIT;
        lzma_ret rc = lzma_stream_decoder(&xz_, UINT64_MAX, LZMA_CONCATENATED);
        if (rc != LZMA_OK) fail("cannot start the xz decoder (code " + std::to_string(int(rc)) + ")");
        xz_ready_ = true;
        xz_.next_in = file.data();
        xz_.avail_in = file.size();
        out_.resize(kChunk);
        setg(out_.data(), out_.data(), out_.data());
        break;
      }
      case Compression::kGzip: {
        std::memset(&gz_, 0, sizeof gz_);
        // 15 + 32: any window size, gzip or zlib header detected.
        if (inflateInit2(&gz_, 15 + 32) != Z_OK) fail("cannot start the gzip decoder");
        gz_ready_ = true;
        gz_.next_in = const_cast<Bytef*>(file.data());
        gz_.avail_in = 0;
        in_left_ = file.size();
        out_.resize(kChunk);
        setg(out_.data(), out_.data(), out_.data());
        break;
      }
    }
  }

  ~Buffer() override {
    if (xz_ready_) lzma_end(&xz_);
    if (gz_ready_) inflateEnd(&gz_);
  }

  uint64_t position() const { return handed_out_ - uint64_t(egptr() - gptr()); }

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    if (finished_ || compression_ == Compression::kNone) return traits_type::eof();
    size_t produced = compression_ == Compression::kXz ? decode_xz() : decode_gzip();
    if (produced == 0) return traits_type::eof();
    handed_out_ += produced;
    if (handed_out_ > max_output_) too_big();
    setg(out_.data(), out_.data(), out_.data() + produced);
    return traits_type::to_int_type(*gptr());
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw FormatError(file_.path() + ": " + compression_name(compression_) + ": " + why);
  }
  [[noreturn]] void too_big() const {
    fail("decompresses to more than " + std::to_string(max_output_) + " bytes; refusing it");
  }

  size_t decode_xz() {
    xz_.next_out = reinterpret_cast<uint8_t*>(out_.data());
    xz_.avail_out = out_.size();
    while (xz_.avail_out == out_.size()) {
      lzma_ret rc = lzma_code(&xz_, LZMA_FINISH);
      if (rc == LZMA_STREAM_END) {
        finished_ = true;
        break;
      }
      if (rc != LZMA_OK) {
        uint64_t at = file_.size() - xz_.avail_in;
        const char* why = rc == LZMA_DATA_ERROR ? "corrupt data"
                          : rc == LZMA_BUF_ERROR ? "truncated stream"
                          : rc == LZMA_FORMAT_ERROR ? "not an xz stream"
                          : rc == LZMA_MEM_ERROR ? "out of memory"
                                                 : "decoder error";
        fail(std::string(why) + " near compressed offset " + std::to_string(at) + " (code " +
             std::to_string(int(rc)) + ")");
      }
    }
    return out_.size() - xz_.avail_out;
  }

  size_t decode_gzip() {
    gz_.next_out = reinterpret_cast<Bytef*>(out_.data());
    gz_.avail_out = static_cast<uInt>(out_.size());
    while (gz_.avail_out == out_.size()) {
      if (gz_.avail_in == 0) {
        if (in_left_ == 0) fail("truncated stream");
        uInt take = static_cast<uInt>(std::min<uint64_t>(in_left_, 1u << 30));
        gz_.avail_in = take;
        in_left_ -= take;
      }
      int rc = inflate(&gz_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        // Concatenated gzip members are one stream (as gunzip treats them).
        if (gz_.avail_in == 0 && in_left_ == 0) {
          finished_ = true;
          break;
        }
        if (inflateReset(&gz_) != Z_OK) fail("cannot restart the decoder");
        continue;
      }
      if (rc != Z_OK) {
        uint64_t at = file_.size() - in_left_ - gz_.avail_in;
        fail(std::string(gz_.msg ? gz_.msg : "corrupt data") + " near compressed offset " + std::to_string(at));
      }
    }
    return out_.size() - gz_.avail_out;
  }

  const MappedFile& file_;
  Compression compression_;
  uint64_t max_output_;
  std::vector<char> out_;
  uint64_t handed_out_ = 0;
  bool finished_ = false;
  lzma_stream xz_{};
  bool xz_ready_ = false;
  z_stream gz_{};
  bool gz_ready_ = false;
  uint64_t in_left_ = 0;  // gzip input not yet given to zlib (avail_in is 32-bit)
};

DecompressedFile::DecompressedFile(const std::string& path, uint64_t max_output)
    : path_(path), file_(std::make_shared<MappedFile>(path)), stream_(nullptr) {
  file_->advise_sequential();
  compression_ = detect_compression(file_->bytes(0, std::min<uint64_t>(file_->size(), 8)));
  buffer_ = std::make_unique<Buffer>(*file_, compression_, max_output);
  stream_.rdbuf(buffer_.get());
}

DecompressedFile::~DecompressedFile() = default;

std::streambuf& DecompressedFile::buffer() { return *buffer_; }
uint64_t DecompressedFile::position() const { return buffer_->position(); }

std::string read_decompressed(const std::string& path, uint64_t max_output) {
  DecompressedFile file(path, max_output);
  std::string out;
  char chunk[64 * 1024];
  while (true) {
    std::streamsize n = file.buffer().sgetn(chunk, sizeof chunk);
    if (n <= 0) break;
    out.append(chunk, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace memscope
