#include "support/lime_zlib_writer.h"

#include <zlib.h>

#include <fstream>
#include <stdexcept>
#include <vector>

#include "formats/lime/lime_format.h"

namespace memscope::test {

uint64_t write_lime_zlib(PhysicalLayer& source, const std::string& path, const LimeZlibWriteOptions& options) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("lime-zlib writer: cannot write " + path);
  z_stream z{};
  if (deflateInit2(&z, options.level, Z_DEFLATED, options.window_bits, 5, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("lime-zlib writer: deflateInit2 failed");
  std::vector<uint8_t> packed(1 << 20);
  uint64_t fed = 0, flushed_at = 0;
  auto feed = [&](const void* bytes, size_t n, int flush) {
    if (options.full_flush_at && fed < options.full_flush_at && fed + n >= options.full_flush_at && flush == Z_NO_FLUSH)
      flush = Z_FULL_FLUSH;
    fed += n;
    z.next_in = static_cast<Bytef*>(const_cast<void*>(bytes));
    z.avail_in = static_cast<uInt>(n);
    do {
      z.next_out = packed.data();
      z.avail_out = static_cast<uInt>(packed.size());
      int rc = deflate(&z, flush);
      if (rc == Z_STREAM_ERROR) throw std::runtime_error("lime-zlib writer: deflate failed");
      out.write(reinterpret_cast<const char*>(packed.data()),
                static_cast<std::streamsize>(packed.size() - z.avail_out));
    } while (z.avail_out == 0 || z.avail_in > 0);
    if (flush == Z_FULL_FLUSH) flushed_at = z.total_out;
  };
  std::vector<Range> ranges;
  source.ranges([&](const Range& r) {
    ranges.push_back(r);
    return true;
  });
  std::vector<uint8_t> page(4096);
  for (const Range& r : ranges) {
    lime::RangeHeader header;
    header.start = r.start;
    header.end_inclusive = r.end() - 1;
    feed(&header, sizeof header, Z_NO_FLUSH);
    for (uint64_t at = r.start; at < r.end(); at += page.size()) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(page.size(), r.end() - at));
      IoResult got = source.read(at, page.data(), n);
      if (!got.ok()) throw std::runtime_error("lime-zlib writer: " + got.fault->message());
      feed(page.data(), n, Z_NO_FLUSH);
    }
  }
  feed(nullptr, 0, Z_FINISH);
  deflateEnd(&z);
  if (!out.good()) throw std::runtime_error("lime-zlib writer: write failed: " + path);
  return flushed_at;
}

}  // namespace memscope::test
