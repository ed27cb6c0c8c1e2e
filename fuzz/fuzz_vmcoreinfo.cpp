// Fuzz target for VMCOREINFO text (core/linux/discovery/vmcoreinfo.h): the
// input is the note's text as a kernel (or a forger) wrote it. It is
// parsed, its kallsyms table addresses taken, and it is also read back from
// memory as discovery finds it in RAM (read_vmcoreinfo_at).
#include <string>
#include <string_view>

#include "core/linux/discovery/kallsyms.h"
#include "core/linux/discovery/vmcoreinfo.h"
#include "core/util/error.h"
#include "support/buffer_space.h"

using namespace memscope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    VmcoreInfo info = parse_vmcoreinfo(text, "fuzz");
    (void)kallsyms_tables(info);
  } catch (const Error&) {
  }
  test::BufferSpace space;
  if (size) space.put(0x1000, data, size);
  try {
    (void)read_vmcoreinfo_at(space, 0x1000);
  } catch (const Error&) {
  }
  return 0;
}
