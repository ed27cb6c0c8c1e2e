#include "core/layers/overlay.h"

#include <algorithm>
#include <cstring>

#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope {
namespace {

constexpr uint64_t kOffsetMask = Overlay::kPageSize - 1;

uint64_t page_of(uint64_t address) { return address & ~kOffsetMask; }

}  // namespace

// Every write, load and discard here bumps the stack's generation.
Overlay::Overlay(AddressSpace& below, std::string name) : below_(below), name_(std::move(name)) {
  share_generation(below);
}

Overlay::Page* Overlay::find(uint64_t page_address) const {
  auto it = pages_.find(page_address);
  return it == pages_.end() ? nullptr : it->second.get();
}

IoResult Overlay::do_read(uint64_t address, void* buffer, size_t n, unsigned flags) {
  if (pages_.empty()) return below_.read(address, buffer, n, flags);
  IoResult result;
  auto* out = static_cast<uint8_t*>(buffer);
  while (result.done < n) {
    uint64_t at = address + result.done;
    size_t in_page = static_cast<size_t>(kPageSize - (at & kOffsetMask));
    if (const Page* page = find(page_of(at))) {
      size_t take = std::min(n - result.done, in_page);
      std::memcpy(out + result.done, page->data() + (at & kOffsetMask), take);
      result.done += take;
      continue;
    }
    // A run of unwritten pages goes to the layer below in one read.
    size_t take = std::min(n - result.done, in_page);
    while (take < n - result.done) {
      uint64_t next = at + take;
      if (next < at || find(next)) break;
      take += std::min<size_t>(n - result.done - take, kPageSize);
    }
    IoResult lower = below_.read(at, out + result.done, take, flags);
    result.done += lower.done;
    if (!lower.ok()) {
      result.fault = std::move(lower.fault);
      return result;
    }
  }
  return result;
}

IoResult Overlay::do_write(uint64_t address, const void* buffer, size_t n) {
  IoResult result;
  if (n == 0) return result;
  uint64_t last = address + (n - 1);
  if (last < address) {
    result.fault = Fault{address, name_, "write runs past the end of the 64-bit address space"};
    return result;
  }
  // Copy every page not yet written before changing anything, so a page
  // that is not in the image leaves the overlay untouched.
  std::vector<std::pair<uint64_t, std::unique_ptr<Page>>> copies;
  for (uint64_t page = page_of(address);; page += kPageSize) {
    if (!find(page)) {
      auto copy = std::make_unique<Page>();
      IoResult lower = below_.read(page, copy->data(), kPageSize);
      if (!lower.ok()) {
        result.fault = Fault{std::max(address, lower.fault->address), name_,
                             "cannot write memory that is not in the image: page " + hex(page) +
                                 " is not fully readable (" + lower.fault->message() + ")"};
        return result;
      }
      copies.emplace_back(page, std::move(copy));
    }
    if (page == page_of(last)) break;
  }
  for (auto& [page, copy] : copies) pages_.emplace(page, std::move(copy));

  const auto* in = static_cast<const uint8_t*>(buffer);
  while (result.done < n) {
    uint64_t at = address + result.done;
    size_t take = std::min<size_t>(n - result.done, kPageSize - (at & kOffsetMask));
    std::memcpy(find(page_of(at))->data() + (at & kOffsetMask), in + result.done, take);
    result.done += take;
  }
  bump_generation();
  return result;
}

const uint8_t* Overlay::peek(uint64_t address, size_t n) {
  uint64_t last = address + (n ? n - 1 : 0);
  if (last < address) return nullptr;
  uint64_t first_page = page_of(address), last_page = page_of(last);
  if (first_page == last_page) {
    if (const Page* page = find(first_page)) return page->data() + (address & kOffsetMask);
    return below_.peek(address, n);
  }
  // Several pages: the lower layer's bytes are right only if none of them
  // was written. Check whichever is smaller, the range or the written set.
  uint64_t span_pages = (last_page - first_page) / kPageSize + 1;
  if (span_pages <= pages_.size()) {
    for (uint64_t page = first_page;; page += kPageSize) {
      if (find(page)) return nullptr;
      if (page == last_page) break;
    }
  } else {
    for (const auto& [page, bytes] : pages_)
      if (page >= first_page && page <= last_page) return nullptr;
  }
  return below_.peek(address, n);
}

void Overlay::discard() {
  pages_.clear();
  bump_generation();
}

std::vector<uint64_t> Overlay::dirty_page_addresses() const {
  std::vector<uint64_t> addresses;
  addresses.reserve(pages_.size());
  for (const auto& [page, bytes] : pages_) addresses.push_back(page);
  std::sort(addresses.begin(), addresses.end());
  return addresses;
}

const uint8_t* Overlay::dirty_page(uint64_t page_address) const {
  const Page* page = find(page_address);
  return page ? page->data() : nullptr;
}

void Overlay::replace_pages(PageMap pages) {
  for (const auto& [address, bytes] : pages) {
    if (address & kOffsetMask) throw Error(name_ + ": overlay page address " + hex(address) + " is not page-aligned");
    if (!bytes) throw Error(name_ + ": overlay page " + hex(address) + " has no bytes");
  }
  pages_ = std::move(pages);
  bump_generation();
}

}  // namespace memscope
