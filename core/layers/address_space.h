// The one interface every layer of the stack implements: a file format's
// physical space, the x86_64 paging layer's virtual space, the overlay.
//
// Layers stack: each knows the layer below it. Reads return how many bytes
// were transferred and, when they stop early, a Fault that names the address
// and the layer, so both the libkvm-style C API (all or -1) and scanners
// (keep going past holes) can be built on the same call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace memscope {

// A mapped, contiguous range of addresses: [start, start + size).
struct Range {
  uint64_t start = 0;
  uint64_t size = 0;
  // One past the last byte; wraps to 0 for a range ending at 2^64.
  uint64_t end() const { return start + size; }
  bool contains(uint64_t address) const { return address - start < size; }
  bool operator==(const Range&) const = default;
};

// Why a read or write stopped: the first address that could not be
// transferred, the layer that refused it, and a human-readable reason
// ("not mapped", "page table entry not present at level 3", ...).
struct Fault {
  uint64_t address = 0;
  std::string layer;
  std::string reason;
  // "<layer>: cannot read 0x...: <reason>"
  std::string message(const char* verb = "read") const;
};

struct IoResult {
  size_t done = 0;            // bytes transferred before the fault (or all)
  std::optional<Fault> fault;  // set when done < requested
  bool ok() const { return !fault; }
};

// Read flags.
enum ReadFlags : unsigned {
  kReadStrict = 0,
  // Fill unmapped bytes with zeros and keep going: for scanners that walk
  // over holes. `done` then counts every byte, and `fault` stays empty.
  kReadPad = 1u << 0,
};

class AddressSpace {
 public:
  virtual ~AddressSpace() = default;
  AddressSpace() = default;
  AddressSpace(const AddressSpace&) = delete;
  AddressSpace& operator=(const AddressSpace&) = delete;

  // Short name for messages and `memscope info`: "lime", "x86_64-4level", ...
  virtual std::string name() const = 0;

  // The layer this one reads from, or nullptr for a file-format layer.
  virtual AddressSpace* below() const = 0;

  // One past the highest address that can be mapped (for a physical image:
  // the end of its last range); 0 means the whole 64-bit space.
  virtual uint64_t limit() const = 0;

  // Reads n bytes at `address`. Strict reads stop at the first byte that
  // cannot be read and return a Fault; see kReadPad.
  IoResult read(uint64_t address, void* buffer, size_t n, unsigned flags = kReadStrict) {
    return do_read(address, buffer, n, flags);
  }

  // Writes n bytes. Only the overlay (and layers that translate down to it)
  // accepts writes: the default refuses, so evidence is never touched.
  IoResult write(uint64_t address, const void* buffer, size_t n) {
    return do_write(address, buffer, n);
  }

  // Visits the mapped ranges in ascending order, merged where adjacent.
  // The visitor returns false to stop early.
  virtual void ranges(const std::function<bool(const Range&)>& visit) const = 0;

  // A pointer to n readable bytes at `address` held in memory (mmap'd file,
  // overlay page, decompressed chunk), or nullptr when the layer cannot
  // give one without copying. Valid until generation() changes.
  virtual const uint8_t* peek(uint64_t address, size_t n);

  // Changes whenever the bytes a read would return may have changed
  // (a write to the overlay, an overlay load or discard). Layers that cache
  // translations or pointers compare it to drop stale entries.
  virtual uint64_t generation() const;

  // Convenience: reads exactly n bytes or throws ReadError with the fault.
  void read_exact(uint64_t address, void* buffer, size_t n);
  template <typename T>
  T read_value(uint64_t address) {
    T value;
    read_exact(address, &value, sizeof value);
    return value;
  }
  // True if every byte of [address, address + n) is readable.
  bool is_readable(uint64_t address, size_t n);

 protected:
  // What each layer implements behind read() and write().
  virtual IoResult do_read(uint64_t address, void* buffer, size_t n, unsigned flags) = 0;
  virtual IoResult do_write(uint64_t address, const void* buffer, size_t n);
};

}  // namespace memscope
