#include "support/avml_writer.h"

#include <snappy-c.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "formats/avml/avml.h"
#include "formats/avml/crc32c.h"

namespace memscope::test {
namespace {

void append32(std::string& s, uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); }
void append64(std::string& s, uint64_t v) { s.append(reinterpret_cast<const char*>(&v), 8); }

void append_chunk_header(std::string& s, uint8_t type, size_t length) {
  s += static_cast<char>(type);
  s += static_cast<char>(length & 0xff);
  s += static_cast<char>((length >> 8) & 0xff);
  s += static_cast<char>((length >> 16) & 0xff);
}

}  // namespace

std::vector<AvmlBlockLayout> write_avml(PhysicalLayer& source, const std::string& path,
                                        const AvmlWriteOptions& options) {
  std::vector<Range> ranges;
  source.ranges([&](const Range& r) {
    ranges.push_back(r);
    return true;
  });
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("avml writer: cannot write " + path);
  std::vector<AvmlBlockLayout> layout;
  uint64_t position = 0;
  std::vector<uint8_t> bytes;
  std::string compressed(snappy_max_compressed_length(snappy_frames::kMaxData), '\0');
  for (const Range& r : ranges) {
    for (uint64_t start = r.start; start < r.end();) {
      const uint64_t size = std::min(options.block_size, r.end() - start);
      bytes.resize(size);
      IoResult got = source.read(start, bytes.data(), size);
      if (!got.ok()) throw std::runtime_error("avml writer: " + got.fault->message());
      const bool zero = std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
      if (zero && options.skip_zero_blocks) {
        start += size;
        continue;
      }
      AvmlBlockLayout block{start, size, position, position + avml::kHeaderSize, 0, {}};
      std::string record;
      append32(record, avml::kMagic);
      append32(record, avml::kVersion);
      append64(record, start);
      append64(record, start + size - 1);
      append64(record, 0);
      // The stream: identifier, then data chunks.
      append_chunk_header(record, snappy_frames::kStreamIdentifier, 6);
      record += "sNaPpY";
      for (uint64_t at = 0; at < size; at += snappy_frames::kMaxData) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(snappy_frames::kMaxData, size - at));
        const uint8_t* data = bytes.data() + at;
        size_t length = compressed.size();
        if (snappy_compress(reinterpret_cast<const char*>(data), n, compressed.data(), &length) != SNAPPY_OK)
          throw std::runtime_error("avml writer: snappy failed");
        const bool keep_compressed = length < n - n / 8;
        block.chunk_offsets.push_back(position + record.size());
        append_chunk_header(record, keep_compressed ? snappy_frames::kCompressed : snappy_frames::kUncompressed,
                            4 + (keep_compressed ? length : n));
        append32(record, snappy_masked_crc(crc32c(data, n)));
        if (keep_compressed)
          record.append(compressed.data(), length);
        else
          record.append(reinterpret_cast<const char*>(data), n);
      }
      block.stream_length = record.size() - avml::kHeaderSize;
      append64(record, block.stream_length);
      out.write(record.data(), static_cast<std::streamsize>(record.size()));
      position += record.size();
      layout.push_back(std::move(block));
      start += size;
    }
  }
  if (!out.good()) throw std::runtime_error("avml writer: write failed: " + path);
  return layout;
}

}  // namespace memscope::test
