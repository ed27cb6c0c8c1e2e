#include "formats/lz4/lz4_frame.h"

#define LZ4F_STATIC_LINKING_ONLY
#include <lz4.h>
#include <lz4frame.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/layers/index_cache.h"
#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/util/progress.h"
#include "formats/lz4/lz4_seekable_format.h"
#include "core/layers/format_registry.h"

namespace memscope {
namespace {

using lz4s::load_u32;
using lz4s::load_u64;
using lz4s::store_u32;
using lz4s::store_u64;

constexpr uint32_t kFrameMagic = 0x184D2204;
constexpr uint32_t kLegacyMagic = 0x184C2102;
constexpr uint32_t kSkippableMask = 0xFFFFFFF0;
constexpr uint32_t kSkippableMagic = 0x184D2A50;
constexpr uint32_t kUncompressedBit = 0x80000000u;
constexpr size_t kDictionarySize = 64 << 10;
// Linked-block frames keep a dictionary every this many output bytes: a cold
// random read decodes at most this much.
constexpr uint64_t kCheckpointSpacing = 64ull << 20;
constexpr char kIndexMagic[8] = {'M', 'S', 'L', 'Z', '4', 'F', 'I', 'X'};
// 2: blocks carry flags (corrupt), and the index keeps the warnings.
constexpr uint32_t kIndexVersion = 2;
// Corrupt blocks a warning names; the rest are counted.
constexpr size_t kDamageNamed = 8;
// An index entry of a block: file offset, size field, decompressed size,
// frame, checkpoint, flags, reserved.
constexpr uint64_t kIndexBlockBytes = 32;

uint32_t block_max_for(uint8_t bd) {
  switch ((bd >> 4) & 7) {
    case 4: return 64u << 10;
    case 5: return 256u << 10;
    case 6: return 1u << 20;
    case 7: return 4u << 20;
    default: return 0;
  }
}

std::string compress_dictionary(const std::string& dict) {
  std::string out(sizeof(uint32_t) + static_cast<size_t>(LZ4_compressBound(static_cast<int>(dict.size()))), '\0');
  store_u32(reinterpret_cast<uint8_t*>(out.data()), static_cast<uint32_t>(dict.size()));
  int n = LZ4_compress_default(dict.data(), out.data() + 4, static_cast<int>(dict.size()),
                               static_cast<int>(out.size() - 4));
  if (n <= 0) throw Error("lz4: cannot compress a dictionary");
  out.resize(4 + static_cast<size_t>(n));
  return out;
}

// Empty string on a malformed dictionary (the index is then rebuilt or the
// read fails).
bool decompress_dictionary(const std::string& stored, std::string& dict) {
  if (stored.size() < 4) return false;
  uint32_t size = load_u32(reinterpret_cast<const uint8_t*>(stored.data()));
  if (size > kDictionarySize) return false;
  dict.resize(size);
  int n = LZ4_decompress_safe(stored.data() + 4, dict.data(), static_cast<int>(stored.size() - 4),
                              static_cast<int>(size));
  return n == static_cast<int>(size);
}

}  // namespace

bool Lz4FrameLayer::probe(const MappedFile& file) {
  std::string_view head = file.bytes(0, 4);
  if (head.empty()) return false;
  uint32_t magic = load_u32(reinterpret_cast<const uint8_t*>(head.data()));
  if (magic == kFrameMagic || magic == kLegacyMagic) return true;
  if ((magic & kSkippableMask) != kSkippableMagic || magic == lz4s::kMetadataFrameMagic) return false;
  // A leading skippable frame: an LZ4 file if an LZ4 frame follows it.
  std::string_view size = file.bytes(4, 4);
  if (size.empty()) return false;
  uint64_t next = 8 + uint64_t(load_u32(reinterpret_cast<const uint8_t*>(size.data())));
  std::string_view after = file.bytes(next, 4);
  return !after.empty() && load_u32(reinterpret_cast<const uint8_t*>(after.data())) == kFrameMagic;
}

Lz4FrameLayer::Lz4FrameLayer(std::shared_ptr<const MappedFile> file, ChunkCache& cache)
    : file_(std::move(file)), cache_(cache), cache_id_(ChunkCache::new_layer_id()) {}

Lz4FrameLayer::~Lz4FrameLayer() { cache_.drop_layer(cache_id_); }

std::string Lz4FrameLayer::where(uint64_t offset) const { return file_->path() + ": file offset " + hex(offset); }

std::unique_ptr<Lz4FrameLayer> Lz4FrameLayer::open(std::shared_ptr<const MappedFile> file,
                                                   const OpenOptions& options) {
  ChunkCache& cache = options.cache ? *options.cache : ChunkCache::shared();
  std::unique_ptr<Lz4FrameLayer> layer(new Lz4FrameLayer(file, cache));
  if (load_u32(file->data()) == kLegacyMagic)
    throw FormatError(file->path() + ": legacy LZ4 format (lz4 -l) has no block sizes to seek by; decompress it "
                                     "with `lz4 -d` or recompress with `memscope convert`");

  const IndexCache index_cache(*file, options.use_index_cache, options.index_dir, "lz4-index");
  layer->index_path_ = index_cache.path();
  if (index_cache.usable() && layer->load_index(layer->index_path_)) {
    layer->index_origin_ = "cached";
  } else {
    layer->build_index();
    layer->index_origin_ = "built";
    if (!index_cache.store(layer->serialize_index())) layer->index_path_.clear();
  }

  // A compressed LiME or ELF file is not a raw image: say so rather than
  // analyse container headers as memory.
  uint8_t head[4] = {};
  if (layer->data_size_ >= 4 && layer->read(0, head, 4).ok()) {
    if (load_u32(head) == 0x4C694D45)
      throw FormatError(file->path() + ": holds a compressed LiME image; run `lz4 -d` on it, then "
                                       "`memscope convert` to get a seekable image");
    if (std::memcmp(head, "\x7f" "ELF", 4) == 0)
      throw FormatError(file->path() + ": holds a compressed ELF core; run `lz4 -d` on it, then "
                                       "`memscope convert` to get a seekable image");
  }
  return layer;
}

// One pass over the file: every frame header parsed, every block located
// by its size field and decoded once (to learn its size and check it).
// Damage costs only what it touches: a block that does not decode (or whose
// checksum fails) stays in the index as a corrupt block, of the size every
// block but a frame's last has, so that the blocks after it keep their
// addresses, and reads inside it fail naming it; in a linked frame the
// blocks after it, which decode through it, are lost with it. A file cut
// short keeps every whole block before the cut. Each is one warning.
void Lz4FrameLayer::build_index() {
  const uint8_t* data = file_->data();
  const uint64_t size = file_->size();
  std::unique_ptr<Progress> progress;
  if (size >= (64ull << 20))
    progress = std::make_unique<Progress>("indexing " + std::filesystem::path(file_->path()).filename().string(), size);
  std::vector<uint8_t> out;
  std::string window;  // the last 64 KiB of the current frame's output (linked frames)
  std::vector<std::string> damage;  // one line per corrupt block, the first few
  uint64_t damaged_blocks = 0;
  uint64_t offset = 0;
  uint64_t since_checkpoint = 0;
  uint64_t decompressed_total = 0;
  // Ends the walk early: with blocks indexed, a warning; without, an error.
  auto stop = [&](const std::string& why) {
    if (blocks_.empty()) throw FormatError(why);
    cut_short_ = true;
    warnings_.push_back(why + "; the " + std::to_string(blocks_.size()) + " block(s) before it (image bytes 0x0-" +
                        hex(decompressed_total) + ") are read: any memory past " + hex(decompressed_total) +
                        " is not in the file");
  };

  constexpr size_t kMaxTinyBlocks = 1 << 20;
  bool stopped = false;
  while (offset < size && !stopped) {
    if (progress) progress->set_done(offset);
    if (size - offset < 4) {
      stop(where(offset) + ": " + std::to_string(size - offset) + " stray bytes after the last frame (truncated?)");
      break;
    }
    const uint32_t magic = load_u32(data + offset);
    if ((magic & kSkippableMask) == kSkippableMagic) {
      if (size - offset < 8) {
        stop(where(offset) + ": truncated skippable frame");
        break;
      }
      const uint64_t skip = 8 + uint64_t(load_u32(data + offset + 4));
      if (skip > size - offset) {
        stop(where(offset) + ": skippable frame runs past the end of the file (truncated?)");
        break;
      }
      offset += skip;
      continue;
    }
    if (magic == kLegacyMagic) throw FormatError(where(offset) + ": legacy LZ4 frame inside the file is not supported");
    if (magic != kFrameMagic) {
      stop(where(offset) + ": not an LZ4 frame (magic " + hex(magic) + "); trailing garbage or corruption");
      break;
    }
    if (size - offset < 7) {
      stop(where(offset) + ": truncated LZ4 frame header");
      break;
    }
    const uint8_t flg = data[offset + 4];
    const uint8_t bd = data[offset + 5];
    if ((flg >> 6) != 1 || (flg & 0x02) || (bd & 0x8f) || block_max_for(bd) == 0) {
      stop(where(offset) + ": unsupported or corrupt LZ4 frame header (FLG " + hex(flg) + ", BD " + hex(bd) + ")");
      break;
    }
    if (flg & 0x01)
      throw FormatError(where(offset) + ": LZ4 frame needs an external dictionary (dictID); not supported");
    const bool block_checksum = flg & 0x10;
    const bool content_checksum = flg & 0x04;
    const bool has_content_size = flg & 0x08;
    const uint64_t header_size = 7 + (has_content_size ? 8 : 0);
    if (size - offset < header_size) {
      stop(where(offset) + ": truncated LZ4 frame header");
      break;
    }
    // The header checksum: the second byte of XXH32 of the descriptor.
    const uint8_t header_check = data[offset + header_size - 1];
    if (((XXH32(data + offset + 4, static_cast<size_t>(header_size - 5), 0) >> 8) & 0xff) != header_check) {
      stop(where(offset) + ": LZ4 frame header checksum does not match (corrupt header)");
      break;
    }
    Frame frame;
    frame.file_offset = offset;
    frame.linked = !(flg & 0x20);
    frame.block_max = block_max_for(bd);
    frame.first_block = blocks_.size();
    // The frame's decompressed size, when it says (0: it does not).
    const uint64_t content_size = has_content_size ? load_u64(data + offset + 6) : 0;
    if (frames_.size() >= 0xfffffffe) throw FormatError(where(offset) + ": too many frames");
    const uint32_t frame_index = static_cast<uint32_t>(frames_.size());
    frames_.push_back(frame);
    out.resize(frame.block_max);
    window.clear();
    since_checkpoint = 0;
    offset += header_size;
    XXH32_state_t* content = XXH32_createState();
    if (!content) throw Error("lz4: out of memory");
    std::unique_ptr<XXH32_state_t, XXH_errorcode (*)(XXH32_state_t*)> content_owner(content, XXH32_freeState);
    XXH32_reset(content, 0);
    uint64_t frame_produced = 0;
    std::optional<uint64_t> broken_since;  // linked frames: the corrupt block the rest decodes through

    for (;;) {
      if (size - offset < 4) {
        stop(where(offset) + ": LZ4 frame ends without its end mark: the file is cut short (truncated)");
        stopped = true;
        break;
      }
      const uint32_t field = load_u32(data + offset);
      if (field == 0) {  // end mark, then the content checksum
        const uint64_t end = offset + 4 + (content_checksum ? 4 : 0);
        if (end > size) {
          stop(where(offset) + ": truncated LZ4 frame checksum");
          stopped = true;
          break;
        }
        if (content_checksum && !broken_since && damaged_blocks == 0 &&
            XXH32_digest(content) != load_u32(data + offset + 4))
          warnings_.push_back(where(frame.file_offset) +
                              ": the LZ4 frame's content checksum does not match its decoded data: a block decodes "
                              "to wrong bytes (which one, the frame does not say: it has no block checksums)");
        offset = end;
        break;
      }
      const uint32_t length = field & ~kUncompressedBit;
      if (length > frame.block_max) {
        // A damaged size field: where the next block starts is lost.
        stop(where(offset) + ": LZ4 block of " + std::to_string(length) + " bytes exceeds the frame's " +
             std::to_string(frame.block_max) + "-byte maximum (a corrupt size field: the blocks after it cannot be "
             "located)");
        stopped = true;
        break;
      }
      const uint64_t end = offset + 4 + length + (block_checksum ? 4 : 0);
      if (end > size) {
        stop(where(offset) + ": LZ4 block runs past the end of the file (truncated)");
        stopped = true;
        break;
      }
      Block block;
      block.file_offset = offset + 4;
      block.size_field = field;
      block.frame = frame_index;
      std::string problem;
      int produced = -1;
      if (broken_since) {
        problem = "it decodes through corrupt block " + std::to_string(*broken_since) + " of its linked frame";
      } else if (block_checksum && XXH32(data + offset + 4, length, 0) != load_u32(data + offset + 4 + length)) {
        problem = "its block checksum does not match";
      } else if (field & kUncompressedBit) {
        std::memcpy(out.data(), data + offset + 4, length);
        produced = static_cast<int>(length);
      } else {
        const char* dict = window.empty() ? nullptr : window.data();
        produced = dict ? LZ4_decompress_safe_usingDict(reinterpret_cast<const char*>(data + offset + 4),
                                                        reinterpret_cast<char*>(out.data()), static_cast<int>(length),
                                                        static_cast<int>(out.size()), dict,
                                                        static_cast<int>(window.size()))
                        : LZ4_decompress_safe(reinterpret_cast<const char*>(data + offset + 4),
                                              reinterpret_cast<char*>(out.data()), static_cast<int>(length),
                                              static_cast<int>(out.size()));
        if (produced < 0) problem = "it does not decode (corrupt LZ4 data)";
      }
      const bool last_of_frame = size - end >= 4 && load_u32(data + end) == 0;
      if (problem.empty() && produced == 0) {
        offset = end;  // an empty block holds nothing
        continue;
      }
      if (!problem.empty()) {
        // Every block but a frame's last holds block_max bytes (that is
        // how LZ4 frames are written); a last block's size is what the
        // frame's content size leaves, if it says.
        uint64_t guess = frame.block_max;
        if (last_of_frame && content_size > frame_produced)
          guess = std::min<uint64_t>(content_size - frame_produced, frame.block_max);
        block.decompressed = static_cast<uint32_t>(guess);
        block.flags = Block::kCorrupt;
        if (frame.linked && !broken_since) broken_since = blocks_.size();
        if (damaged_blocks++ < kDamageNamed)
          damage.push_back("block " + std::to_string(blocks_.size()) + " at file offset " + hex(offset) +
                           " (image bytes " + hex(decompressed_total) + "-" + hex(decompressed_total + guess) +
                           "): " + problem);
      } else {
        block.decompressed = static_cast<uint32_t>(produced);
        XXH32_update(content, out.data(), static_cast<size_t>(produced));
        // The dictionary a checkpoint keeps is the output before its block.
        if (frame.linked && blocks_.size() > frame.first_block && since_checkpoint >= kCheckpointSpacing) {
          block.checkpoint = static_cast<uint32_t>(dictionaries_.size());
          dictionaries_.push_back(compress_dictionary(window));
          since_checkpoint = 0;
        }
        if (frame.linked) {
          window.append(reinterpret_cast<const char*>(out.data()), static_cast<size_t>(produced));
          if (window.size() > kDictionarySize) window.erase(0, window.size() - kDictionarySize);
        }
      }
      since_checkpoint += block.decompressed;
      decompressed_total += block.decompressed;
      frame_produced += block.decompressed;
      // Real files have blocks of 64 KiB and more: a swarm of tiny blocks
      // would only serve to blow up the index.
      if (blocks_.size() >= kMaxTinyBlocks && blocks_.size() > decompressed_total / 4096)
        throw FormatError(where(offset) + ": more than " + std::to_string(blocks_.size()) +
                          " LZ4 blocks averaging under 4 KiB; not indexed (decompress with `lz4 -d`)");
      blocks_.push_back(block);
      offset = end;
    }
  }
  if (blocks_.empty()) throw FormatError(file_->path() + ": LZ4 file holds no data");
  if (damaged_blocks) {
    std::string line = file_->path() + ": " + std::to_string(damaged_blocks) +
                       " corrupt LZ4 block(s), their bytes lost (reads there fail, the rest of the image is read): ";
    for (size_t i = 0; i < damage.size(); ++i) line += (i ? "; " : "") + damage[i];
    if (damaged_blocks > damage.size()) line += "; and " + std::to_string(damaged_blocks - damage.size()) + " more";
    warnings_.insert(warnings_.begin(), line);
  }
  finish_index();
  if (progress) {
    progress->set_done(size);
    progress->finish();
  }
}

void Lz4FrameLayer::finish_index() {
  data_offsets_.resize(blocks_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    data_offsets_[i] = total;
    total += blocks_[i].decompressed;
  }
  data_offsets_[blocks_.size()] = total;
  data_size_ = total;
}

std::string Lz4FrameLayer::serialize_index() const {
  std::string out;
  auto put32 = [&](uint32_t v) {
    uint8_t b[4];
    store_u32(b, v);
    out.append(reinterpret_cast<char*>(b), 4);
  };
  auto put64 = [&](uint64_t v) {
    uint8_t b[8];
    store_u64(b, v);
    out.append(reinterpret_cast<char*>(b), 8);
  };
  out.append(kIndexMagic, 8);
  put32(kIndexVersion);
  put32(cut_short_ ? 1 : 0);
  put64(file_->size());
  put64(frames_.size());
  put64(blocks_.size());
  put64(dictionaries_.size());
  for (const Frame& f : frames_) {
    put64(f.file_offset);
    put64(f.first_block);
    put32(f.block_max);
    put32(f.linked ? 1 : 0);
  }
  for (const Block& b : blocks_) {
    put64(b.file_offset);
    put32(b.size_field);
    put32(b.decompressed);
    put32(b.frame);
    put32(b.checkpoint);
    put32(b.flags);
    put32(0);
  }
  for (const std::string& d : dictionaries_) {
    put32(static_cast<uint32_t>(d.size()));
    out += d;
  }
  // What indexing found wrong, told again whenever the index is used.
  put32(static_cast<uint32_t>(warnings_.size()));
  for (const std::string& w : warnings_) {
    put32(static_cast<uint32_t>(w.size()));
    out += w;
  }
  put32(lz4s::crc32(reinterpret_cast<const uint8_t*>(out.data()), out.size()));
  return out;
}

bool Lz4FrameLayer::load_index(const std::string& path) {
  // The cache is the user's own, but a stale or damaged index must never
  // lead a read outside the file: every field is checked, and anything odd
  // means "rebuild".
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  in.seekg(0, std::ios::end);
  std::streamoff length = in.tellg();
  // An index holds at most one 24-byte entry per 5 bytes of file, plus dictionaries.
  if (length < 48 || uint64_t(length) > file_->size() * 8 + (1 << 20)) return false;
  in.seekg(0);
  std::string bytes(static_cast<size_t>(length), '\0');
  if (!in.read(bytes.data(), length)) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const uint64_t n = bytes.size();
  if (lz4s::crc32(p, n - 4) != load_u32(p + n - 4)) return false;
  if (std::memcmp(p, kIndexMagic, 8) != 0 || load_u32(p + 8) != kIndexVersion || load_u32(p + 12) > 1) return false;
  const bool cut_short = load_u32(p + 12) == 1;
  if (load_u64(p + 16) != file_->size()) return false;
  const uint64_t frame_count = load_u64(p + 24), block_count = load_u64(p + 32), dict_count = load_u64(p + 40);
  uint64_t at = 48;
  if (frame_count > n / 24 || block_count > n / kIndexBlockBytes || dict_count > n / 4) return false;
  if (at + frame_count * 24 + block_count * kIndexBlockBytes > n - 4) return false;
  std::vector<Frame> frames(frame_count);
  for (Frame& f : frames) {
    f.file_offset = load_u64(p + at);
    f.first_block = load_u64(p + at + 8);
    f.block_max = load_u32(p + at + 16);
    f.linked = load_u32(p + at + 20) != 0;
    at += 24;
    if (f.file_offset >= file_->size() || f.first_block > block_count) return false;
    if (f.block_max != (64u << 10) && f.block_max != (256u << 10) && f.block_max != (1u << 20) &&
        f.block_max != (4u << 20))
      return false;
  }
  std::vector<Block> blocks(block_count);
  uint64_t previous_end = 0;
  for (Block& b : blocks) {
    b.file_offset = load_u64(p + at);
    b.size_field = load_u32(p + at + 8);
    b.decompressed = load_u32(p + at + 12);
    b.frame = load_u32(p + at + 16);
    b.checkpoint = load_u32(p + at + 20);
    b.flags = load_u32(p + at + 24);
    at += kIndexBlockBytes;
    if (b.flags & ~Block::kCorrupt) return false;
    uint32_t length = b.size_field & ~kUncompressedBit;
    if (b.frame >= frame_count || b.file_offset < previous_end || !file_->contains(b.file_offset, length)) return false;
    const uint64_t index = static_cast<uint64_t>(&b - blocks.data());
    if (frames[b.frame].first_block > index || (index > 0 && b.frame < blocks[index - 1].frame)) return false;
    if (b.decompressed == 0 || b.decompressed > frames[b.frame].block_max || length > frames[b.frame].block_max)
      return false;
    if ((b.size_field & kUncompressedBit) && b.decompressed != length) return false;
    if (b.checkpoint != Block::kNoCheckpoint && b.checkpoint >= dict_count) return false;
    previous_end = b.file_offset + length;
  }
  std::vector<std::string> dictionaries(dict_count);
  for (std::string& d : dictionaries) {
    if (at + 4 > n - 4) return false;
    uint32_t size = load_u32(p + at);
    at += 4;
    if (size > n - 4 - at) return false;
    d.assign(reinterpret_cast<const char*>(p + at), size);
    at += size;
    std::string check;
    if (!decompress_dictionary(d, check)) return false;
  }
  if (at + 4 > n - 4) return false;
  const uint32_t warning_count = load_u32(p + at);
  at += 4;
  std::vector<std::string> warnings;
  for (uint32_t i = 0; i < warning_count; ++i) {
    if (at + 4 > n - 4) return false;
    const uint32_t size = load_u32(p + at);
    at += 4;
    if (size > n - 4 - at) return false;
    warnings.emplace_back(reinterpret_cast<const char*>(p + at), size);
    at += size;
  }
  if (at != n - 4 || blocks.empty()) return false;
  warnings_ = std::move(warnings);
  cut_short_ = cut_short;
  frames_ = std::move(frames);
  blocks_ = std::move(blocks);
  dictionaries_ = std::move(dictionaries);
  finish_index();
  return true;
}

void Lz4FrameLayer::decode_into(uint64_t index, uint8_t* out, const uint8_t* dict, size_t dict_size) const {
  const Block& b = blocks_[index];
  if (b.corrupt())
    throw FormatError(where(b.file_offset - 4) + ": LZ4 block " + std::to_string(index) +
                      " is corrupt (found when the file was indexed): its " + std::to_string(b.decompressed) +
                      " bytes are lost");
  const uint32_t length = b.size_field & ~kUncompressedBit;
  const char* src = reinterpret_cast<const char*>(file_->data() + b.file_offset);
  if (b.size_field & kUncompressedBit) {
    if (length != b.decompressed)
      throw FormatError(where(b.file_offset - 4) + ": stored LZ4 block of " + std::to_string(length) +
                        " bytes, the index says " + std::to_string(b.decompressed) + " (file changed since indexing?)");
    std::memcpy(out, src, length);
    return;
  }
  int n = dict_size ? LZ4_decompress_safe_usingDict(src, reinterpret_cast<char*>(out), static_cast<int>(length),
                                                    static_cast<int>(b.decompressed),
                                                    reinterpret_cast<const char*>(dict), static_cast<int>(dict_size))
                    : LZ4_decompress_safe(src, reinterpret_cast<char*>(out), static_cast<int>(length),
                                          static_cast<int>(b.decompressed));
  if (n != static_cast<int>(b.decompressed))
    throw FormatError(where(b.file_offset - 4) + ": LZ4 block " + std::to_string(index) +
                      (n < 0 ? " is corrupt" : " decodes to " + std::to_string(n) + " bytes, not " +
                                                   std::to_string(b.decompressed)) +
                      " (file changed since indexing?)");
}

BlockRef Lz4FrameLayer::decode_linked(uint64_t index) {
  const Frame& frame = frames_[blocks_[index].frame];
  // Walk back to a block whose preceding 64 KiB we know: the frame's first
  // block, a checkpoint, or a block right after a large enough cached one.
  std::string window;
  uint64_t start = index;
  for (;;) {
    const Block& b = blocks_[start];
    if (start == frame.first_block || start == 0) break;
    if (b.checkpoint != Block::kNoCheckpoint) {
      if (!decompress_dictionary(dictionaries_[b.checkpoint], window))
        throw FormatError(file_->path() + ": damaged dictionary in the LZ4 index " + index_path_);
      break;
    }
    if (BlockRef previous = cache_.find({cache_id_, start - 1}); previous && previous->size() >= kDictionarySize) {
      window.assign(reinterpret_cast<const char*>(previous->data() + previous->size() - kDictionarySize),
                    kDictionarySize);
      break;
    }
    --start;
  }
  BlockRef result;
  for (uint64_t k = start; k <= index; ++k) {
    auto decode = [&]() -> BlockRef {
      auto block = std::make_shared<CachedBlock>(blocks_[k].decompressed);
      decode_into(k, block->data(), reinterpret_cast<const uint8_t*>(window.data()), window.size());
      return block;
    };
    // Block `index` is being loaded by our caller's cache.get: decode it here.
    BlockRef block = k == index ? decode() : cache_.get({cache_id_, k}, decode);
    window.append(reinterpret_cast<const char*>(block->data()), block->size());
    if (window.size() > kDictionarySize) window.erase(0, window.size() - kDictionarySize);
    result = std::move(block);
  }
  return result;
}

BlockRef Lz4FrameLayer::block(uint64_t index) {
  if (index >= blocks_.size()) throw Error(file_->path() + ": block " + std::to_string(index) + " out of range");
  return cache_.get({cache_id_, index}, [&]() -> BlockRef {
    if (frames_[blocks_[index].frame].linked) return decode_linked(index);
    auto block = std::make_shared<CachedBlock>(blocks_[index].decompressed);
    decode_into(index, block->data(), nullptr, 0);
    return block;
  });
}

IoResult Lz4FrameLayer::do_read(uint64_t address, void* buffer, size_t n, unsigned flags) {
  IoResult result;
  auto* out = static_cast<uint8_t*>(buffer);
  while (result.done < n) {
    const uint64_t at = address + result.done;
    if (at >= data_size_ || at < address) {
      if (!(flags & kReadPad)) {
        result.fault = Fault{at, format(),
                             cut_short_ ? "not in the file: " + file_->path() + " is cut short, its memory ends at " +
                                              hex(data_size_) + " (truncated image)"
                                        : std::string("physical address beyond the end of the image")};
        return result;
      }
      std::memset(out + result.done, 0, n - result.done);
      result.done = n;
      break;
    }
    auto it = std::upper_bound(data_offsets_.begin(), data_offsets_.end(), at);
    uint64_t index = static_cast<uint64_t>(it - data_offsets_.begin()) - 1;
    uint64_t inside = at - data_offsets_[index];
    size_t take = static_cast<size_t>(std::min<uint64_t>(n - result.done, blocks_[index].decompressed - inside));
    try {
      BlockRef b = block(index);
      std::memcpy(out + result.done, b->data() + inside, take);
    } catch (const FormatError& e) {
      result.fault = Fault{at, format(), e.what()};
      return result;
    }
    result.done += take;
  }
  return result;
}

void Lz4FrameLayer::ranges(const std::function<bool(const Range&)>& visit) const {
  if (data_size_) visit(Range{0, data_size_});
}

LayerDescription Lz4FrameLayer::describe() const {
  LayerDescription lines;
  size_t linked = static_cast<size_t>(std::count_if(frames_.begin(), frames_.end(), [](const Frame& f) { return f.linked; }));
  lines.emplace_back("lz4 frames", std::to_string(frames_.size()) + (linked ? " (" + std::to_string(linked) + " with linked blocks)" : ""));
  lines.emplace_back("lz4 blocks", std::to_string(blocks_.size()));
  lines.emplace_back("lz4 index", index_origin_ + (index_path_.empty() ? " (not saved)" : " " + index_path_));
  lines.emplace_back("hint", "`memscope convert` makes a seekable LZ4 image: faster random reads, no index to build");
  return lines;
}

MEMSCOPE_REGISTER(format_registry(), FormatHandler{
    .name = "lz4",
    .description = "plain LZ4 frames (`lz4 image.raw`) holding a raw image; indexed on first open",
    .priority = 100,
    .probe = [](const MappedFile& file) { return Lz4FrameLayer::probe(file); },
    .open = [](std::shared_ptr<const MappedFile> file) -> std::unique_ptr<PhysicalLayer> {
      return Lz4FrameLayer::open(std::move(file));
    }});

}  // namespace memscope
