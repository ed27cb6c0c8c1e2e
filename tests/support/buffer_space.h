// An in-memory physical layer for tests: sparse 4 KiB pages held in a map,
// so a test can place page tables and data at any physical address
// (even above 4 GiB) without building a file.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/layers/physical_layer.h"

namespace memscope::test {

class BufferSpace : public PhysicalLayer {
 public:
  static constexpr uint64_t kPage = 4096;

  // Maps zero-filled pages over [start, start + size) (page-aligned outward).
  void map(uint64_t start, uint64_t size);
  // Stores bytes, mapping the pages they touch.
  void put(uint64_t address, const void* bytes, size_t n);
  void put_u64(uint64_t address, uint64_t value) { put(address, &value, sizeof value); }
  void put_string(uint64_t address, const std::string& s) { put(address, s.c_str(), s.size() + 1); }

  std::string format() const override { return "buffer"; }
  const std::string& path() const override { return path_; }
  uint64_t file_size() const override { return pages_.size() * kPage; }
  uint64_t limit() const override;
  void ranges(const std::function<bool(const Range&)>& visit) const override;
  const uint8_t* peek(uint64_t address, size_t n) override;
  ImageNotes& mutable_notes() { return notes_; }
  const ImageNotes& notes() const override { return notes_; }

  // Counts reads, so tests can prove that a cache avoided them.
  uint64_t reads() const { return reads_; }

 protected:
  IoResult do_read(uint64_t address, void* buffer, size_t n, unsigned flags) override;

 private:
  std::map<uint64_t, std::array<uint8_t, kPage>> pages_;  // key: page number
  std::string path_ = "<memory>";
  ImageNotes notes_;
  uint64_t reads_ = 0;
};

}  // namespace memscope::test
