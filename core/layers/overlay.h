// The copy-on-write overlay: where kvm_write lands. The evidence below is
// never modified; the first write to a 4 KiB page copies that page from the
// layer below, then patches the copy. Reads see the written pages, and the
// overlay can be discarded, or saved and reloaded (core/overlay_file.h).
//
// Put it directly on the physical layer and the paging layer on top of it:
// a virtual write then lands at the physical page, and page-table edits
// made through it are seen by the paging layer (generation() changes).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/layers/address_space.h"

namespace memscope {

class Overlay : public AddressSpace {
 public:
  static constexpr uint64_t kPageSize = 4096;
  using Page = std::array<uint8_t, kPageSize>;
  // Page-aligned address -> its bytes. unique_ptr keeps peek() pointers
  // stable while the map rehashes.
  using PageMap = std::unordered_map<uint64_t, std::unique_ptr<Page>>;

  explicit Overlay(AddressSpace& below, std::string name = "overlay");

  std::string name() const override { return name_; }
  AddressSpace* below() const override { return &below_; }
  uint64_t limit() const override { return below_.limit(); }
  // Writes cannot create memory, so the mapped ranges are the lower layer's.
  void ranges(const std::function<bool(const Range&)>& visit) const override {
    below_.ranges(visit);
  }
  // The written page's bytes when [address, address + n) touches only
  // unwritten pages or a single written page; else nullptr.
  const uint8_t* peek(uint64_t address, size_t n) override;
  // Written pages stay; the lower layer may drop its copy of the rest.
  void release(uint64_t address, uint64_t n) override { below_.release(address, n); }

  // Forgets every write.
  void discard();
  size_t dirty_pages() const { return pages_.size(); }
  // Addresses of the written pages, ascending.
  std::vector<uint64_t> dirty_page_addresses() const;
  // The bytes of the written page at `page_address` (page-aligned), or
  // nullptr if that page was not written.
  const uint8_t* dirty_page(uint64_t page_address) const;
  // Replaces every written page with `pages` at once (used by overlay
  // loading, which validates the whole file first). Throws Error, changing
  // nothing, if a key is not page-aligned or a page is null.
  void replace_pages(PageMap pages);

 protected:
  IoResult do_read(uint64_t address, void* buffer, size_t n, unsigned flags) override;
  // All or nothing: if any page of the range cannot be read below (memory
  // that is not in the image), nothing is written and the Fault names it.
  IoResult do_write(uint64_t address, const void* buffer, size_t n) override;

 private:
  Page* find(uint64_t page_address) const;

  AddressSpace& below_;
  std::string name_;
  PageMap pages_;
};

}  // namespace memscope
