#include "formats/avml/avml.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/layers/format_registry.h"
#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/util/progress.h"

namespace memscope {

using snappy_frames::Chunk;

namespace {

uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The smallest stream: its identifier chunk.
constexpr uint64_t kMinStream = snappy_frames::kHeaderSize + 6;

}  // namespace

bool AvmlLayer::probe(const MappedFile& file) {
  std::string_view head = file.bytes(0, 4);
  return !head.empty() && load32(reinterpret_cast<const uint8_t*>(head.data())) == avml::kMagic;
}

AvmlLayer::AvmlLayer(std::shared_ptr<const MappedFile> file, ChunkCache& cache)
    : file_(std::move(file)), cache_(cache), cache_id_(ChunkCache::new_layer_id()) {}

AvmlLayer::~AvmlLayer() { cache_.drop_layer(cache_id_); }

std::unique_ptr<AvmlLayer> AvmlLayer::open(std::shared_ptr<const MappedFile> file, ChunkCache& cache) {
  std::unique_ptr<AvmlLayer> layer(new AvmlLayer(std::move(file), cache));
  layer->parse();
  return layer;
}

std::string AvmlLayer::check_header(uint64_t offset, uint32_t* version, uint64_t* start, uint64_t* size) const {
  const uint64_t file_size = file_->size();
  if (offset > file_size || file_size - offset < avml::kHeaderSize)
    return "only " + std::to_string(file_size - std::min(offset, file_size)) + " bytes left, a header needs " +
           std::to_string(avml::kHeaderSize) + " (truncated?)";
  const uint8_t* h = file_->data() + offset;
  const uint32_t magic = load32(h);
  *version = load32(h + 4);
  *start = load64(h + 8);
  const uint64_t last = load64(h + 16);
  if (magic != avml::kMagic)
    return "field magic is " + hex(magic) + ", not " + hex(avml::kMagic) + " (\"AVML\")";
  if (*version != avml::kVersion)
    return "field version is " + std::to_string(*version) + ": AVML compressed blocks are version 2";
  if (load64(h + 24) != 0) return "field padding is " + hex(load64(h + 24)) + ", not 0";
  if (last < *start) return "field end " + hex(last) + " is below field start " + hex(*start);
  if (last - *start == ~uint64_t{0}) return "fields start and end span the whole 64-bit address space";
  *size = last - *start + 1;
  return "";
}

void AvmlLayer::parse() {
  uint32_t version = 0;
  uint64_t start = 0, size = 0;
  std::string problem = check_header(0, &version, &start, &size);
  if (!problem.empty()) throw FormatError(file_->path() + ": avml: header at file offset 0x0: " + problem);
  if (!walk_backward()) walk_forward();
  if (blocks_.empty()) throw FormatError(file_->path() + ": avml: no complete block in the file");
  // AVML writes blocks in address order; sort anyway, keeping each index with its block.
  std::vector<size_t> order(blocks_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return blocks_[a].start < blocks_[b].start; });
  std::vector<Block> blocks;
  std::vector<std::unique_ptr<ChunkIndex>> indexes;
  for (size_t i : order) {
    blocks.push_back(blocks_[i]);
    indexes.push_back(std::move(indexes_[i]));
  }
  blocks_ = std::move(blocks);
  indexes_ = std::move(indexes);
  for (size_t i = 1; i < blocks_.size(); ++i)
    if (blocks_[i].start < blocks_[i - 1].start + blocks_[i - 1].size)
      throw FormatError(file_->path() + ": avml: the block at file offset " + hex(blocks_[i].header_offset) +
                        " (physical " + hex(blocks_[i].start) + ") overlaps the one at file offset " +
                        hex(blocks_[i - 1].header_offset));
}

bool AvmlLayer::walk_backward() {
  const uint8_t* data = file_->data();
  uint64_t pos = file_->size();
  std::vector<Block> found;
  // Each turn moves back by at least a header, a stream and a trailer.
  while (pos > 0) {
    if (pos < avml::kHeaderSize + kMinStream + avml::kTrailerSize) return false;
    const uint64_t length = load64(data + pos - avml::kTrailerSize);
    if (length < kMinStream || length > pos - avml::kTrailerSize - avml::kHeaderSize) return false;
    const uint64_t header = pos - avml::kTrailerSize - length - avml::kHeaderSize;
    uint32_t version = 0;
    uint64_t start = 0, size = 0;
    if (!check_header(header, &version, &start, &size).empty()) return false;
    found.push_back(Block{start, size, size, header, header + avml::kHeaderSize, length});
    pos = header;
  }
  std::reverse(found.begin(), found.end());
  blocks_ = std::move(found);
  indexes_.clear();
  for (size_t i = 0; i < blocks_.size(); ++i) indexes_.push_back(std::make_unique<ChunkIndex>());
  walk_ = "backward";
  return true;
}

