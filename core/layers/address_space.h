// The one interface every layer of the stack implements: a file format's
// physical space, the x86_64 paging layer's virtual space, the overlay.
//
// Layers stack: each knows the layer below it. Reads return how many bytes
// were transferred and, when they stop early, a Fault that names the address
// and the layer, so both the libkvm-style C API (all or -1) and scanners
// (keep going past holes) can be built on the same call.
//
// Reads are the hot path of every analysis (millions of 8-byte pointer
// reads), so a successful one must cost no more than its copy: IoResult is
// two words (the Fault is allocated only when a transfer stops early), and
// generation() is a load, not a walk down the stack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
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

// Owns the Fault of a transfer that stopped early, and is empty otherwise:
// building or dropping an empty one is a null pointer, where a
// std::optional<Fault> (two strings) cost more than a cached read. Reads
// like a pointer (`if (r.fault)`, `r.fault->address`); a Fault assigned to
// it is moved to the heap (`result.fault = Fault{...}`), which only failing
// transfers pay.
class FaultPtr {
 public:
  FaultPtr() = default;
  FaultPtr(Fault fault) : fault_(std::make_unique<Fault>(std::move(fault))) {}  // NOLINT: implicit on purpose
  explicit operator bool() const { return fault_ != nullptr; }
  Fault& operator*() const { return *fault_; }
  Fault* operator->() const { return fault_.get(); }
  Fault* get() const { return fault_.get(); }

 private:
  std::unique_ptr<Fault> fault_;
};

struct IoResult {
  size_t done = 0;  // bytes transferred before the fault (or all)
  FaultPtr fault;   // set when done < requested
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

  // A hint that the caller is done with [address, address + n) for now: a
  // layer that holds those bytes mapped may drop them from the process
  // (they are read again on demand), so that scanning a whole image does
  // not keep it all resident. Pointers from peek() stay valid. Default:
  // nothing.
  virtual void release(uint64_t address, uint64_t n);

  // Changes whenever the bytes a read would return may have changed
  // (a write to the overlay, an overlay load or discard). Layers that cache
  // translations or pointers compare it to drop stale entries, on every
  // read: so it is one load. A whole stack shares one counter (see
  // share_generation), which a change anywhere in it bumps; a layer may
  // therefore see a new generation when only a neighbour changed, which
  // costs a cache flush and is never wrong.
  uint64_t generation() const { return *generation_; }

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

  // For a layer built on `below` (in its constructor): use below's
  // generation counter, so changes below are seen here and above.
  void share_generation(const AddressSpace& below) { generation_ = below.generation_; }
  // For a layer whose bytes just changed (the overlay): bumps the stack's
  // generation, so every layer caching above it drops its caches.
  void bump_generation() { ++*generation_; }

 private:
  // A bottom layer's counter; layers above point at it. Layers are built
  // on (and destroyed before) the layers below them, so the pointer stays
  // valid as long as the layer does.
  uint64_t own_generation_ = 0;
  uint64_t* generation_ = &own_generation_;
};

}  // namespace memscope
