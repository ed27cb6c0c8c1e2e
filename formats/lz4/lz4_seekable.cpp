#include "formats/lz4/lz4_seekable.h"

#define LZ4F_STATIC_LINKING_ONLY
#include <lz4frame.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <thread>

#include "core/layers/source_warnings.h"
#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/util/printable.h"
#include "core/util/progress.h"
#include "formats/lz4/lz4_seekable_writer.h"
#include "core/layers/format_registry.h"

namespace memscope {
namespace {

using namespace lz4s;

// Smallest possible LZ4 frame: magic, FLG, BD, header checksum, end mark.
constexpr uint32_t kMinFrameSize = 4 + 3 + 4;

// Static zeros for peek() into all-zero chunks.
constexpr size_t kZeroPeek = 64 << 10;
alignas(64) const uint8_t kZeros[kZeroPeek] = {};

struct DctxDeleter {
  void operator()(LZ4F_dctx* d) const { LZ4F_freeDecompressionContext(d); }
};

LZ4F_dctx* thread_dctx() {
  thread_local std::unique_ptr<LZ4F_dctx, DctxDeleter> dctx;
  if (!dctx) {
    LZ4F_dctx* d = nullptr;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION))) throw Error("lz4: out of memory");
    dctx.reset(d);
  }
  return dctx.get();
}

}  // namespace

bool Lz4SeekableLayer::probe(const MappedFile& file) {
  std::string_view head = file.bytes(0, kSkippableHeaderSize + 8);
  if (head.empty()) return false;
  auto* p = reinterpret_cast<const uint8_t*>(head.data());
  return load_u32(p) == kMetadataFrameMagic && std::memcmp(p + 8, kMetadataMagic, 8) == 0;
}

Lz4SeekableLayer::Lz4SeekableLayer(std::shared_ptr<const MappedFile> file, ChunkCache& cache)
    : file_(std::move(file)), cache_(cache), cache_id_(ChunkCache::new_layer_id()) {}

Lz4SeekableLayer::~Lz4SeekableLayer() { cache_.drop_layer(cache_id_); }

std::unique_ptr<Lz4SeekableLayer> Lz4SeekableLayer::open(std::shared_ptr<const MappedFile> file, ChunkCache& cache) {
  std::unique_ptr<Lz4SeekableLayer> layer(new Lz4SeekableLayer(std::move(file), cache));
  layer->parse();
  return layer;
}

void Lz4SeekableLayer::parse() {
  const std::string& where = file_->path();
  const uint64_t size = file_->size();
  const uint8_t* data = file_->data();
  if (size < kSkippableHeaderSize + kMetadataFixedSize)
    throw FormatError(where + ": " + std::to_string(size) + " bytes is too small for a seekable LZ4 file (truncated?)");
  if (load_u32(data) != kMetadataFrameMagic)
    throw FormatError(where + ": file offset 0x0: not a seekable LZ4 file (no metadata frame)");

  // Metadata frame: without it nothing can be read.
  uint64_t meta_payload = load_u32(data + 4);
  if (meta_payload > size - kSkippableHeaderSize)
    throw FormatError(where + ": file offset 0x4: metadata frame of " + std::to_string(meta_payload) +
                      " bytes runs past the end of the file (truncated?)");
  meta_ = decode_metadata_payload(data + kSkippableHeaderSize, meta_payload, where);
  // A file converted from damaged evidence says so, first, as the source did.
  add_leading_warnings(repeat_source_warnings(where, meta_.source_name, meta_.source_warnings));
  const uint64_t first_frame = kSkippableHeaderSize + meta_payload;
  chunk_shift_ = static_cast<unsigned>(__builtin_ctzll(meta_.chunk_size));
  range_data_offset_.reserve(meta_.ranges.size());
  uint64_t offset = 0;
  for (const Range& r : meta_.ranges) {
    range_data_offset_.push_back(offset);
    offset += r.size;
  }

  // The seek table is written last: a file cut short has none, and a
  // damaged or lying one cannot be used. The chunks are then found by
  // walking their frames, which say their own sizes.
  try {
    read_seek_table(first_frame);
  } catch (const FormatError& e) {
    recover_from_frames(first_frame, e.what());
  }
  present_data_ = std::min<uint64_t>(meta_.data_size, uint64_t(entries_.size()) << chunk_shift_);

  zero_checked_ = std::make_unique<std::atomic<uint8_t>[]>(entries_.size());
  // Room for the edge chunks of a scan's requests in flight (two per
  // worker), whatever the machine: evicted ones are decompressed again.
  const size_t edges = std::max<size_t>(8, size_t{4} * std::thread::hardware_concurrency());
  scan_edges_ = std::make_unique<ChunkCache>(
      std::min<size_t>(size_t{64} << 20, edges * static_cast<size_t>(meta_.chunk_size)));
}

