#include "formats/kdump/dump_file.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "core/util/error.h"
#include "core/util/hex.h"
#include "formats/kdump/kdump_format.h"

namespace memscope::kdump {

bool DumpFile::is_flattened(const MappedFile& file) {
  std::string_view head = file.bytes(0, flat::kSignatureField);
  return !head.empty() && head.substr(0, flat::kSignature.size()) == flat::kSignature;
}

DumpFile::DumpFile(std::shared_ptr<const MappedFile> file) : file_(std::move(file)) {
  flattened_ = is_flattened(*file_);
  if (!flattened_) {
    size_ = file_->size();
    return;
  }
  const std::string& path = file_->path();
  const uint8_t* data = file_->data();
  if (file_->size() < flat::kHeaderSize)
    throw FormatError(path + ": flattened kdump (makedumpfile): the " + std::to_string(flat::kHeaderSize) +
                      "-byte stream header is cut short at " + std::to_string(file_->size()) + " bytes (truncated?)");
  // char signature[16]: "makedumpfile" and NULs.
  for (size_t i = flat::kSignature.size(); i < flat::kSignatureField; ++i)
    if (data[i] != 0)
      throw FormatError(path + ": flattened kdump (makedumpfile): header field signature (file offset 0x0) is not "
                               "\"makedumpfile\" followed by NULs");
  int64_t type = load_be_i64(data + flat::kType);
  if (type != flat::kType1)
    throw FormatError(path + ": flattened kdump (makedumpfile): header field type (file offset " + hex(flat::kType) +
                      ") is " + std::to_string(type) + ", only type 1 (flattened format) exists");
  int64_t version = load_be_i64(data + flat::kVersion);
  if (version != flat::kVersion1)
    throw FormatError(path + ": flattened kdump (makedumpfile): header field version (file offset " +
                      hex(flat::kVersion) + ") is " + std::to_string(version) + ", only version 1 is known");
  index_records();
}

void DumpFile::index_records() {
  const uint8_t* data = file_->data();
  const uint64_t file_size = file_->size();
  std::vector<Extent> in_order;
  uint64_t pos = flat::kHeaderSize;
  bool ended = false;
  // Each record consumes at least its 16-byte header: at most file_size / 16 turns.
  while (pos < file_size) {
    if (file_size - pos < flat::kRecordHeaderSize) {
      warnings_.push_back(file_->path() + ": flattened kdump: " + std::to_string(file_size - pos) +
                          " stray bytes at file offset " + hex(pos) + ", too few for a record header (truncated?)");
      break;
    }
    int64_t offset = load_be_i64(data + pos);
    int64_t size = load_be_i64(data + pos + 8);
    if (offset == flat::kEndFlag && size == flat::kEndFlag) {
      ended = true;
      break;
    }
    if (offset < 0 || size < 0) {
      warnings_.push_back(file_->path() + ": flattened kdump: record at file offset " + hex(pos) +
                          " is corrupt (offset " + std::to_string(offset) + ", size " + std::to_string(size) +
                          "); the " + std::to_string(in_order.size()) + " records before it are used");
      break;
    }
    uint64_t data_at = pos + flat::kRecordHeaderSize;
    uint64_t length = static_cast<uint64_t>(size);
    uint64_t start = static_cast<uint64_t>(offset);
    if (length > file_size - data_at) {
      warnings_.push_back(file_->path() + ": flattened kdump: record at file offset " + hex(pos) + " holds " +
                          std::to_string(length) + " bytes for dump offset " + hex(start) + " but only " +
                          std::to_string(file_size - data_at) + " remain in the file (truncated?)");
      length = file_size - data_at;
    }
    if (length > ~uint64_t{0} - start) length = ~uint64_t{0} - start;  // a record reaching past 2^64
    if (length > 0) in_order.push_back(Extent{start, length, data_at});
    ++records_;
    pos = data_at + length;
    if (length < static_cast<uint64_t>(size)) break;
  }
  if (!ended && warnings_.empty())
    warnings_.push_back(file_->path() + ": flattened kdump: the stream ends at file offset " + hex(pos) +
                        " without its end marker (truncated?)");
  resolve_overlaps(in_order);
  size_ = extents_.empty() ? 0 : extents_.back().end();
}

void DumpFile::resolve_overlaps(std::vector<Extent>& in_order) {
  std::vector<Extent> sorted = in_order;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Extent& a, const Extent& b) { return a.offset < b.offset; });
  bool overlap = false;
  for (size_t i = 1; i < sorted.size() && !overlap; ++i) overlap = sorted[i].offset < sorted[i - 1].end();
  if (!overlap) {
    extents_ = std::move(sorted);
    return;
  }
  // A byte written twice holds what was written last: walk the records from
  // the last one back, keeping only the parts no later record covered.
  std::map<uint64_t, Extent> covered;  // by start offset; disjoint
  for (auto it = in_order.rbegin(); it != in_order.rend(); ++it) {
    uint64_t at = it->offset;
    const uint64_t end = it->end();
    auto next = covered.upper_bound(at);
    if (next != covered.begin() && std::prev(next)->second.end() > at) at = std::prev(next)->second.end();
    while (at < end) {
      next = covered.lower_bound(at);
      uint64_t stop = next == covered.end() ? end : std::min(end, next->first);
      if (stop > at) covered.emplace(at, Extent{at, stop - at, it->file_offset + (at - it->offset)});
      if (next == covered.end() || next->first >= end) break;
      at = next->second.end();
    }
  }
  extents_.clear();
  extents_.reserve(covered.size());
  for (auto& [start, extent] : covered) extents_.push_back(extent);
}

