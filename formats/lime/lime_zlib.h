// LiME images written with compress=1: LiME deflates its whole output (the
// 32-byte range headers and the ranges' bytes) into one zlib stream
// (window bits 11, no flush points), so nothing in the file says where a
// range's bytes are.
//
// Random access comes from an index built in one pass on first open, in
// the way of zlib's examples/zran.c: every ~1 MiB of output, at a deflate
// block boundary, a checkpoint keeps the input position (byte and bit) and
// the last window of output (2 KiB for LiME's stream), from which inflate
// can start again. The pass also walks the LiME headers inside the stream
// (giving each range's offset in it) and checks the stream's Adler-32. The
// index is kept in $XDG_CACHE_HOME/memscope/lime-zlib-index/, named after
// the file's identity, never beside the evidence. A read inflates the span
// between two checkpoints into the shared chunk cache (or straight into a
// read that covers it).
//
// A stream that is truncated or corrupt opens with a warning and serves
// what decoded before the damage. Reads are thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/layers/chunk_cache.h"
#include "core/layers/mapped_file.h"
#include "core/layers/physical_layer.h"

namespace memscope {

class LimeZlibLayer : public PhysicalLayer {
 public:
  struct OpenOptions {
    ChunkCache* cache = nullptr;           // nullptr: ChunkCache::shared()
    bool use_index_cache = true;           // read/write the per-user index cache
    std::optional<std::string> index_dir;  // overrides user_cache_dir("lime-zlib-index")
  };
  // Output bytes between checkpoints (at least; they fall on deflate block ends).
  static constexpr uint64_t kSpacing = uint64_t{1} << 20;

  enum class Kind { kNone, kLime, kOtherZlib };
  // kLime: a zlib stream whose first bytes inflate to a LiME header.
  // kOtherZlib: a zlib stream that inflates cleanly to something else (LiME
  // with format=raw or padded and compress=1), which open() refuses by name.
  static Kind probe(const MappedFile& file);
  static std::unique_ptr<LimeZlibLayer> open(std::shared_ptr<const MappedFile> file, const OpenOptions& options);
  static std::unique_ptr<LimeZlibLayer> open(std::shared_ptr<const MappedFile> file) {
    return open(std::move(file), OpenOptions{});
  }
  ~LimeZlibLayer() override;

  std::string format() const override { return "lime-zlib"; }
  const std::string& path() const override { return file_->path(); }
  uint64_t file_size() const override { return file_->size(); }
  const MappedFile* mapped_file() const override { return file_.get(); }
  uint64_t limit() const override;
  void ranges(const std::function<bool(const Range&)>& visit) const override;
  LayerDescription describe() const override;
  const std::vector<std::string>& warnings() const override { return warnings_; }
  // For scans: spans inflate on any thread straight into the scanner's
  // buffer, past the shared cache.
  bool concurrent_scan_reads() const override { return true; }
  IoResult scan_read(uint64_t address, uint8_t* out, size_t n) override;

  size_t checkpoint_count() const { return checkpoints_.size(); }
  // "built" (indexed now) or "cached" (loaded from the index cache).
  const std::string& index_origin() const { return index_origin_; }
  const std::string& index_path() const { return index_path_; }
  uint64_t data_size() const { return data_size_; }

 protected:
  IoResult do_read(uint64_t address, void* buffer, size_t n, unsigned flags) override;

 private:
  struct Checkpoint {
    uint64_t out = 0;  // output (LiME stream) offset
    uint64_t in = 0;   // file offset of the next input byte
    uint32_t bits = 0;  // bits of the byte before `in` still to be read (0-7)
    uint32_t window_size = 0;
    uint64_t window_offset = 0;  // into windows_
  };
  struct Segment {
    uint64_t physical = 0;
    uint64_t size = 0;
    uint64_t stream_offset = 0;  // of its first byte in the LiME stream
  };

  LimeZlibLayer(std::shared_ptr<const MappedFile> file, ChunkCache& cache);
  void build_index();
  std::string serialize_index() const;
  bool load_index(const std::string& path);
  // Inflates span `k` (checkpoint k to k+1) into `out`; nullopt or the error.
  std::optional<std::string> inflate_span(size_t k, uint8_t* out) const;
  uint64_t span_end(size_t k) const { return k + 1 < checkpoints_.size() ? checkpoints_[k + 1].out : data_size_; }
  size_t find_segment(uint64_t address) const;
  size_t find_span(uint64_t stream_offset) const;
  // Copies stream bytes [offset, offset + n), inside one span, to `out`.
  std::optional<std::string> copy_out(uint64_t offset, size_t n, uint8_t* out, bool use_cache);
  IoResult read_impl(uint64_t address, uint8_t* out, size_t n, bool pad, bool scan);

  std::shared_ptr<const MappedFile> file_;
  ChunkCache& cache_;
  uint64_t cache_id_;
  uint32_t window_bits_ = 15;
  uint64_t data_size_ = 0;  // bytes of LiME stream the index covers
  std::vector<Checkpoint> checkpoints_;
  std::string windows_;
  std::vector<Segment> segments_;  // sorted by physical address
  std::vector<std::string> warnings_;
  std::string index_origin_, index_path_;
  mutable std::atomic<size_t> last_segment_{0};
};

}  // namespace memscope
