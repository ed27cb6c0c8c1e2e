// A physical layer whose bytes lie uncompressed in the evidence file as a
// list of segments (raw: one; LiME: one per range; ELF: one per PT_LOAD).
// Reads are served straight from the mmap'd file. Format parsers only build
// the segment list.
#pragma once

#include <memory>
#include <vector>

#include "core/layers/mapped_file.h"
#include "core/layers/physical_layer.h"

namespace memscope {

struct FileSegment {
  uint64_t physical = 0;     // first physical address
  uint64_t size = 0;         // bytes
  uint64_t file_offset = 0;  // where the bytes start in the file
};

// Physical memory the container declares but the file does not hold (a
// file cut short): reads there fail with `why`, which names the file and
// what the container expected.
struct MissingRange {
  uint64_t physical = 0;
  uint64_t size = 0;
  std::string why;
};

class SegmentedFileLayer : public PhysicalLayer {
 public:
  // Segments may come in any order; they are sorted. Damaged evidence is
  // served as far as it goes, with one warning per kind of damage (see
  // warnings()): a segment that runs past the end of the file keeps the
  // bytes the file holds, and the rest becomes a missing range; where two
  // segments overlap, the one starting lower keeps the addresses (the
  // other's bytes there are not used). `missing` adds ranges the format
  // found missing itself (a truncated header walk). Throws FormatError
  // (naming the file) only for a segment that wraps past 2^64.
  SegmentedFileLayer(std::shared_ptr<const MappedFile> file, std::string format,
                     std::vector<FileSegment> segments, std::vector<MissingRange> missing = {});

  std::string format() const override { return format_; }
  const std::string& path() const override { return file_->path(); }
  uint64_t file_size() const override { return file_->size(); }
  const MappedFile* mapped_file() const override { return file_.get(); }
  uint64_t limit() const override;
  void ranges(const std::function<bool(const Range&)>& visit) const override;
  const uint8_t* peek(uint64_t address, size_t n) override;
  // Drops the mapped file's pages behind [address, address + n).
  void release(uint64_t address, uint64_t n) override;
  // Each segment's bytes are kFile, except the holes of a sparse evidence
  // file (kZero with their file offset); the gaps between segments are not
  // visited.
  void extents(uint64_t begin, uint64_t end, const std::function<bool(const PhysicalExtent&)>& visit) const override;

  const std::vector<FileSegment>& segments() const { return segments_; }
  // What the container declares and the file lacks, sorted by address.
  const std::vector<MissingRange>& missing() const { return missing_; }
  const MappedFile& file() const { return *file_; }

 protected:
  IoResult do_read(uint64_t address, void* buffer, size_t n, unsigned flags) override;

 private:
  // Index of the segment holding `address`, or the first one above it
  // (segments_.size() if none).
  size_t find(uint64_t address) const;
  // Why `address` (not in any segment) cannot be read.
  std::string missing_reason(uint64_t address) const;
  void cut_at_end_of_file();
  void resolve_overlaps();

  std::shared_ptr<const MappedFile> file_;
  std::string format_;
  std::vector<FileSegment> segments_;
  std::vector<MissingRange> missing_;
  mutable size_t last_hit_ = 0;  // most reads land in the same segment
};

}  // namespace memscope
