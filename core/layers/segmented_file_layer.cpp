#include "core/layers/segmented_file_layer.h"

#include <algorithm>
#include <cstring>

#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope {

namespace {

// Ranges named in one warning at most; the rest are counted.
constexpr size_t kRangesNamed = 8;

std::string describe_ranges(const std::vector<MissingRange>& ranges, size_t first) {
  std::string out;
  uint64_t bytes = 0;
  for (size_t i = first; i < ranges.size(); ++i) {
    bytes += ranges[i].size;
    if (i - first < kRangesNamed)
      out += (out.empty() ? "" : ", ") + hex(ranges[i].physical) + "-" + hex(ranges[i].physical + ranges[i].size);
  }
  if (ranges.size() - first > kRangesNamed)
    out += " and " + std::to_string(ranges.size() - first - kRangesNamed) + " more";
  return out + " (" + std::to_string(bytes) + " bytes)";
}

}  // namespace

SegmentedFileLayer::SegmentedFileLayer(std::shared_ptr<const MappedFile> file, std::string format,
                                       std::vector<FileSegment> segments, std::vector<MissingRange> missing)
    : file_(std::move(file)), format_(std::move(format)), segments_(std::move(segments)), missing_(std::move(missing)) {
  std::erase_if(segments_, [](const FileSegment& s) { return s.size == 0; });
  std::erase_if(missing_, [](const MissingRange& m) { return m.size == 0; });
  for (const FileSegment& s : segments_)
    if (s.physical + s.size < s.physical)
      throw FormatError(file_->path() + ": " + format_ + " range at physical " + hex(s.physical) + " of " +
                        hex(s.size) + " bytes wraps past 2^64");
  std::sort(segments_.begin(), segments_.end(),
            [](const FileSegment& a, const FileSegment& b) { return a.physical < b.physical; });
  cut_at_end_of_file();
  resolve_overlaps();
  std::sort(missing_.begin(), missing_.end(),
            [](const MissingRange& a, const MissingRange& b) { return a.physical < b.physical; });
}

// A segment whose bytes run past the end of the file (an acquisition cut
// short, a disk that filled): its first part is served, the rest is a
// missing range, and one warning says what is lost.
void SegmentedFileLayer::cut_at_end_of_file() {
  const uint64_t file_size = file_->size();
  const size_t missing_before = missing_.size();
  uint64_t needed_end = 0;
  for (FileSegment& s : segments_) {
    if (file_->contains(s.file_offset, s.size)) continue;
    const uint64_t kept = s.file_offset < file_size ? file_size - s.file_offset : 0;
    const uint64_t bytes_end = s.file_offset + s.size < s.file_offset ? ~uint64_t{0} : s.file_offset + s.size;
    needed_end = std::max(needed_end, bytes_end);
    missing_.push_back(MissingRange{s.physical + kept, s.size - kept,
                                    "not in the file: " + file_->path() + " ends at file offset " + hex(file_size) +
                                        " but the " + format_ + " range at physical " + hex(s.physical) +
                                        " runs to file offset " + hex(bytes_end) + " (truncated image)"});
    s.size = kept;
  }
  if (missing_.size() == missing_before) return;
  std::erase_if(segments_, [](const FileSegment& s) { return s.size == 0; });
  if (segments_.empty())
    throw FormatError(file_->path() + ": truncated: the file ends at " + hex(file_size) + ", before any byte of its " +
                      format_ + " ranges (they need file bytes up to " + hex(needed_end) + "): no memory to read");
  add_warning(file_->path() + ": truncated: the file ends at " + hex(file_size) + " but its " + format_ +
              " ranges need file bytes up to " + hex(needed_end) + "; physical memory not in the file: " +
              describe_ranges(missing_, missing_before) + "; reads there fail, results may be incomplete");
}

// Two segments claiming the same physical addresses: the lower one keeps
// them (which copy is right cannot be known), the other keeps what lies
// beyond, and one warning names the first overlap and counts them.
void SegmentedFileLayer::resolve_overlaps() {
  std::vector<FileSegment> kept;
  kept.reserve(segments_.size());
  uint64_t overlaps = 0, ignored_bytes = 0;
  std::string first;
  for (FileSegment s : segments_) {
    if (!kept.empty()) {
      const FileSegment& last = kept.back();
      const uint64_t last_end = last.physical + last.size;
      if (s.physical < last_end) {
        const uint64_t overlap = std::min(last_end, s.physical + s.size) - s.physical;
        if (overlaps++ == 0)
          first = "physical " + hex(s.physical) + "-" + hex(s.physical + overlap) + " (file offsets " +
                  hex(last.file_offset + (s.physical - last.physical)) + " and " + hex(s.file_offset) + ")";
        ignored_bytes += overlap;
        s.physical += overlap;
        s.file_offset += overlap;
        s.size -= overlap;
        if (s.size == 0) continue;
      }
    }
    kept.push_back(s);
  }
  segments_ = std::move(kept);
  if (overlaps)
    add_warning(file_->path() + ": " + std::to_string(overlaps) + " " + format_ +
                " range(s) overlap another, first at " + first + ": the range starting lower is used there, " +
                std::to_string(ignored_bytes) + " bytes of the others are ignored (which copy is right cannot be known)");
}

std::string SegmentedFileLayer::missing_reason(uint64_t address) const {
  auto it = std::upper_bound(missing_.begin(), missing_.end(), address,
                             [](uint64_t a, const MissingRange& m) { return a < m.physical; });
  if (it != missing_.begin()) {
    const MissingRange& m = *(it - 1);
    if (address - m.physical < m.size) return m.why;
  }
  return "physical address not in the image";
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
      result.fault = Fault{at, format_, missing_.empty() ? "physical address not in the image" : missing_reason(at)};
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
