// Reader of seekable LZ4 memory dumps (docs/formats/lz4-seekable.md):
// random access through the seek table, decompressed chunks kept in a
// bounded LRU cache shared with the other compressed formats, every chunk
// checked against its seek-table checksum when it is decompressed.
//
// Reads are thread-safe. peek() hands out pointers only into all-zero
// chunks (static zeros): a decompressed chunk can be evicted at any time by
// another reader of the shared cache, so no pointer into it can outlive the
// call that produced it.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/layers/chunk_cache.h"
#include "core/layers/mapped_file.h"
#include "core/layers/physical_layer.h"
#include "formats/lz4/lz4_seekable_format.h"

namespace memscope {

class Lz4SeekableLayer : public PhysicalLayer {
 public:
  // True if the file starts with the seekable LZ4 metadata frame.
  static bool probe(const MappedFile& file);
  // Parses the metadata, footer and seek table (no chunk is decompressed).
  // A file cut short (no seek table) or whose seek table is damaged or
  // lies opens with a warning: its chunks are found by walking their
  // frames, and reads of the chunks not in the file fail naming them.
  // Throws FormatError naming the file and offset of what is wrong when
  // the metadata or the first chunk cannot be read.
  static std::unique_ptr<Lz4SeekableLayer> open(std::shared_ptr<const MappedFile> file,
                                                ChunkCache& cache = ChunkCache::shared());
  ~Lz4SeekableLayer() override;

  std::string format() const override { return "lz4-seekable"; }
  const std::string& path() const override { return file_->path(); }
  uint64_t file_size() const override { return file_->size(); }
  uint64_t limit() const override;
  void ranges(const std::function<bool(const Range&)>& visit) const override;
  const uint8_t* peek(uint64_t address, size_t n) override;
  const ImageNotes& notes() const override { return meta_.notes; }
  // For scans: all-zero chunks (canonical zero frames, known from the seek
  // table without decompressing) are kZero, merged; each other chunk is one
  // kStored extent. scan_read decompresses on any thread straight into the
  // scanner's buffer, past the shared chunk cache, reading the frames with
  // pread, so that a scan's resident memory does not grow with the file.
  void extents(uint64_t begin, uint64_t end, const std::function<bool(const PhysicalExtent&)>& visit) const override;
  bool concurrent_scan_reads() const override { return true; }
  IoResult scan_read(uint64_t address, uint8_t* out, size_t n) override;
  uint64_t storage_granularity() const override { return meta_.chunk_size; }
  LayerDescription describe() const override;

  const lz4s::Metadata& metadata() const { return meta_; }
  // The chunks in the file: the metadata's count, or fewer for a
  // truncated file.
  uint64_t chunk_count() const { return entries_.size(); }
  const lz4s::SeekEntry& entry(uint64_t index) const { return entries_[index]; }
  // File offset of chunk `index`'s LZ4 frame.
  uint64_t frame_offset(uint64_t index) const { return frame_offsets_[index]; }
  uint64_t chunk_length(uint64_t index) const {
    return lz4s::chunk_length(index, meta_.data_size, meta_.chunk_size);
  }

  // The decompressed chunk, from the cache or decompressed and verified now.
  // Throws FormatError naming the chunk and its file offset if it is corrupt.
  BlockRef chunk(uint64_t index);
  // Decompresses and verifies chunk `index` into `out` (chunk_length bytes),
  // bypassing the cache; all-zero chunks are decompressed too.
  void decompress_chunk(uint64_t index, uint8_t* out) const;
  // The same, reading the frame with pread instead of through the mapping
  // (scans: the file's pages never become resident).
  void decompress_chunk_unmapped(uint64_t index, uint8_t* out) const;

 protected:
  IoResult do_read(uint64_t address, void* buffer, size_t n, unsigned flags) override;

 private:
  Lz4SeekableLayer(std::shared_ptr<const MappedFile> file, ChunkCache& cache);
  void parse();
  // The chunks from the seek table and footer; throws FormatError when
  // they are missing, damaged or inconsistent.
  void read_seek_table(uint64_t first_frame);
  // The chunks found by walking the frames from `first_frame`, with a
  // warning naming `why` the seek table was not used and what is missing.
  void recover_from_frames(uint64_t first_frame, const std::string& why);
  std::string missing_chunk(uint64_t index) const;
  // Index of the range holding `address`, or of the first range above it.
  size_t find_range(uint64_t address) const;
  // Throws unless flagged all-zero chunk `index` really is all zeros.
  void check_zero_chunk(uint64_t index);
  // True if flagged all-zero chunk `index` is known to be zeros without
  // decompressing it (its frame, read with pread, is the canonical zero frame).
  bool zero_chunk_known(uint64_t index) const;
  // Decompresses chunk `index` from its frame's bytes into `out`.
  void decompress_frame(uint64_t index, const uint8_t* frame, uint8_t* out) const;
  // Physical address of data-stream offset `offset` in range `r`.
  uint64_t physical_of(size_t r, uint64_t offset) const {
    return meta_.ranges[r].start + (offset - range_data_offset_[r]);
  }
  std::string chunk_where(uint64_t index) const;

  std::shared_ptr<const MappedFile> file_;
  ChunkCache& cache_;
  uint64_t cache_id_;
  lz4s::Metadata meta_;
  unsigned chunk_shift_ = 0;
  std::vector<lz4s::SeekEntry> entries_;
  std::vector<uint64_t> frame_offsets_;       // chunk_count + 1 (the last: end of frames)
  std::vector<uint64_t> range_data_offset_;   // data-stream offset of each range's first byte
  uint64_t present_data_ = 0;                 // data-stream bytes the file's chunks hold
  std::unique_ptr<std::atomic<uint8_t>[]> zero_checked_;
  uint64_t zero_chunks_ = 0;
  mutable std::atomic<size_t> last_range_{0};
  // Chunks at the edges of scan_read requests: a scan's neighbouring
  // workers both need them (one for its lookahead), and decompress them
  // once. Small and private, so a scan never floods the shared cache.
  std::unique_ptr<ChunkCache> scan_edges_;
};

}  // namespace memscope