void AvmlLayer::walk_forward() {
  walk_ = "forward";
  blocks_.clear();
  indexes_.clear();
  const uint64_t file_size = file_->size();
  uint64_t pos = 0;
  // Each turn consumes a header at least.
  while (pos < file_size) {
    uint32_t version = 0;
    uint64_t start = 0, size = 0;
    std::string problem = check_header(pos, &version, &start, &size);
    if (!problem.empty()) {
      warnings_.push_back(file_->path() + ": avml: header at file offset " + hex(pos) + ": " + problem + "; the " +
                          std::to_string(blocks_.size()) + " blocks before it are read, nothing after it");
      break;
    }
    auto index = std::make_unique<ChunkIndex>();
    const uint64_t stream = pos + avml::kHeaderSize;
    const uint64_t length = index_stream(stream, 0, false, size, *index);
    std::call_once(index->once, [] {});  // indexed already
    uint64_t available = 0;
    for (const Chunk& c : index->chunks) available += c.data_size;
    available = std::min(available, size);
    Block block{start, size, available, pos, stream, length};
    const bool complete = index->problem.empty();
    if (!complete)
      warnings_.push_back(file_->path() + ": avml: block " + std::to_string(blocks_.size()) + " (physical " +
                          hex(start) + "-" + hex(start + size) + ") at file offset " + hex(pos) + ": " +
                          index->problem + "; its first " + std::to_string(available) + " of " +
                          std::to_string(size) + " bytes are read" +
                          (stream + length < file_size ? ", nothing after it" : ""));
    else if (!index->trailer.empty())
      warnings_.push_back(file_->path() + ": avml: block " + std::to_string(blocks_.size()) + " (physical " +
                          hex(start) + "-" + hex(start + size) + ") at file offset " + hex(pos) + ": " +
                          index->trailer + "; the stream's end was found by its size");
    blocks_.push_back(block);
    indexes_.push_back(std::move(index));
    if (!complete) break;
    pos = stream + length + avml::kTrailerSize;
  }
  if (warnings_.empty())
    warnings_.push_back(file_->path() + ": avml: the blocks' length trailers do not lead back to the start of the "
                                        "file; it was read forwards, chunk by chunk");
}

uint64_t AvmlLayer::index_stream(uint64_t offset, uint64_t stream_length, bool length_known, uint64_t block_size,
                                 ChunkIndex& index) const {
  const uint8_t* data = file_->data();
  const uint64_t file_size = file_->size();
  const uint64_t limit = length_known ? offset + stream_length : file_size;
  uint64_t pos = offset;
  uint64_t held = 0;
  bool first = true;
  std::string error;
  // Each turn consumes a 4-byte chunk header at least.
  while (pos < limit) {
    if (!length_known && pos - offset >= kMinStream && file_size - pos >= avml::kTrailerSize) {
      // The stream ends where its trailer (its own length) is followed by
      // the next header or the end of the file; or, once it holds all the
      // block's bytes, where the next header follows whatever the trailer says.
      const uint64_t next = pos + avml::kTrailerSize;
      const bool header_next =
          next == file_size ||
          (file_size - next >= 4 && (load32(data + next) == avml::kMagic || load32(data + next) == avml::kLimeMagic));
      const uint64_t trailer = load64(data + pos);
      if (header_next && (trailer == pos - offset || held == block_size)) {
        if (trailer != pos - offset)
          index.trailer = "its length trailer at file offset " + hex(pos) + " says " + std::to_string(trailer) +
                          " bytes, the stream holds " + std::to_string(pos - offset);
        else if (held < block_size)
          index.problem = "its stream holds " + std::to_string(held) + " bytes, the header says " +
                          std::to_string(block_size);
        return pos - offset;
      }
    }
    std::optional<snappy_frames::ChunkHeader> h = snappy_frames::read_chunk_header(data, limit, pos, error);
    if (!h) {
      index.problem = error;
      return pos - offset;
    }
    if (first && h->type != snappy_frames::kStreamIdentifier) {
      index.problem = "its Snappy stream at file offset " + hex(pos) + " does not start with the stream identifier";
      return pos - offset;
    }
    first = false;
    if (h->type == snappy_frames::kCompressed || h->type == snappy_frames::kUncompressed) {
      if (h->data_size > block_size - held) {
        index.problem = "its chunks hold more than the header's " + std::to_string(block_size) + " bytes (at file offset " +
                        hex(pos) + ")";
        return pos - offset;
      }
      index.chunks.push_back(Chunk{pos, h->length, h->type, h->data_size, held});
      held += h->data_size;
    }
    pos += snappy_frames::kHeaderSize + h->length;
  }
  if (!length_known)
    index.problem = "its stream runs to the end of the file without its length trailer (truncated acquisition?)";
  else if (held < block_size)
    index.problem = "its stream holds " + std::to_string(held) + " bytes, the header says " + std::to_string(block_size);
  return pos - offset;
}

