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

class SegmentedFileLayer : public PhysicalLayer {
 public:
  // Segments may come in any order; they are sorted. Throws FormatError
  // (naming the file and offset) if a segment runs past the end of the file
  // or two segments overlap.
  SegmentedFileLayer(std::shared_ptr<const MappedFile> file, std::string format,
                     std::vector<FileSegment> segments);

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
  const MappedFile& file() const { return *file_; }

 protected:
  IoResult do_read(uint64_t address, void* buffer, size_t n, unsigned flags) override;

 private:
  // Index of the segment holding `address`, or the first one above it
  // (segments_.size() if none).
  size_t find(uint64_t address) const;

  std::shared_ptr<const MappedFile> file_;
  std::string format_;
  std::vector<FileSegment> segments_;
  mutable size_t last_hit_ = 0;  // most reads land in the same segment
};

}  // namespace memscope
