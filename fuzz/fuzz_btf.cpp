// Fuzz target for BTF (profiles/btf): the input is a raw BTF blob (what
// /sys/kernel/btf/vmlinux holds, or a kernel image's __start_BTF). It is
// parsed (every reference and chain checked), turned into a profile as
// `profile generate --btf` and the image profile source do, and the
// profile is verified and looked up.
#include <span>

#include "core/util/error.h"
#include "fuzz/profile_exercise.h"
#include "profiles/btf/btf.h"
#include "profiles/btf/profile_from_btf.h"

using namespace memscope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    Btf btf = Btf::parse(std::span<const uint8_t>(data, size), "fuzz.btf");
    for (uint32_t id = 0; id < btf.type_count() && id < 512; ++id) {
      const BtfType& type = btf.type(id);
      (void)btf.members(type);
      (void)btf.enumerators(type);
      (void)btf.strip_typedefs(id);
    }
    SystemMap symbols;
    symbols.source = "fuzz.map";
    symbols.symbols.push_back({0xffffffff81000000ull, 'T', "_text"});
    symbols.symbols.push_back({0xffffffff82000000ull, 'D', "init_task"});
    ProfileFromBtfOptions options;
    options.banner = "Linux version 6.1.0-fuzz";
    auto profile = profile_from_btf(btf, symbols, options);
    fuzz::exercise_profile(*profile, /*verify=*/true);
  } catch (const Error&) {
  }
  return 0;
}
