// Reader of kdump-compressed dumps (makedumpfile, QEMU dump-guest-memory
// -z/-l/-s, virsh dump --memory-only --format kdump-*), seekable or
// flattened (formats/kdump/dump_file.h), header versions 1 to 6, pages in
// zlib, LZO, Snappy, zstd or stored.
//
// Random access: the second bitmap says which pages were dumped, a rank
// index over it (one count per 512 pages) gives a page's descriptor, and the
// descriptor its data. Pages are decompressed in aligned groups of
// kGroupPages into the shared chunk cache (core/layers/chunk_cache.h); a
// read that covers a whole group not in the cache is decompressed straight
// into the caller's buffer (sequential reads do not churn the cache).
//
// What is not in the dump reads as an error naming the page: a page
// makedumpfile excluded (in the first bitmap, not in the second), a page of
// another file of a split dump, a page an incomplete dump never wrote; with
// kReadPad it reads as zeros. None of them is in ranges(). A corrupt or
// truncated page is an error naming the page, its descriptor and the file
// offset of its data; the other pages stay readable.
//
// Reads are thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/layers/chunk_cache.h"
#include "core/layers/mapped_file.h"
#include "core/layers/physical_layer.h"
#include "formats/kdump/dump_file.h"
#include "formats/kdump/kdump_format.h"
#include "formats/kdump/kdump_notes.h"

namespace memscope {

class KdumpLayer : public PhysicalLayer {
 public:
  // Pages decompressed together into one cache block (64 KiB of 4 KiB pages).
  static constexpr uint64_t kGroupPages = 16;

  // True for the "KDUMP   " signature, the flattened stream's
  // "makedumpfile", or the old "DISKDUMP" (which open() refuses by name).
  static bool probe(const MappedFile& file);
  // Parses the headers, bitmaps and notes (no page is decompressed). Throws
  // FormatError naming the file, "kdump" and the header field that is wrong.
  static std::unique_ptr<KdumpLayer> open(std::shared_ptr<const MappedFile> file,
                                          ChunkCache& cache = ChunkCache::shared());
  ~KdumpLayer() override;

  std::string format() const override { return "kdump"; }
  const std::string& path() const override { return file_->path(); }
  uint64_t file_size() const override { return file_->size(); }
  const MappedFile* mapped_file() const override { return file_.get(); }
  uint64_t limit() const override { return limit_; }
  void ranges(const std::function<bool(const Range&)>& visit) const override;
  // A pointer into the mapping for a page stored uncompressed; nullptr for
  // compressed pages (read() copies them out of the cache).
  const uint8_t* peek(uint64_t address, size_t n) override;
  const ImageNotes& notes() const override { return notes_; }
  LayerDescription describe() const override;
  // For scans: the dumped pages as extents, kZero where the descriptor is
  // the dump's shared zero page (makedumpfile and QEMU point every zero
  // page at one; found on open), kStored otherwise; excluded and absent
  // pages are not visited. Answered from the bitmap and the descriptors,
  // without decompressing. scan_read decodes pages on any thread straight
  // into the scanner's buffer, past the shared cache.
  void extents(uint64_t begin, uint64_t end, const std::function<bool(const PhysicalExtent&)>& visit) const override;
  bool concurrent_scan_reads() const override { return true; }
  IoResult scan_read(uint64_t address, uint8_t* out, size_t n) override;
  uint64_t storage_granularity() const override { return page_size_; }
  // What is wrong with the dump without stopping it from being read:
  // incomplete or truncated dump, unreadable notes.
  const std::vector<std::string>& warnings() const override { return warnings_; }

  enum class PageState {
    kDumped,        // in the dump: has a descriptor
    kExcluded,      // RAM, excluded by makedumpfile's dump level
    kNotRam,        // not RAM (or beyond max_mapnr)
    kOtherSplitPart,  // dumped into another file of a split dump
    kNotWritten,    // an incomplete or truncated dump never wrote it
  };
  PageState page_state(uint64_t pfn) const;
  uint64_t page_size() const { return page_size_; }
  uint64_t dumped_pages() const { return dumped_pages_; }
  uint64_t excluded_pages() const { return excluded_pages_; }
  uint64_t absent_pages() const { return absent_pages_; }
  int header_version() const { return header_version_; }
  bool flattened() const { return dump_->flattened(); }
  // The codec the header announces ("zlib", "lzo", "snappy", "zstd", "none").
  std::string codec() const;
  // The page's descriptor (for kDumped pages), or why it cannot be read.
  std::optional<kdump::PageDesc> descriptor(uint64_t pfn, std::string* why = nullptr) const;
  // Decompresses page `pfn` into `out` (page_size() bytes), bypassing the
  // cache; nullopt on success, else the error message naming the page.
  std::optional<std::string> load_page(uint64_t pfn, uint8_t* out) const;

