#include "support/buffer_space.h"

#include <cstring>

namespace memscope::test {

void BufferSpace::map(uint64_t start, uint64_t size) {
  if (size == 0) return;
  for (uint64_t page = start / kPage; page <= (start + size - 1) / kPage; ++page)
    pages_.try_emplace(page);  // value-initialised: zeros
}

void BufferSpace::put(uint64_t address, const void* bytes, size_t n) {
  map(address, n);
  const auto* in = static_cast<const uint8_t*>(bytes);
  for (size_t i = 0; i < n;) {
    uint64_t at = address + i;
    auto& page = pages_[at / kPage];
    size_t offset = at % kPage;
    size_t take = std::min<size_t>(n - i, kPage - offset);
    std::memcpy(page.data() + offset, in + i, take);
    i += take;
  }
}

uint64_t BufferSpace::limit() const {
  return pages_.empty() ? 0 : (pages_.rbegin()->first + 1) * kPage;
}

void BufferSpace::ranges(const std::function<bool(const Range&)>& visit) const {
  Range pending{};
  bool have = false;
  for (const auto& [page, bytes] : pages_) {
    uint64_t start = page * kPage;
    if (have && pending.end() == start) {
      pending.size += kPage;
      continue;
    }
    if (have && !visit(pending)) return;
    pending = Range{start, kPage};
    have = true;
  }
  if (have) visit(pending);
}

const uint8_t* BufferSpace::peek(uint64_t address, size_t n) {
  auto it = pages_.find(address / kPage);
  if (it == pages_.end() || address % kPage + n > kPage) return nullptr;
  return it->second.data() + address % kPage;
}

IoResult BufferSpace::do_read(uint64_t address, void* buffer, size_t n, unsigned flags) {
  ++reads_;
  IoResult result;
  auto* out = static_cast<uint8_t*>(buffer);
  while (result.done < n) {
    uint64_t at = address + result.done;
    size_t offset = at % kPage;
    size_t take = std::min<size_t>(n - result.done, kPage - offset);
    auto it = pages_.find(at / kPage);
    if (it != pages_.end()) {
      std::memcpy(out + result.done, it->second.data() + offset, take);
    } else if (flags & kReadPad) {
      std::memset(out + result.done, 0, take);
    } else {
      result.fault = Fault{at, "buffer", "physical address not mapped"};
      return result;
    }
    result.done += take;
  }
  return result;
}

}  // namespace memscope::test