const AvmlLayer::ChunkIndex& AvmlLayer::chunks(size_t b) const {
  ChunkIndex& index = *indexes_[b];
  std::call_once(index.once, [&] {
    const Block& block = blocks_[b];
    index_stream(block.stream_offset, block.stream_length, true, block.size, index);
  });
  return index;
}

size_t AvmlLayer::find_block(uint64_t address) const {
  size_t hint = last_block_.load(std::memory_order_relaxed);
  if (hint < blocks_.size() && address - blocks_[hint].start < blocks_[hint].available) return hint;
  auto it = std::upper_bound(blocks_.begin(), blocks_.end(), address,
                             [](uint64_t a, const Block& b) { return a < b.start; });
  size_t index = static_cast<size_t>(it - blocks_.begin());
  if (index > 0 && address - blocks_[index - 1].start < blocks_[index - 1].size) {
    last_block_.store(index - 1, std::memory_order_relaxed);
    return index - 1;
  }
  return index;
}

std::string AvmlLayer::block_where(size_t b) const {
  const Block& block = blocks_[b];
  return file_->path() + ": avml block " + std::to_string(b) + " (physical " + hex(block.start) + "-" +
         hex(block.start + block.size) + ") at file offset " + hex(block.header_offset);
}

std::optional<std::string> AvmlLayer::decode(size_t b, const Chunk& c, uint8_t* out) const {
  if (std::optional<std::string> error = snappy_frames::decode_chunk(file_->data(), c, out))
    return block_where(b) + ": Snappy chunk at file offset " + hex(c.file_offset) + ": " + *error;
  return std::nullopt;
}