 protected:
  IoResult do_read(uint64_t address, void* buffer, size_t n, unsigned flags) override;

 private:
  KdumpLayer(std::shared_ptr<const MappedFile> file, ChunkCache& cache);
  void parse();
  void parse_header();
  void parse_sub_header();
  void load_bitmaps();
  void build_rank_index();
  void read_vmcoreinfo_and_notes();
  void find_unwritten_pages();
  void find_zero_descriptor();
  void summarise_pages();
  // Number of dumpable pfns (second bitmap, inside the split window) below `pfn`.
  uint64_t rank(uint64_t pfn) const;
  // Word `w` (pfns 64w..64w+63) of the second bitmap, cleared outside [first_pfn_, end_pfn_).
  uint64_t dump_word(uint64_t w) const;
  bool written(uint64_t pfn) const;
  // Visits runs [first, end) of pfns in the dump, merged where adjacent,
  // clipped to [from, to).
  void for_each_run(uint64_t from, uint64_t to, const std::function<bool(uint64_t first, uint64_t end)>& visit) const;
  void for_each_run(const std::function<bool(uint64_t first, uint64_t end)>& visit) const {
    for_each_run(0, ~uint64_t{0}, visit);
  }
  // The descriptor at `index` of the table, unchecked; nullopt if not in the file.
  std::optional<kdump::PageDesc> raw_descriptor(uint64_t index) const;
  bool is_zero_descriptor(const kdump::PageDesc& d) const {
    return zero_desc_ && d.offset == zero_desc_->offset && d.size == zero_desc_->size && d.flags == zero_desc_->flags;
  }
  // Group `group` decompressed, from the cache or now; throws FormatError.
  BlockRef group_block(uint64_t group);
  // True if every page of the group is in the dump.
  bool group_complete(uint64_t group) const;
  std::string page_name(uint64_t pfn) const;
  std::string not_readable_reason(uint64_t pfn, PageState state) const;
  std::string field(const char* name, uint64_t dump_offset) const;

  std::shared_ptr<const MappedFile> file_;
  std::unique_ptr<kdump::DumpFile> dump_;
  ChunkCache& cache_;
  uint64_t cache_id_;

  // disk_dump_header
  int header_version_ = 0;
  std::string release_, machine_, nodename_;
  uint64_t timestamp_ = 0;
  uint32_t status_ = 0;
  uint64_t page_size_ = 0;
  unsigned page_shift_ = 0;
  uint64_t sub_header_blocks_ = 0;
  uint64_t bitmap_blocks_ = 0;
  uint64_t max_mapnr_ = 0;
  int nr_cpus_ = 0;
  // kdump_sub_header
  uint64_t phys_base_ = 0;
  int dump_level_ = 0;
  bool split_ = false;
  uint64_t first_pfn_ = 0;  // the pfns this file holds: [first_pfn_, end_pfn_)
  uint64_t end_pfn_ = 0;
  uint64_t vmcoreinfo_offset_ = 0, vmcoreinfo_size_ = 0;
  uint64_t note_offset_ = 0, note_size_ = 0;
  uint64_t eraseinfo_offset_ = 0, eraseinfo_size_ = 0;

  // Bitmaps: in the mapping (seekable) or copied (flattened).
  uint64_t bitmap_bytes_ = 0;  // of each bitmap
  const uint8_t* bitmap1_ = nullptr;
  const uint8_t* bitmap2_ = nullptr;
  std::vector<uint8_t> bitmap_storage_;
  std::vector<uint64_t> rank_;  // dumpable pfns below each multiple of 512
  uint64_t desc_offset_ = 0;    // dump offset of the page_desc table
  uint64_t desc_count_ = 0;
  // Pages with a descriptor but no data (incomplete/truncated dump), as sorted [first, end) pfn runs.
  std::vector<std::pair<uint64_t, uint64_t>> unwritten_;

  // The shared zero page's descriptor, checked to decode to zeros on open.
  std::optional<kdump::PageDesc> zero_desc_;
  uint64_t dumped_pages_ = 0, excluded_pages_ = 0, absent_pages_ = 0;
  uint64_t limit_ = 0;
  ImageNotes notes_;
  kdump::NoteSummary note_summary_;
  std::vector<std::string> warnings_;
};

}  // namespace memscope
