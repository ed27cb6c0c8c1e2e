#include "core/layers/physical_layer.h"

#include <algorithm>

namespace memscope {

const ImageNotes& PhysicalLayer::notes() const { return empty_notes_; }

void PhysicalLayer::extents(uint64_t begin, uint64_t end,
                            const std::function<bool(const PhysicalExtent&)>& visit) const {
  ranges([&](const Range& r) {
    uint64_t range_end = r.end() == 0 ? ~uint64_t{0} : r.end();  // a range ending at 2^64
    if (range_end <= begin) return true;
    if (r.start >= end) return false;
    uint64_t from = std::max(r.start, begin), to = std::min(range_end, end);
    return visit(PhysicalExtent{from, to - from, ExtentKind::kStored, PhysicalExtent::kNoFileOffset});
  });
}

IoResult PhysicalLayer::scan_read(uint64_t address, uint8_t* out, size_t n) { return read(address, out, n, kReadPad); }

}  // namespace memscope