void Lz4SeekableLayer::read_seek_table(uint64_t first_frame) {
  const std::string& where = file_->path();
  const uint64_t size = file_->size();
  const uint8_t* data = file_->data();
  if (size - first_frame < kSkippableHeaderSize + kFooterSize)
    throw FormatError(where + ": the file ends at " + hex(size) + ", with no room for the seek table and footer");

  // Footer: the last 32 bytes.
  const uint64_t footer_offset = size - kFooterSize;
  Footer footer = decode_footer(data + footer_offset, where, footer_offset);
  if (footer.chunk_count != meta_.chunk_count)
    throw FormatError(where + ": footer at file offset " + hex(footer_offset) + " counts " +
                      std::to_string(footer.chunk_count) + " chunks, the metadata " +
                      std::to_string(meta_.chunk_count));
  if (footer.first_frame_offset != first_frame)
    throw FormatError(where + ": footer at file offset " + hex(footer_offset) + " puts the first frame at " +
                      hex(footer.first_frame_offset) + ", the metadata frame ends at " + hex(first_frame));

  // Seek table frame, found from the end.
  const uint64_t room = footer_offset - first_frame;  // bytes between metadata and footer
  if (footer.chunk_count > room / footer.entry_size)
    throw FormatError(where + ": footer at file offset " + hex(footer_offset) + ": " +
                      std::to_string(footer.chunk_count) + " seek table entries cannot fit in the file (truncated?)");
  const uint64_t entries_bytes = footer.chunk_count * footer.entry_size;
  const uint64_t payload = entries_bytes + kFooterSize;
  if (entries_bytes + kSkippableHeaderSize > room)
    throw FormatError(where + ": seek table of " + std::to_string(footer.chunk_count) +
                      " entries does not fit between the metadata and the footer (truncated?)");
  const uint64_t table_offset = size - kSkippableHeaderSize - payload;
  if (load_u32(data + table_offset) != kSeekTableFrameMagic || load_u32(data + table_offset + 4) != payload)
    throw FormatError(where + ": file offset " + hex(table_offset) +
                      ": no seek table frame header where the footer says it starts (corrupt or truncated file)");
  const uint8_t* table = data + table_offset + kSkippableHeaderSize;
  uint32_t crc = crc32(table, entries_bytes);
  if (crc != footer.entries_crc32)
    throw FormatError(where + ": seek table at file offset " + hex(table_offset) + ": CRC-32 " + hex(crc) +
                      " does not match the footer's " + hex(footer.entries_crc32));

  std::vector<SeekEntry> entries(footer.chunk_count);
  std::vector<uint64_t> frame_offsets(footer.chunk_count + 1);
  uint64_t at = first_frame;
  for (uint64_t i = 0; i < footer.chunk_count; ++i) {
    const uint8_t* e = table + i * footer.entry_size;
    SeekEntry& entry = entries[i];
    entry.compressed_size = load_u32(e);
    entry.checksum = load_u32(e + 4);
    entry.flags = load_u32(e + 8);
    frame_offsets[i] = at;
    if (entry.compressed_size < kMinFrameSize || entry.compressed_size > table_offset - at)
      throw FormatError(where + ": seek table entry " + std::to_string(i) + " gives chunk " + std::to_string(i) +
                        " at file offset " + hex(at) + " a frame of " + std::to_string(entry.compressed_size) +
                        " bytes, which does not fit before the seek table at " + hex(table_offset));
    at += entry.compressed_size;
  }
  frame_offsets[footer.chunk_count] = at;
  if (at != table_offset)
    throw FormatError(where + ": the chunks' frames end at file offset " + hex(at) + " but the seek table starts at " +
                      hex(table_offset));
  entries_ = std::move(entries);
  frame_offsets_ = std::move(frame_offsets);
  for (const SeekEntry& entry : entries_)
    if (entry.flags & kChunkAllZero) ++zero_chunks_;
}

