// Reader of AVML's compressed images (Microsoft's acquisition tool, `avml
// --compress`): LiME-like 32-byte headers with magic "AVML" (0x4C4D5641)
// and version 2, each followed by a Snappy framed stream of the block's
// bytes (formats/avml/snappy_frames.h) and a little-endian u64 with that
// stream's length. AVML cuts each RAM range into blocks of at most 16 MiB
// and leaves out the blocks that are all zeros.
//
// Opening walks the blocks back from the end of the file, trailer to
// header, which touches a few bytes per block; a block's Snappy chunks are
// indexed when it is first read. If the trailers do not lead back to the
// start (a truncated acquisition), the file is walked forwards instead,
// chunk by chunk, and what the complete chunks hold is served, with a
// warning. Decompressed chunks go to the shared chunk cache; a read that
// covers a whole chunk not in the cache decompresses straight into the
// caller's buffer.
//
// The left-out zero blocks are gaps between the ranges, as the holes
// between RAM ranges are: AVML does not record which gap was which. Reads
// are thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/layers/chunk_cache.h"
#include "core/layers/mapped_file.h"
#include "core/layers/physical_layer.h"
#include "formats/avml/snappy_frames.h"

namespace memscope {

namespace avml {
inline constexpr uint32_t kMagic = 0x4C4D5641;  // "AVML"
inline constexpr uint32_t kVersion = 2;
inline constexpr uint32_t kLimeMagic = 0x4C694D45;
inline constexpr size_t kHeaderSize = 32;
inline constexpr size_t kTrailerSize = 8;
// AVML's MAX_BLOCK_SIZE; larger blocks are accepted, up to kMaxBlock.
inline constexpr uint64_t kAvmlBlockSize = uint64_t{16} << 20;
}  // namespace avml

class AvmlLayer : public PhysicalLayer {
 public:
  static bool probe(const MappedFile& file);
  // Throws FormatError naming the file, "avml", the header's offset and the
  // field when the first header is broken.
  static std::unique_ptr<AvmlLayer> open(std::shared_ptr<const MappedFile> file,
                                         ChunkCache& cache = ChunkCache::shared());
  ~AvmlLayer() override;

  std::string format() const override { return "avml"; }
  const std::string& path() const override { return file_->path(); }
  uint64_t file_size() const override { return file_->size(); }
  const MappedFile* mapped_file() const override { return file_.get(); }
  uint64_t limit() const override;
  void ranges(const std::function<bool(const Range&)>& visit) const override;
  LayerDescription describe() const override;
  const std::vector<std::string>& warnings() const override { return warnings_; }
  // For scans: each block as one kStored extent (AVML records nothing about
  // zeros inside a block); scan_read decompresses on any thread straight
  // into the scanner's buffer, past the shared cache.
  bool concurrent_scan_reads() const override { return true; }
  IoResult scan_read(uint64_t address, uint8_t* out, size_t n) override;
  uint64_t storage_granularity() const override { return snappy_frames::kMaxData; }

  size_t block_count() const { return blocks_.size(); }
  // "backward" (from the trailers) or "forward" (chunk by chunk).
  const std::string& walk() const { return walk_; }

 protected:
  IoResult do_read(uint64_t address, void* buffer, size_t n, unsigned flags) override;

 private:
  struct Block {
    uint64_t start = 0;          // physical
    uint64_t size = 0;           // bytes the header claims
    uint64_t available = 0;      // bytes the file holds (less only for a truncated last block)
    uint64_t header_offset = 0;  // file offset of its header
    uint64_t stream_offset = 0;  // of its Snappy stream
    uint64_t stream_length = 0;
  };
  // A block's chunks, indexed on first use (or while walking forwards).
  struct ChunkIndex {
    std::once_flag once;
    std::vector<snappy_frames::Chunk> chunks;
    std::string problem;  // why the chunks stop before the block's end, or ""
    std::string trailer;  // forward walk: the length trailer disagrees with the stream (not fatal)
  };

  AvmlLayer(std::shared_ptr<const MappedFile> file, ChunkCache& cache);
  void parse();
  bool walk_backward();
  void walk_forward();
  // Checks a header; throws FormatError for the first one, else returns the problem.
  std::string check_header(uint64_t offset, uint32_t* version, uint64_t* start, uint64_t* size) const;
  // Indexes `stream_length` bytes of stream at `offset` into `index`; with
  // an unknown length (forward walk) finds the stream's end by its trailer.
  // Returns the stream's length.
  uint64_t index_stream(uint64_t offset, uint64_t stream_length, bool length_known, uint64_t block_size,
                        ChunkIndex& index) const;
  const ChunkIndex& chunks(size_t block) const;
  // Index of the block holding `address`, or of the first block above it.
  size_t find_block(uint64_t address) const;
  std::string block_where(size_t block) const;
  // Decodes chunk `c` of block `b` into `out`; the error message names both.
  std::optional<std::string> decode(size_t b, const snappy_frames::Chunk& c, uint8_t* out) const;
  // Copies block `b`'s bytes [offset, offset + n) (inside one chunk) to
  // `out`: a whole chunk not in the cache decompressed in place, else
  // through the cache (`use_cache`) or a per-thread buffer. nullopt or the
  // error.
  std::optional<std::string> copy_out(size_t b, uint64_t offset, size_t n, uint8_t* out, bool use_cache);
  // How many of the `want` bytes at block `b`'s `offset` (inside what the
  // file holds of it) one copy_out can serve: up to the end of their chunk
  // and of the block's available bytes.
  size_t in_one_chunk(size_t b, uint64_t offset, size_t want) const;

  std::shared_ptr<const MappedFile> file_;
  ChunkCache& cache_;
  uint64_t cache_id_;
  std::vector<Block> blocks_;  // sorted by start, disjoint
  std::vector<std::unique_ptr<ChunkIndex>> indexes_;  // one per block
  std::string walk_;
  std::vector<std::string> warnings_;
  mutable std::atomic<size_t> last_block_{0};
};

}  // namespace memscope
