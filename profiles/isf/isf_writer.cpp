#include "profiles/isf/isf_writer.h"

#include <fcntl.h>
#include <lzma.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/layers/mapped_file.h"

namespace memscope {

namespace {

// A file being written under a temporary name; removed unless committed.
class TemporaryOutput {
 public:
  explicit TemporaryOutput(const std::string& final_path) : final_path_(final_path) {
    static std::atomic<unsigned> counter{0};
    temp_path_ = final_path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(final_path + ": cannot create " + temp_path_ + ": " + std::strerror(errno));
  }
  ~TemporaryOutput() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_path_.c_str());
  }
  TemporaryOutput(const TemporaryOutput&) = delete;
  TemporaryOutput& operator=(const TemporaryOutput&) = delete;

  void write(const uint8_t* data, size_t n) {
    while (n > 0) {
      ssize_t done = ::write(fd_, data, n);
      if (done < 0 && errno == EINTR) continue;
      if (done <= 0) throw Error(final_path_ + ": write failed: " + std::strerror(done < 0 ? errno : EIO));
      data += done;
      n -= static_cast<size_t>(done);
    }
  }

  void commit() {
    if (::fsync(fd_) != 0) throw Error(final_path_ + ": fsync failed: " + std::strerror(errno));
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) throw Error(final_path_ + ": close failed: " + std::strerror(errno));
    if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0)
      throw Error(final_path_ + ": cannot rename " + temp_path_ + " into place: " + std::strerror(errno));
    committed_ = true;
  }

 private:
  std::string final_path_, temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

class LzmaStream {
 public:
  LzmaStream() = default;
  ~LzmaStream() { lzma_end(&stream); }
  LzmaStream(const LzmaStream&) = delete;
  LzmaStream& operator=(const LzmaStream&) = delete;
  lzma_stream stream = LZMA_STREAM_INIT;
};

std::string lzma_message(lzma_ret rc) {
  switch (rc) {
    case LZMA_MEM_ERROR: return "out of memory";
    case LZMA_MEMLIMIT_ERROR: return "memory limit reached";
    case LZMA_FORMAT_ERROR: return "not an .xz stream";
    case LZMA_OPTIONS_ERROR: return "unsupported options";
    case LZMA_DATA_ERROR: return "corrupt data";
    case LZMA_BUF_ERROR: return "truncated";
    case LZMA_UNSUPPORTED_CHECK: return "unsupported integrity check";
    default: return "liblzma error " + std::to_string(static_cast<int>(rc));
  }
}

void write_xz(const std::string& text, TemporaryOutput& out, const IsfWriteOptions& options, const std::string& path) {
  LzmaStream lz;
  lzma_ret rc;
  const uint32_t preset = options.xz_preset > 9 ? 9 : options.xz_preset;
  if (options.xz_threads > 1) {
    lzma_mt mt{};
    mt.threads = options.xz_threads;
    mt.preset = preset;
    mt.check = LZMA_CHECK_CRC64;
    rc = lzma_stream_encoder_mt(&lz.stream, &mt);
  } else {
    rc = lzma_easy_encoder(&lz.stream, preset, LZMA_CHECK_CRC64);
  }
  if (rc != LZMA_OK) throw Error(path + ": cannot start xz compression: " + lzma_message(rc));
  std::vector<uint8_t> buffer(1 << 20);
  lz.stream.next_in = reinterpret_cast<const uint8_t*>(text.data());
  lz.stream.avail_in = text.size();
  while (true) {
    lz.stream.next_out = buffer.data();
    lz.stream.avail_out = buffer.size();
    rc = lzma_code(&lz.stream, LZMA_FINISH);
    out.write(buffer.data(), buffer.size() - lz.stream.avail_out);
    if (rc == LZMA_STREAM_END) break;
    if (rc != LZMA_OK) throw Error(path + ": xz compression failed: " + lzma_message(rc));
  }
}

}  // namespace

bool isf_path_is_xz(const std::string& path) { return path.size() >= 3 && path.compare(path.size() - 3, 3, ".xz") == 0; }

void write_isf(const nlohmann::json& isf, const std::string& path, const IsfWriteOptions& options) {
  std::string text = isf.dump(options.indent);
  if (options.indent >= 0) text += '\n';
  TemporaryOutput out(path);
  if (isf_path_is_xz(path))
    write_xz(text, out, options, path);
  else
    out.write(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  out.commit();
}

std::string read_isf_text(const std::string& path, uint64_t max_bytes) {
  MappedFile file(path);
  file.advise_sequential();
  const uint8_t* data = file.data();
  const bool xz_magic = file.size() >= 6 && std::memcmp(data, "\xfd" "7zXZ\0", 6) == 0;
  if (!xz_magic) {
    if (file.size() > max_bytes)
      throw FormatError(path + ": " + std::to_string(file.size()) + " bytes exceeds the limit of " +
                        std::to_string(max_bytes));
    return std::string(reinterpret_cast<const char*>(data), file.size());
  }
  LzmaStream lz;
  lzma_ret rc = lzma_stream_decoder(&lz.stream, UINT64_MAX, LZMA_CONCATENATED);
  if (rc != LZMA_OK) throw Error(path + ": cannot start xz decompression: " + lzma_message(rc));
  lz.stream.next_in = data;
  lz.stream.avail_in = file.size();
  std::string text;
  std::vector<uint8_t> buffer(1 << 20);
  while (true) {
    lz.stream.next_out = buffer.data();
    lz.stream.avail_out = buffer.size();
    rc = lzma_code(&lz.stream, LZMA_FINISH);
    const size_t produced = buffer.size() - lz.stream.avail_out;
    if (text.size() + produced > max_bytes)
      throw FormatError(path + ": decompresses to more than " + std::to_string(max_bytes) + " bytes");
    text.append(reinterpret_cast<const char*>(buffer.data()), produced);
    if (rc == LZMA_STREAM_END) break;
    if (rc != LZMA_OK)
      throw FormatError(path + ": xz data at input offset " + hex(lz.stream.total_in) + ": " + lzma_message(rc));
  }
  return text;
}

}  // namespace memscope