namespace {

// The size of the LZ4 frame at `frame` (at most `room` bytes), from its
// header and its blocks' size fields, without decompressing; or a reason
// it is not a whole frame of the seekable format. Each turn of the walk
// consumes at least 4 bytes: bounded by `room`.
std::string frame_extent(const uint8_t* frame, uint64_t room, uint64_t* size) {
  if (room < 7) return "the file ends inside its LZ4 frame header";
  if (load_u32(frame) != kLz4FrameMagic) return "not an LZ4 frame (magic " + hex(load_u32(frame)) + ")";
  const uint8_t flg = frame[4], bd = frame[5];
  if ((flg >> 6) != 1 || !(flg & 0x04) || (flg & 0x01)) return "not a frame of this format (FLG " + hex(flg) + ")";
  const uint64_t block_max = uint64_t{1} << (8 + 2 * ((bd >> 4) & 7));
  uint64_t at = 7 + ((flg & 0x08) ? 8 : 0);
  const uint64_t block_checksum = (flg & 0x10) ? 4 : 0;
  for (;;) {
    if (at > room || room - at < 4) return "the file ends inside its LZ4 frame";
    const uint32_t field = load_u32(frame + at);
    at += 4;
    if (field == 0) break;
    const uint64_t length = field & 0x7fffffffu;
    if (length > block_max) return "a block size field of " + std::to_string(length) + " bytes (corrupt)";
    if (room - at < length + block_checksum) return "the file ends inside its LZ4 frame";
    at += length + block_checksum;
  }
  if (room - at < 4) return "the file ends before its LZ4 frame's checksum";
  *size = at + 4;
  if (*size > 0xffffffffu) return "an LZ4 frame over 4 GiB";
  return "";
}

}  // namespace

void Lz4SeekableLayer::recover_from_frames(uint64_t first_frame, const std::string& why) {
  const std::string& where = file_->path();
  const uint64_t size = file_->size();
  const uint8_t* data = file_->data();
  entries_.clear();
  frame_offsets_.clear();
  zero_chunks_ = 0;
  const std::string zero_frame = lz4_seekable_zero_frame(meta_.chunk_size);
  uint64_t at = first_frame;
  std::string stopped;
  for (uint64_t i = 0; i < meta_.chunk_count; ++i) {
    uint64_t frame_size = 0;
    std::string problem = at < size ? frame_extent(data + at, size - at, &frame_size) : "the file ends before it";
    if (!problem.empty()) {
      stopped = "chunk " + std::to_string(i) + " at file offset " + hex(at) + ": " + problem;
      break;
    }
    SeekEntry entry;
    entry.compressed_size = static_cast<uint32_t>(frame_size);
    entry.checksum = load_u32(data + at + frame_size - 4);  // the frame's XXH32 of its content
    const uint64_t length = chunk_length(i);
    const std::string own_zero = length == meta_.chunk_size ? std::string() : lz4_seekable_zero_frame(length);
    const std::string& zero = length == meta_.chunk_size ? zero_frame : own_zero;
    if (zero.size() == frame_size && std::memcmp(zero.data(), data + at, frame_size) == 0) {
      entry.flags = kChunkAllZero;
      ++zero_chunks_;
    }
    entries_.push_back(entry);
    frame_offsets_.push_back(at);
    at += frame_size;
  }
  frame_offsets_.push_back(at);
  const uint64_t present = entries_.size();
  if (present == meta_.chunk_count) {
    add_warning(where + ": the seek table cannot be used (" + why + "); the " + std::to_string(present) +
                " chunks were found by walking their frames, all of them present");
    return;
  }
  if (present == 0)
    throw FormatError(where + ": truncated or damaged: " + stopped + ", before any chunk (" + why + ")");
  // The physical memory of the data stream the file no longer holds.
  const uint64_t held = std::min<uint64_t>(meta_.data_size, present << chunk_shift_);
  std::string lost;
  uint64_t lost_bytes = 0, listed = 0, more = 0;
  for (size_t r = 0; r < meta_.ranges.size(); ++r) {
    const Range& range = meta_.ranges[r];
    const uint64_t from = std::max(held, range_data_offset_[r]), to = range_data_offset_[r] + range.size;
    if (from >= to) continue;
    lost_bytes += to - from;
    if (listed++ < 8)
      lost += (lost.empty() ? "" : ", ") + hex(physical_of(r, from)) + "-" + hex(range.end());
    else
      ++more;
  }
  if (more) lost += " and " + std::to_string(more) + " more";
  add_warning(where + ": truncated: " + stopped + "; " + std::to_string(present) + " of " +
              std::to_string(meta_.chunk_count) + " chunks are in the file (found by walking their frames; the seek "
              "table cannot be used: " + why + "); physical memory not in the file: " + lost + " (" +
              std::to_string(lost_bytes) + " bytes); reads there fail, results may be incomplete");
}

