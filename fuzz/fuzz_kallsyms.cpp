// Fuzz target for kallsyms decoding (core/linux/discovery/kallsyms.h): the
// input is a header of table offsets (see Header) followed by the memory
// the tables lie in, placed at physical 0. The decoder (read_kallsyms,
// lookup_kallsyms) reads the tables where the header says; the structure
// search (kallsyms_at) starts from the first run of digit tokens in the
// memory, as it does when VMCOREINFO gives nothing.
#include <algorithm>
#include <string>
#include <string_view>

#include "core/linux/discovery/kallsyms.h"
#include "core/util/error.h"
#include "fuzz/fuzz_support.h"
#include "support/buffer_space.h"

using namespace memscope;

namespace {

// Bytes before the memory: each table's offset in the memory (0: absent)
// and the layout flags.
constexpr size_t kHeaderSize = 40;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kHeaderSize) return 0;
  fuzz::Bytes header(data, kHeaderSize);
  KallsymsTables tables;
  tables.names = header.u32();
  tables.num_syms = header.u32();
  tables.token_table = header.u32();
  tables.token_index = header.u32();
  tables.offsets = header.u32();
  tables.relative_base = header.u32();
  tables.addresses = header.u32();
  tables.markers = header.u32();
  const uint8_t flags = header.u8();
  tables.marker_size = (flags & 1) ? 8 : (flags & 2) ? 4 : 0;
  if (!tables.base_relative()) tables.relative_base = 0;
  std::string_view memory(reinterpret_cast<const char*>(data + kHeaderSize), size - kHeaderSize);
  test::BufferSpace space;
  if (!memory.empty()) space.put(0, memory.data(), memory.size());
  try {
    KallsymsTable table = read_kallsyms(space, tables);
    if (!table.symbols.empty()) (void)table.find(table.symbols.back().name);
    (void)table.has_data_symbols();
  } catch (const Error&) {
  }
  try {
    (void)lookup_kallsyms(space, tables, {"init_task", "_text", "linux_banner"});
  } catch (const Error&) {
  }
  size_t digits = memory.find(kKallsymsDigitTokens);
  if (digits != std::string_view::npos) {
    std::string why;
    try {
      (void)kallsyms_at(space, digits, &why);
    } catch (const Error&) {
    }
  }
  return 0;
}
