// Plain .lz4 files (what `lz4 image.raw` writes: one or more standard LZ4
// frames, no seek table) holding a raw memory image. They are indexed in one
// pass on first open (every block's file offset and decompressed size, the
// frame checksums verified on the way); the index is kept in the per-user
// cache directory ($XDG_CACHE_HOME/memscope/lz4-index), keyed by the file's
// size, mtime and a hash of its head, never beside the evidence.
//
// Frames with independent blocks (lz4's default) decode any block on its
// own. Frames with linked blocks (`lz4 -BD`) keep the 64 KiB dictionary of a
// checkpoint block every 64 MiB of output in the index, and decode forward
// from the nearest checkpoint (or cached block).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/layers/chunk_cache.h"
#include "core/layers/mapped_file.h"
#include "core/layers/physical_layer.h"

namespace memscope {

class Lz4FrameLayer : public PhysicalLayer {
 public:
  struct OpenOptions {
    ChunkCache* cache = nullptr;            // nullptr: ChunkCache::shared()
    bool use_index_cache = true;            // read/write the per-user index cache
    std::optional<std::string> index_dir;   // overrides user_cache_dir("lz4-index")
  };

  // True for a file starting with an LZ4 frame (or legacy-format) magic, or
  // a skippable frame other than the seekable format's metadata.
  static bool probe(const MappedFile& file);
  // Indexes (or loads the cached index of) `file`. Damage costs only what
  // it touches, with a warning: a corrupt block (reads inside it fail
  // naming it), a file cut short or trailing garbage (the blocks before
  // are read). Throws FormatError naming the file and offset when nothing
  // can be read, for the legacy format, or an image inside that is not raw
  // (LiME, ELF).
  static std::unique_ptr<Lz4FrameLayer> open(std::shared_ptr<const MappedFile> file, const OpenOptions& options);
  static std::unique_ptr<Lz4FrameLayer> open(std::shared_ptr<const MappedFile> file) {
    return open(std::move(file), OpenOptions{});
  }
  ~Lz4FrameLayer() override;

  std::string format() const override { return "lz4"; }
  const std::string& path() const override { return file_->path(); }
  uint64_t file_size() const override { return file_->size(); }
  uint64_t limit() const override { return data_size_; }
  void ranges(const std::function<bool(const Range&)>& visit) const override;
  LayerDescription describe() const override;
  // A file cut short, trailing garbage, corrupt blocks: what indexing
  // found (kept in the index cache, so told on every open).
  const std::vector<std::string>& warnings() const override { return warnings_; }

  uint64_t block_count() const { return blocks_.size(); }
  // Dictionaries kept for linked-block frames (one per 64 MiB of output).
  size_t checkpoint_count() const { return dictionaries_.size(); }
  // "built" (indexed now) or "cached" (loaded from the index cache).
  const std::string& index_origin() const { return index_origin_; }
  const std::string& index_path() const { return index_path_; }

  // Decompressed block, from the cache or decoded now.
  BlockRef block(uint64_t index);

  struct Block {
    uint64_t file_offset = 0;   // of the block's data (after its 4-byte size)
    uint32_t size_field = 0;    // as stored: bit 31 set = stored uncompressed
    uint32_t decompressed = 0;  // bytes it decodes to
    uint32_t frame = 0;         // index into frames_
    uint32_t checkpoint = kNoCheckpoint;  // index into dictionaries_
    uint32_t flags = 0;
    static constexpr uint32_t kNoCheckpoint = 0xffffffff;
    // Did not decode (or failed its checksum) when indexed; `decompressed`
    // is then the size it should have had. Reads inside it fail.
    static constexpr uint32_t kCorrupt = 1u << 0;
    bool corrupt() const { return flags & kCorrupt; }
  };
  struct Frame {
    uint64_t file_offset = 0;
    bool linked = false;        // blocks depend on the previous 64 KiB
    uint32_t block_max = 0;     // maximum decompressed block size
    uint64_t first_block = 0;   // index into blocks_
  };

 protected:
  IoResult do_read(uint64_t address, void* buffer, size_t n, unsigned flags) override;

 private:
  Lz4FrameLayer(std::shared_ptr<const MappedFile> file, ChunkCache& cache);
  void build_index();
  bool load_index(const std::string& path);
  std::string serialize_index() const;
  void finish_index();  // data offsets, sanity checks
  void decode_into(uint64_t index, uint8_t* out, const uint8_t* dict, size_t dict_size) const;
  BlockRef decode_linked(uint64_t index);
  std::string where(uint64_t offset) const;

  std::shared_ptr<const MappedFile> file_;
  ChunkCache& cache_;
  uint64_t cache_id_;
  std::vector<Frame> frames_;
  std::vector<Block> blocks_;
  std::vector<std::string> dictionaries_;
  std::vector<uint64_t> data_offsets_;  // blocks_.size() + 1
  uint64_t data_size_ = 0;
  std::string index_origin_;
  std::string index_path_;
  std::vector<std::string> warnings_;
  bool cut_short_ = false;  // indexing stopped before the end of the file
};

}  // namespace memscope