std::string Lz4SeekableLayer::chunk_where(uint64_t index) const {
  return file_->path() + ": chunk " + std::to_string(index) + " at file offset " + hex(frame_offsets_[index]);
}

void Lz4SeekableLayer::decompress_chunk(uint64_t index, uint8_t* out) const {
  if (index >= entries_.size()) throw FormatError(missing_chunk(index));
  decompress_frame(index, file_->data() + frame_offsets_[index], out);
}

namespace {

// A thread's buffer for frames read with pread (a frame is at most a
// chunk's bound, 64 MiB + a little, for the largest chunk size).
uint8_t* frame_buffer(size_t size) {
  thread_local std::unique_ptr<uint8_t[]> buffer;
  thread_local size_t capacity = 0;
  if (capacity < size) {
    buffer = std::make_unique_for_overwrite<uint8_t[]>(size);
    capacity = size;
  }
  return buffer.get();
}

}  // namespace

void Lz4SeekableLayer::decompress_chunk_unmapped(uint64_t index, uint8_t* out) const {
  if (index >= entries_.size()) throw FormatError(missing_chunk(index));
  const size_t size = entries_[index].compressed_size;
  uint8_t* frame = frame_buffer(size);
  if (file_->pread(frame_offsets_[index], frame, size) != size)
    throw FormatError(chunk_where(index) + ": cannot read its " + std::to_string(size) + "-byte frame");
  decompress_frame(index, frame, out);
}

std::string Lz4SeekableLayer::missing_chunk(uint64_t index) const {
  return "not in the file: chunk " + std::to_string(index) + " of " + std::to_string(meta_.chunk_count) + " lies past " +
         "the end of the truncated file " + file_->path() + " (only " + std::to_string(entries_.size()) +
         " chunks are there)";
}

void Lz4SeekableLayer::decompress_frame(uint64_t index, const uint8_t* frame, uint8_t* out) const {
  const SeekEntry& entry = entries_[index];
  const size_t frame_size = entry.compressed_size;
  const size_t length = chunk_length(index);
  if (load_u32(frame) != kLz4FrameMagic)
    throw FormatError(chunk_where(index) + ": not an LZ4 frame (magic " + hex(load_u32(frame)) + ")");
  // FLG bit 2: content checksum. The seek table's checksum is that XXH32,
  // so a frame without it cannot be verified.
  if (!(frame[4] & 0x04))
    throw FormatError(chunk_where(index) + ": LZ4 frame has no content checksum (required by lz4-seekable)");
  LZ4F_dctx* dctx = thread_dctx();
  LZ4F_resetDecompressionContext(dctx);
  size_t src_size = frame_size;
  size_t dst_size = length;
  size_t hint = LZ4F_decompress(dctx, out, &dst_size, frame, &src_size, nullptr);
  if (LZ4F_isError(hint))
    throw FormatError(chunk_where(index) + ": corrupt LZ4 frame: " + LZ4F_getErrorName(hint) +
                      (LZ4F_getErrorCode(hint) == LZ4F_ERROR_contentChecksum_invalid
                           ? " (the decompressed data does not match its checksum)"
                           : ""));
  if (hint != 0 || src_size != frame_size || dst_size != length)
    throw FormatError(chunk_where(index) + ": LZ4 frame of " + std::to_string(frame_size) + " bytes decompresses to " +
                      (hint != 0 ? "more than " + std::to_string(dst_size) : std::to_string(dst_size)) +
                      " bytes, the chunk holds " + std::to_string(length) +
                      (src_size != frame_size ? " (the frame ends early)" : ""));
  uint32_t stored = load_u32(frame + frame_size - 4);
  if (stored != entry.checksum)
    throw FormatError(chunk_where(index) + ": checksum mismatch: the data's XXH32 is " + hex(stored) +
                      " but the seek table records " + hex(entry.checksum));
}

