// Fuzz target for the x86_64 page-table walker (core/layers/x86_64_paging.h)
// over random page-table memory: the input is a header (the top table's
// page, 4 or 5 levels, virtual addresses to translate) followed by the
// physical memory, placed at physical 0 page after page. Tables that point
// at themselves or at each other, huge pages past the end of memory and
// non-canonical addresses are what it is for: translations, reads,
// ranges() and for_each_mapping() must stay bounded and correct.
#include <vector>

#include "core/layers/x86_64_paging.h"
#include "core/util/error.h"
#include "fuzz/fuzz_support.h"
#include "support/buffer_space.h"

using namespace memscope;

namespace {

constexpr size_t kHeaderSize = 4 + 1 + 8 * 8;
constexpr size_t kMaxVisits = 4096;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kHeaderSize) return 0;
  fuzz::Bytes header(data, kHeaderSize);
  const size_t memory_size = size - kHeaderSize;
  const uint64_t pages = (memory_size + 4095) / 4096;
  const uint64_t top = pages ? (header.u32() % pages) * 4096 : 0;
  const int levels = (header.u8() & 1) ? 5 : 4;
  test::BufferSpace memory;
  if (memory_size) memory.put(0, data + kHeaderSize, memory_size);
  try {
    X86_64Paging space(memory, top | 0x3, levels, "", 64);
    uint8_t buffer[64];
    for (int i = 0; i < 8; ++i) {
      const uint64_t vaddr = header.u64();
      Fault why;
      if (auto t = space.translate(vaddr, &why)) {
        (void)t->physical;
      } else {
        (void)why.message();
      }
      (void)space.read(vaddr, buffer, sizeof buffer);
      (void)space.peek(vaddr, 8);
      // Across a page boundary too.
      (void)space.read(vaddr | 0xff0, buffer, sizeof buffer);
    }
    size_t visits = 0;
    space.ranges([&](const Range&) { return ++visits < kMaxVisits; });
    visits = 0;
    space.for_each_mapping([&](uint64_t vaddr, uint64_t, uint64_t, const Translation&) {
      uint8_t byte;
      if (visits < 64) (void)space.read(vaddr, &byte, 1);
      return ++visits < kMaxVisits;
    });
  } catch (const Error&) {
  }
  return 0;
}