std::optional<std::string> AvmlLayer::copy_out(size_t b, uint64_t offset, size_t n, uint8_t* out, bool use_cache) {
  const ChunkIndex& index = chunks(b);
  auto it = std::upper_bound(index.chunks.begin(), index.chunks.end(), offset,
                             [](uint64_t o, const Chunk& c) { return o < c.data_offset; });
  if (it == index.chunks.begin() || offset - std::prev(it)->data_offset >= std::prev(it)->data_size)
    return block_where(b) + ": no chunk holds block offset " + hex(offset) + ": " +
           (index.problem.empty() ? std::string("corrupt stream") : index.problem);
  const Chunk& c = *std::prev(it);
  const uint64_t in = offset - c.data_offset;
  const ChunkCache::Key key{cache_id_, c.file_offset};
  if (n == c.data_size) {
    if (use_cache)
      if (BlockRef cached = cache_.find(key)) {
        std::memcpy(out, cached->data(), n);
        return std::nullopt;
      }
    return decode(b, c, out);  // a sequential reader does not come back for it
  }
  if (!use_cache) {
    thread_local std::vector<uint8_t> scratch;
    scratch.resize(snappy_frames::kMaxData);
    if (std::optional<std::string> error = decode(b, c, scratch.data())) return error;
    std::memcpy(out, scratch.data() + in, n);
    return std::nullopt;
  }
  try {
    BlockRef block = cache_.get(key, [&]() -> BlockRef {
      auto fresh = std::make_shared<CachedBlock>(c.data_size);
      if (std::optional<std::string> error = decode(b, c, fresh->data())) throw FormatError(*error);
      return fresh;
    });
    std::memcpy(out, block->data() + in, n);
  } catch (const FormatError& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

size_t AvmlLayer::in_one_chunk(size_t b, uint64_t offset, size_t want) const {
  const ChunkIndex& index = chunks(b);
  auto it = std::upper_bound(index.chunks.begin(), index.chunks.end(), offset,
                             [](uint64_t o, const Chunk& c) { return o < c.data_offset; });
  size_t take = static_cast<size_t>(std::min<uint64_t>(want, blocks_[b].available - offset));
  if (it != index.chunks.begin()) {
    const Chunk& c = *std::prev(it);
    if (offset - c.data_offset < c.data_size) take = std::min<size_t>(take, c.data_offset + c.data_size - offset);
  }
  return take;
}

IoResult AvmlLayer::do_read(uint64_t address, void* buffer, size_t n, unsigned flags) {
  IoResult result;
  auto* out = static_cast<uint8_t*>(buffer);
  while (result.done < n) {
    const uint64_t at = address + result.done;
    const size_t want = n - result.done;
    const size_t b = find_block(at);
    if (b >= blocks_.size() || at - blocks_[b].start >= blocks_[b].available) {
      const bool in_block = b < blocks_.size() && at - blocks_[b].start < blocks_[b].size;
      if (!(flags & kReadPad)) {
        result.fault = Fault{at, format(),
                             in_block ? block_where(b) + ": the file ends before this part of the block (truncated)"
                                      : "physical address not in the image"};
        return result;
      }
      uint64_t gap = want;
      if (in_block) gap = std::min<uint64_t>(gap, blocks_[b].start + blocks_[b].size - at);
      else if (b < blocks_.size()) gap = std::min<uint64_t>(gap, blocks_[b].start - at);
      std::memset(out + result.done, 0, gap);
      result.done += gap;
      continue;
    }
    const uint64_t offset = at - blocks_[b].start;
    const size_t take = in_one_chunk(b, offset, want);
    if (std::optional<std::string> error = copy_out(b, offset, take, out + result.done, true)) {
      result.fault = Fault{at, format(), *error};
      return result;
    }
    result.done += take;
  }
  return result;
}

IoResult AvmlLayer::scan_read(uint64_t address, uint8_t* out, size_t n) {
  IoResult result;
  while (result.done < n) {
    const uint64_t at = address + result.done;
    const size_t want = n - result.done;
    const size_t b = find_block(at);
    if (b >= blocks_.size() || at - blocks_[b].start >= blocks_[b].available) {
      uint64_t gap = want;
      if (b < blocks_.size() && at - blocks_[b].start < blocks_[b].size)
        gap = std::min<uint64_t>(gap, blocks_[b].start + blocks_[b].size - at);
      else if (b < blocks_.size())
        gap = std::min<uint64_t>(gap, blocks_[b].start - at);
      std::memset(out + result.done, 0, gap);
      result.done += gap;
      continue;
    }
    const uint64_t offset = at - blocks_[b].start;
    const size_t take = in_one_chunk(b, offset, want);
    if (std::optional<std::string> error = copy_out(b, offset, take, out + result.done, false)) {
      // A corrupt chunk reads as zeros in a scan; the first fault is kept.
      std::memset(out + result.done, 0, take);
      if (!result.fault) result.fault = Fault{at, format(), *error};
    }
    result.done += take;
  }
  return result;
}

uint64_t AvmlLayer::limit() const {
  for (auto it = blocks_.rbegin(); it != blocks_.rend(); ++it)
    if (it->available) return it->start + it->available;
  return 0;
}

void AvmlLayer::ranges(const std::function<bool(const Range&)>& visit) const {
  Range pending{};
  bool have = false;
  for (const Block& b : blocks_) {
    if (!b.available) continue;
    if (have && pending.end() == b.start) {
      pending.size += b.available;
      continue;
    }
    if (have && !visit(pending)) return;
    pending = Range{b.start, b.available};
    have = true;
  }
  if (have) visit(pending);
}

LayerDescription AvmlLayer::describe() const {
  LayerDescription lines;
  uint64_t data = 0;
  for (const Block& b : blocks_) data += b.available;
  lines.emplace_back("avml blocks", std::to_string(blocks_.size()) + " (version 2: Snappy framed streams)");
  lines.emplace_back("block codec", "snappy (framing format, CRC-32C per 64 KiB chunk)");
  lines.emplace_back("block index", walk_ == "backward"
                                        ? "from the blocks' length trailers; chunks indexed on first read"
                                        : "walked forwards chunk by chunk (the trailers do not lead back to the start)");
  lines.emplace_back("data size", std::to_string(data) + " bytes");
  if (file_->size() > 0 && data > 0) {
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%.2f", double(data) / double(file_->size()));
    lines.emplace_back("compression ratio", std::string(ratio) + ":1");
  }
  lines.emplace_back("zero blocks", "not stored by AVML: they read as absent, like the holes between RAM ranges");
  lines.emplace_back("chunk cache", Progress::human_bytes(double(cache_.capacity())));
  for (size_t i = 0; i < warnings_.size(); ++i)
    lines.emplace_back(warnings_.size() == 1 ? "warning" : "warning " + std::to_string(i + 1), warnings_[i]);
  return lines;
}

MEMSCOPE_REGISTER(format_registry(), FormatHandler{
    .name = "avml",
    .description = "AVML compressed: LiME-like headers (magic AVML, version 2), Snappy framed blocks, zero blocks left out",
    .priority = 100,
    .probe = [](const MappedFile& file) { return AvmlLayer::probe(file); },
    .open = [](std::shared_ptr<const MappedFile> file) -> std::unique_ptr<PhysicalLayer> {
      return AvmlLayer::open(std::move(file));
    }});

}  // namespace memscope