BlockRef Lz4SeekableLayer::chunk(uint64_t index) {
  if (index >= meta_.chunk_count) throw Error(file_->path() + ": chunk " + std::to_string(index) + " out of range");
  if (index >= entries_.size()) throw FormatError(missing_chunk(index));
  return cache_.get(ChunkCache::Key{cache_id_, index}, [&]() -> BlockRef {
    auto block = std::make_shared<CachedBlock>(chunk_length(index));
    decompress_chunk(index, block->data());
    return block;
  });
}

bool Lz4SeekableLayer::zero_chunk_known(uint64_t index) const {
  if (zero_checked_[index].load(std::memory_order_acquire)) return true;
  const SeekEntry& entry = entries_[index];
  std::string canonical = lz4_seekable_zero_frame(chunk_length(index));
  if (canonical.size() != entry.compressed_size) return false;
  // Asked for every chunk of a scan: read with pread, so that the frames
  // compared do not become resident (16 GiB of zero chunks are 64 MiB of
  // frames).
  uint8_t* frame = frame_buffer(canonical.size());
  if (file_->pread(frame_offsets_[index], frame, canonical.size()) != canonical.size() ||
      std::memcmp(canonical.data(), frame, canonical.size()) != 0)
    return false;
  zero_checked_[index].store(1, std::memory_order_release);
  return true;
}

void Lz4SeekableLayer::check_zero_chunk(uint64_t index) {
  if (zero_checked_[index].load(std::memory_order_acquire)) return;
  // The flag must not hide data that `lz4 -d` would show: accept the chunk
  // if its frame is the canonical zero frame, or decompresses to zeros.
  const SeekEntry& entry = entries_[index];
  const size_t length = chunk_length(index);
  std::string canonical = lz4_seekable_zero_frame(length);
  bool same = canonical.size() == entry.compressed_size &&
              std::memcmp(canonical.data(), file_->data() + frame_offsets_[index], canonical.size()) == 0;
  if (!same) {
    auto bytes = std::make_unique_for_overwrite<uint8_t[]>(length);
    decompress_chunk(index, bytes.get());
    for (size_t i = 0; i < length; ++i)
      if (bytes[i])
        throw FormatError(chunk_where(index) + ": flagged all-zero but holds a non-zero byte at chunk offset " +
                          hex(i));
  }
  zero_checked_[index].store(1, std::memory_order_release);
}

size_t Lz4SeekableLayer::find_range(uint64_t address) const {
  const auto& ranges = meta_.ranges;
  size_t hint = last_range_.load(std::memory_order_relaxed);
  if (hint < ranges.size() && ranges[hint].contains(address)) return hint;
  auto it = std::upper_bound(ranges.begin(), ranges.end(), address,
                             [](uint64_t a, const Range& r) { return a < r.start; });
  size_t index = static_cast<size_t>(it - ranges.begin());
  if (index > 0 && ranges[index - 1].contains(address)) {
    last_range_.store(index - 1, std::memory_order_relaxed);
    return index - 1;
  }
  return index;
}

IoResult Lz4SeekableLayer::do_read(uint64_t address, void* buffer, size_t n, unsigned flags) {
  IoResult result;
  auto* out = static_cast<uint8_t*>(buffer);
  const auto& ranges = meta_.ranges;
  while (result.done < n) {
    const uint64_t at = address + result.done;
    const size_t want = n - result.done;
    const size_t r = find_range(at);
    if (r >= ranges.size() || !ranges[r].contains(at)) {
      uint64_t gap = want;
      if (r < ranges.size()) gap = std::min<uint64_t>(gap, ranges[r].start - at);
      if (!(flags & kReadPad)) {
        result.fault = Fault{at, format(), "physical address not in the image"};
        return result;
      }
      std::memset(out + result.done, 0, gap);
      result.done += gap;
      continue;
    }
    const Range& range = ranges[r];
    const uint64_t data_offset = range_data_offset_[r] + (at - range.start);
    const uint64_t index = data_offset >> chunk_shift_;
    const uint64_t inside = data_offset & (meta_.chunk_size - 1);
    size_t take =
        static_cast<size_t>(std::min<uint64_t>({want, range.size - (at - range.start), chunk_length(index) - inside}));
    if (index >= entries_.size()) {
      result.fault = Fault{at, format(), missing_chunk(index)};
      return result;
    }
    try {
      if (entries_[index].flags & kChunkAllZero) {
        check_zero_chunk(index);
        std::memset(out + result.done, 0, take);
      } else {
        BlockRef block = chunk(index);
        std::memcpy(out + result.done, block->data() + inside, take);
      }
    } catch (const FormatError& e) {
      result.fault = Fault{at, format(), e.what()};
      return result;
    }
    result.done += take;
  }
  return result;
}

