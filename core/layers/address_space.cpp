#include "core/layers/address_space.h"

#include <vector>

#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope {

std::string Fault::message(const char* verb) const {
  return layer + ": cannot " + verb + " " + hex(address) + ": " + reason;
}

IoResult AddressSpace::do_write(uint64_t address, const void*, size_t n) {
  IoResult result;
  if (n == 0) return result;
  result.fault = Fault{address, name(), "layer is read-only (writes go to an overlay)"};
  return result;
}

const uint8_t* AddressSpace::peek(uint64_t, size_t) { return nullptr; }

void AddressSpace::release(uint64_t, uint64_t) {}

void AddressSpace::read_exact(uint64_t address, void* buffer, size_t n) {
  IoResult result = read(address, buffer, n);
  if (result.done == n) return;
  if (result.fault) throw ReadError(result.fault->address, result.fault->layer, result.fault->message());
  throw ReadError(address + result.done, name(), name() + ": short read at " + hex(address + result.done));
}

bool AddressSpace::is_readable(uint64_t address, size_t n) {
  // Probe one byte per page rather than copying the whole range.
  uint8_t byte;
  uint64_t end = address + n;
  for (uint64_t at = address; n && at - address < n;) {
    if (read(at, &byte, 1).done != 1) return false;
    uint64_t next = (at | 0xfff) + 1;
    if (next == 0 || next >= end || next < at) break;
    at = next;
  }
  if (n && read(end - 1, &byte, 1).done != 1) return false;
  return true;
}

}  // namespace memscope