size_t DumpFile::find(uint64_t offset) const {
  auto it = std::upper_bound(extents_.begin(), extents_.end(), offset,
                             [](uint64_t o, const Extent& e) { return o < e.offset; });
  if (it == extents_.begin()) return extents_.size();
  --it;
  return offset - it->offset < it->size ? static_cast<size_t>(it - extents_.begin()) : extents_.size();
}

bool DumpFile::contains(uint64_t offset, uint64_t n) const {
  if (!flattened_) return file_->contains(offset, n);
  if (n == 0) return true;
  size_t i = find(offset);
  uint64_t at = offset;
  const uint64_t end = offset + n;
  if (end < offset) return false;
  while (i < extents_.size() && extents_[i].offset <= at) {
    if (extents_[i].end() >= end) return true;
    at = extents_[i].end();
    ++i;
  }
  return false;
}

const uint8_t* DumpFile::bytes(uint64_t offset, size_t n, std::vector<uint8_t>& scratch) const {
  if (!flattened_) return file_->contains(offset, n) ? file_->data() + offset : nullptr;
  size_t i = find(offset);
  if (i == extents_.size()) return nullptr;
  const Extent& first = extents_[i];
  if (first.end() - offset >= n) return file_->data() + first.file_offset + (offset - first.offset);
  if (!contains(offset, n)) return nullptr;
  scratch.resize(n);
  size_t done = 0;
  while (done < n) {
    const Extent& e = extents_[i++];
    uint64_t at = offset + done;
    size_t take = static_cast<size_t>(std::min<uint64_t>(n - done, e.end() - at));
    std::memcpy(scratch.data() + done, file_->data() + e.file_offset + (at - e.offset), take);
    done += take;
  }
  return scratch.data();
}

std::optional<uint64_t> DumpFile::file_offset(uint64_t offset) const {
  if (!flattened_) return offset;
  size_t i = find(offset);
  if (i == extents_.size()) return std::nullopt;
  return extents_[i].file_offset + (offset - extents_[i].offset);
}

std::string DumpFile::where(uint64_t offset) const {
  if (!flattened_) return "file offset " + hex(offset);
  std::optional<uint64_t> at = file_offset(offset);
  return "dump offset " + hex(offset) +
         (at ? " (file offset " + hex(*at) + ")" : std::string(" (in no record of the flattened file)"));
}

}  // namespace memscope::kdump
