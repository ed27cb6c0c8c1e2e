#include "core/layers/segmented_file_layer.h"

#include <algorithm>
#include <cstring>

#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope {

SegmentedFileLayer::SegmentedFileLayer(std::shared_ptr<const MappedFile> file, std::string format,
                                       std::vector<FileSegment> segments)
    : file_(std::move(file)), format_(std::move(format)), segments_(std::move(segments)) {
  std::erase_if(segments_, [](const FileSegment& s) { return s.size == 0; });
  std::sort(segments_.begin(), segments_.end(),
            [](const FileSegment& a, const FileSegment& b) { return a.physical < b.physical; });
  for (size_t i = 0; i < segments_.size(); ++i) {
    const FileSegment& s = segments_[i];
    if (!file_->contains(s.file_offset, s.size))
      throw FormatError(file_->path() + ": " + format_ + " range at physical " + hex(s.physical) +
                        " needs file bytes " + hex(s.file_offset) + ".." + hex(s.file_offset + s.size) +
                        " but the file ends at " + hex(file_->size()) + " (truncated image?)");
    if (s.physical + s.size < s.physical)
      throw FormatError(file_->path() + ": " + format_ + " range at physical " + hex(s.physical) +
                        " of " + hex(s.size) + " bytes wraps past 2^64");
    if (i > 0 && segments_[i - 1].physical + segments_[i - 1].size > s.physical)
      throw FormatError(file_->path() + ": " + format_ + " ranges overlap at physical " + hex(s.physical) +
                        " (file offset " + hex(s.file_offset) + ")");
  }
}

uint64_t SegmentedFileLayer::limit() const {
  return segments_.empty() ? 0 : segments_.back().physical + segments_.back().size;
}

size_t SegmentedFileLayer::find(uint64_t address) const {
  if (last_hit_ < segments_.size()) {
    const FileSegment& s = segments_[last_hit_];
    if (address - s.physical < s.size) return last_hit_;
  }
  auto it = std::upper_bound(segments_.begin(), segments_.end(), address,
                             [](uint64_t a, const FileSegment& s) { return a < s.physical; });
  size_t index = static_cast<size_t>(it - segments_.begin());
  if (index > 0) {
    const FileSegment& s = segments_[index - 1];
    if (address - s.physical < s.size) {
      last_hit_ = index - 1;
      return index - 1;
    }
  }
  return index;
}

IoResult SegmentedFileLayer::do_read(uint64_t address, void* buffer, size_t n, unsigned flags) {
  IoResult result;
  auto* out = static_cast<uint8_t*>(buffer);
  while (result.done < n) {
    uint64_t at = address + result.done;
    size_t want = n - result.done;
    size_t index = find(at);
    if (index < segments_.size() && at - segments_[index].physical < segments_[index].size) {
      const FileSegment& s = segments_[index];
      uint64_t inside = at - s.physical;
      size_t take = static_cast<size_t>(std::min<uint64_t>(want, s.size - inside));
      std::memcpy(out + result.done, file_->data() + s.file_offset + inside, take);
      result.done += take;
      continue;
    }
    // `at` is in a hole: up to the next segment, or to the end of the request.
    uint64_t gap = want;
    if (index < segments_.size()) gap = std::min<uint64_t>(gap, segments_[index].physical - at);
    if (!(flags & kReadPad)) {
      result.fault = Fault{at, format_, "physical address not in the image"};
      return result;
    }
    std::memset(out + result.done, 0, gap);
    result.done += gap;
  }
  return result;
}

void SegmentedFileLayer::ranges(const std::function<bool(const Range&)>& visit) const {
  Range pending{};
  bool have = false;
  for (const FileSegment& s : segments_) {
    if (have && pending.end() == s.physical) {
      pending.size += s.size;
      continue;
    }
    if (have && !visit(pending)) return;
    pending = Range{s.physical, s.size};
    have = true;
  }
  if (have) visit(pending);
}

void SegmentedFileLayer::release(uint64_t address, uint64_t n) {
  uint64_t end = address + n < address ? ~uint64_t{0} : address + n;
  for (size_t index = find(address); index < segments_.size() && segments_[index].physical < end; ++index) {
    const FileSegment& s = segments_[index];
    uint64_t from = std::max(address, s.physical), to = std::min(end, s.physical + s.size);
    if (from < to) file_->release(s.file_offset + (from - s.physical), to - from);
  }
}

void SegmentedFileLayer::extents(uint64_t begin, uint64_t end,
                                 const std::function<bool(const PhysicalExtent&)>& visit) const {
  auto first = std::upper_bound(segments_.begin(), segments_.end(), begin,
                                [](uint64_t a, const FileSegment& s) { return a < s.physical; });
  if (first != segments_.begin()) --first;
  for (auto it = first; it != segments_.end() && it->physical < end; ++it) {
    const FileSegment& s = *it;
    uint64_t from = std::max(begin, s.physical), to = std::min(end, s.physical + s.size);
    if (from >= to) continue;
    bool go_on = true;
    file_->data_regions(s.file_offset + (from - s.physical), to - from, [&](uint64_t offset, uint64_t size, bool hole) {
      go_on = visit(PhysicalExtent{s.physical + (offset - s.file_offset), size,
                                   hole ? ExtentKind::kZero : ExtentKind::kFile, offset});
      return go_on;
    });
    if (!go_on) return;
  }
}

const uint8_t* SegmentedFileLayer::peek(uint64_t address, size_t n) {
  size_t index = find(address);
  if (index >= segments_.size()) return nullptr;
  const FileSegment& s = segments_[index];
  uint64_t inside = address - s.physical;
  if (inside >= s.size || n > s.size - inside) return nullptr;
  return file_->data() + s.file_offset + inside;
}

}  // namespace memscope