uint64_t Lz4SeekableLayer::limit() const {
  uint64_t end = 0;
  ranges([&](const Range& r) {
    end = r.end();
    return true;
  });
  return end;
}

void Lz4SeekableLayer::ranges(const std::function<bool(const Range&)>& visit) const {
  // Stored ranges are disjoint and sorted; merge the adjacent ones. Of a
  // truncated file, only what its chunks hold.
  Range pending{};
  bool have = false;
  for (size_t i = 0; i < meta_.ranges.size(); ++i) {
    if (range_data_offset_[i] >= present_data_) break;
    Range r = meta_.ranges[i];
    r.size = std::min(r.size, present_data_ - range_data_offset_[i]);
    if (have && pending.end() == r.start) {
      pending.size += r.size;
      continue;
    }
    if (have && !visit(pending)) return;
    pending = r;
    have = true;
  }
  if (have) visit(pending);
}

void Lz4SeekableLayer::extents(uint64_t begin, uint64_t end,
                               const std::function<bool(const PhysicalExtent&)>& visit) const {
  const auto& ranges = meta_.ranges;
  std::optional<PhysicalExtent> zeros;  // a run of zero chunks, merged
  auto flush = [&]() {
    bool go_on = !zeros || visit(*zeros);
    zeros.reset();
    return go_on;
  };
  for (size_t r = find_range(begin); r < ranges.size() && ranges[r].start < end; ++r) {
    const uint64_t from = std::max(begin, ranges[r].start), to = std::min(end, ranges[r].end());
    if (from >= to) continue;
    uint64_t offset = range_data_offset_[r] + (from - ranges[r].start);
    const uint64_t stop = std::min(present_data_, range_data_offset_[r] + (to - ranges[r].start));
    while (offset < stop) {
      const uint64_t index = offset >> chunk_shift_;
      const uint64_t piece_end = std::min(stop, (index << chunk_shift_) + chunk_length(index));
      PhysicalExtent e{physical_of(r, offset), piece_end - offset, ExtentKind::kStored, PhysicalExtent::kNoFileOffset};
      if ((entries_[index].flags & kChunkAllZero) && zero_chunk_known(index)) {
        e.kind = ExtentKind::kZero;
        if (zeros && zeros->end() == e.start) {
          zeros->size += e.size;
        } else {
          if (!flush()) return;
          zeros = e;
        }
      } else if (!flush() || !visit(e)) {
        return;
      }
      offset = piece_end;
    }
  }
  flush();
}

IoResult Lz4SeekableLayer::scan_read(uint64_t address, uint8_t* out, size_t n) {
  IoResult result;
  const auto& ranges = meta_.ranges;
  while (result.done < n) {
    const uint64_t at = address + result.done;
    const size_t want = n - result.done;
    const size_t r = find_range(at);
    if (r >= ranges.size() || !ranges[r].contains(at)) {
      uint64_t gap = want;
      if (r < ranges.size()) gap = std::min<uint64_t>(gap, ranges[r].start - at);
      std::memset(out + result.done, 0, gap);
      result.done += gap;
      continue;
    }
    const Range& range = ranges[r];
    const uint64_t data_offset = range_data_offset_[r] + (at - range.start);
    const uint64_t index = data_offset >> chunk_shift_;
    const uint64_t inside = data_offset & (meta_.chunk_size - 1);
    const size_t length = chunk_length(index);
    const size_t take = static_cast<size_t>(std::min<uint64_t>({want, range.size - (at - range.start), length - inside}));
    uint8_t* to = out + result.done;
    try {
      if (index >= entries_.size()) {
        throw FormatError(missing_chunk(index));
      } else if (entries_[index].flags & kChunkAllZero) {
        check_zero_chunk(index);
        std::memset(to, 0, take);
      } else if (take == length && result.done != 0) {
        decompress_chunk_unmapped(index, to);  // a whole chunk inside the request: straight into place
      } else {
        // An edge chunk: the first one of the request (the previous
        // request's lookahead may have needed it), or one cut short.
        if (!scan_edges_) throw Error("lz4-seekable: scan cache missing");
        BlockRef block = scan_edges_->get(ChunkCache::Key{cache_id_, index}, [&]() -> BlockRef {
          auto fresh = std::make_shared<CachedBlock>(length);
          decompress_chunk_unmapped(index, fresh->data());
          return fresh;
        });
        std::memcpy(to, block->data() + inside, take);
      }
    } catch (const Error& e) {
      // A corrupt chunk reads as zeros in a scan; the first fault is kept
      // and the rest of the request still read.
      std::memset(to, 0, take);
      if (!result.fault) result.fault = Fault{at, format(), e.what()};
    }
    result.done += take;
  }
  return result;
}

