#include "formats/kdump/page_codec.h"

#include <lzo/lzo1x.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <memory>
#include <mutex>

#include "core/util/hex.h"
#include "formats/kdump/kdump_format.h"

namespace memscope::kdump {

const char* codec_name(uint32_t flags) {
  switch (flags) {
    case 0: return "stored";
    case kCompressedZlib: return "zlib";
    case kCompressedLzo: return "lzo";
    case kCompressedSnappy: return "snappy";
    case kCompressedZstd: return "zstd";
    default: return "unknown";
  }
}

bool codec_supported(uint32_t flags) {
  return flags == 0 || flags == kCompressedZlib || flags == kCompressedLzo || flags == kCompressedSnappy ||
         flags == kCompressedZstd;
}

namespace {

// A z_stream per thread, reset for each page: inflateInit allocates its
// state and window, which would cost more than inflating a 4 KiB page.
struct ZlibStream {
  z_stream stream{};
  bool ready = false;
  ZlibStream() { ready = inflateInit(&stream) == Z_OK; }
  ~ZlibStream() {
    if (ready) inflateEnd(&stream);
  }
};

struct ZstdDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

std::string size_mismatch(size_t got, size_t page_size) {
  return "decompresses to " + std::to_string(got) + " bytes, not the page's " + std::to_string(page_size);
}

std::optional<std::string> decode_zlib(const uint8_t* data, size_t size, uint8_t* out, size_t page_size) {
  thread_local ZlibStream z;
  if (!z.ready) return "zlib: cannot initialise the decompressor";
  inflateReset(&z.stream);
  z.stream.next_in = const_cast<Bytef*>(data);
  z.stream.avail_in = static_cast<uInt>(size);
  z.stream.next_out = out;
  z.stream.avail_out = static_cast<uInt>(page_size);
  int rc = inflate(&z.stream, Z_FINISH);
  if (rc == Z_STREAM_END) {
    if (z.stream.total_out != page_size) return size_mismatch(z.stream.total_out, page_size);
    return std::nullopt;
  }
  if (rc == Z_BUF_ERROR && z.stream.avail_out == 0) return "zlib: decompresses to more than the page's " +
                                                             std::to_string(page_size) + " bytes";
  if (rc == Z_BUF_ERROR) return "zlib: the compressed data ends early (truncated page)";
  return std::string("zlib: ") + (z.stream.msg ? z.stream.msg : "corrupt data (error " + std::to_string(rc) + ")");
}

std::optional<std::string> decode_lzo(const uint8_t* data, size_t size, uint8_t* out, size_t page_size) {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] { ok = lzo_init() == LZO_E_OK; });
  if (!ok) return "lzo: cannot initialise the library";
  lzo_uint length = page_size;
  int rc = lzo1x_decompress_safe(data, size, out, &length, nullptr);
  if (rc == LZO_E_OUTPUT_OVERRUN) return "lzo: decompresses to more than the page's " + std::to_string(page_size) +
                                         " bytes";
  if (rc == LZO_E_INPUT_OVERRUN) return "lzo: the compressed data ends early (truncated page)";
  if (rc != LZO_E_OK) return "lzo: corrupt data (error " + std::to_string(rc) + ")";
  if (length != page_size) return size_mismatch(length, page_size);
  return std::nullopt;
}

std::optional<std::string> decode_snappy(const uint8_t* data, size_t size, uint8_t* out, size_t page_size) {
  size_t length = 0;
  const char* in = reinterpret_cast<const char*>(data);
  if (snappy_uncompressed_length(in, size, &length) != SNAPPY_OK)
    return "snappy: corrupt data (no valid length preamble)";
  if (length != page_size) return size_mismatch(length, page_size);
  if (snappy_uncompress(in, size, reinterpret_cast<char*>(out), &length) != SNAPPY_OK)
    return "snappy: corrupt data";
  return std::nullopt;
}

std::optional<std::string> decode_zstd(const uint8_t* data, size_t size, uint8_t* out, size_t page_size) {
  thread_local std::unique_ptr<ZSTD_DCtx, ZstdDeleter> dctx(ZSTD_createDCtx());
  if (!dctx) return "zstd: cannot initialise the decompressor";
  size_t rc = ZSTD_decompressDCtx(dctx.get(), out, page_size, data, size);
  if (ZSTD_isError(rc)) return std::string("zstd: ") + ZSTD_getErrorName(rc);
  if (rc != page_size) return size_mismatch(rc, page_size);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> decode_page(uint32_t flags, const uint8_t* data, size_t size, uint8_t* out,
                                       size_t page_size) {
  switch (flags) {
    case 0:
      if (size != page_size)
        return "a page stored uncompressed must hold " + std::to_string(page_size) + " bytes, its descriptor says " +
               std::to_string(size);
      std::memcpy(out, data, page_size);
      return std::nullopt;
    case kCompressedZlib: return decode_zlib(data, size, out, page_size);
    case kCompressedLzo: return decode_lzo(data, size, out, page_size);
    case kCompressedSnappy: return decode_snappy(data, size, out, page_size);
    case kCompressedZstd: return decode_zstd(data, size, out, page_size);
    default: return "unknown compression flags " + hex(flags) + " in the page descriptor";
  }
}

}  // namespace memscope::kdump
