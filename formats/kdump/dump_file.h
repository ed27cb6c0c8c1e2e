// The bytes of a kdump-compressed dump by dump offset, whichever way the
// file lays them out:
//  - seekable (what makedumpfile writes to a file): dump offset = file
//    offset, served straight from the read-only mapping;
//  - flattened (makedumpfile -F, and QEMU's dump-guest-memory, which write
//    to a pipe): a stream of {offset, size} records. The records are indexed
//    once on open (sorted, a later record winning where two overlap) and
//    read in place, so the file is never rewritten and reads stay random
//    access.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/layers/mapped_file.h"

namespace memscope::kdump {

class DumpFile {
 public:
  // True if the file starts with the flattened stream's signature.
  static bool is_flattened(const MappedFile& file);

  // Indexes a flattened stream's records (bounded by the file size). A
  // malformed flattened header is a FormatError naming the field; a
  // truncated or corrupt record list is a warning, and what came before it
  // is kept.
  explicit DumpFile(std::shared_ptr<const MappedFile> file);

  const MappedFile& file() const { return *file_; }
  const std::shared_ptr<const MappedFile>& shared_file() const { return file_; }
  bool flattened() const { return flattened_; }
  // One past the highest dump offset the file holds.
  uint64_t size() const { return size_; }
  uint64_t record_count() const { return records_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

  // True if every byte of [offset, offset + n) is in the file.
  bool contains(uint64_t offset, uint64_t n) const;
  // [offset, offset + n): a pointer into the mapping when the bytes lie in
  // one piece, else copied into `scratch`; nullptr when any byte is absent
  // (past the end, or in no record).
  const uint8_t* bytes(uint64_t offset, size_t n, std::vector<uint8_t>& scratch) const;
  // Where dump offset `offset` lies, for messages: "file offset 0x..", or
  // for a flattened file "dump offset 0x.. (file offset 0x..)" or
  // "dump offset 0x.. (in no record of the flattened file)".
  std::string where(uint64_t offset) const;
  // The file offset of dump offset `offset`, if the file holds it.
  std::optional<uint64_t> file_offset(uint64_t offset) const;

 private:
  struct Extent {
    uint64_t offset = 0;  // dump offset
    uint64_t size = 0;
    uint64_t file_offset = 0;
    uint64_t end() const { return offset + size; }
  };
  void index_records();
  void resolve_overlaps(std::vector<Extent>& in_stream_order);
  // Index of the extent holding `offset`, or extents_.size().
  size_t find(uint64_t offset) const;

  std::shared_ptr<const MappedFile> file_;
  bool flattened_ = false;
  uint64_t size_ = 0;
  uint64_t records_ = 0;
  std::vector<Extent> extents_;  // flattened only: sorted, disjoint
  std::vector<std::string> warnings_;
};

}  // namespace memscope::kdump