const uint8_t* Lz4SeekableLayer::peek(uint64_t address, size_t n) {
  if (n == 0 || n > kZeroPeek) return nullptr;
  size_t r = find_range(address);
  if (r >= meta_.ranges.size() || !meta_.ranges[r].contains(address)) return nullptr;
  const Range& range = meta_.ranges[r];
  if (n > range.size - (address - range.start)) return nullptr;
  uint64_t data_offset = range_data_offset_[r] + (address - range.start);
  uint64_t index = data_offset >> chunk_shift_;
  uint64_t inside = data_offset & (meta_.chunk_size - 1);
  if (index >= entries_.size() || n > chunk_length(index) - inside || !(entries_[index].flags & kChunkAllZero))
    return nullptr;
  try {
    check_zero_chunk(index);
  } catch (const FormatError&) {
    return nullptr;  // the read that follows reports it
  }
  return kZeros;
}

LayerDescription Lz4SeekableLayer::describe() const {
  LayerDescription lines;
  lines.emplace_back("lz4-seekable version",
                     std::to_string(meta_.version_major) + "." + std::to_string(meta_.version_minor));
  lines.emplace_back("chunk size", std::to_string(meta_.chunk_size) + " bytes");
  lines.emplace_back("chunks", std::to_string(meta_.chunk_count) + " (" + std::to_string(zero_chunks_) + " all-zero)" +
                                    (entries_.size() < meta_.chunk_count
                                         ? "; " + std::to_string(entries_.size()) + " in the truncated file"
                                         : ""));
  lines.emplace_back("data size", std::to_string(meta_.data_size) + " bytes in " +
                                      std::to_string(meta_.ranges.size()) + " range(s)");
  if (file_->size() > 0 && meta_.data_size > 0) {
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%.2f", double(meta_.data_size) / double(file_->size()));
    lines.emplace_back("compression ratio", std::string(ratio) + ":1");
  }
  // Strings from the file's metadata: untrusted, shown printable.
  lines.emplace_back("source format", printable_text(meta_.source_format, SourceWarningLimits::kMaxNameBytes));
  lines.emplace_back("source file", printable_text(meta_.source_name, SourceWarningLimits::kMaxNameBytes));
  lines.emplace_back("source size", std::to_string(meta_.source_size) + " bytes");
  lines.emplace_back("source sha256", meta_.source_sha256 ? Sha256::to_hex(*meta_.source_sha256) : "(not recorded)");
  lines.emplace_back("data sha256", meta_.data_sha256 ? Sha256::to_hex(*meta_.data_sha256) : "(not recorded)");
  lines.emplace_back("created", printable_text(meta_.created, SourceWarningLimits::kMaxNameBytes));
  lines.emplace_back("created by", printable_text(meta_.tool, SourceWarningLimits::kMaxNameBytes));
  lines.emplace_back("chunk cache", Progress::human_bytes(double(cache_.capacity())));
  return lines;
}

MEMSCOPE_REGISTER(format_registry(), FormatHandler{
    .name = "lz4-seekable",
    .description = "memscope seekable LZ4: independent LZ4 frames per chunk, metadata and seek table frames",
    .priority = 100,
    .probe = [](const MappedFile& file) { return Lz4SeekableLayer::probe(file); },
    .open = [](std::shared_ptr<const MappedFile> file) -> std::unique_ptr<PhysicalLayer> {
      return Lz4SeekableLayer::open(std::move(file));
    }});

}  // namespace memscope
