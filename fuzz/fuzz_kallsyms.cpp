// libFuzzer target for kallsyms decoding (core/linux/discovery/kallsyms.h): the body is
// memscope::fuzz::run_kallsyms (fuzz/harness.h), which the regression tests replay.
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  memscope::fuzz::no_user_caches();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return memscope::fuzz::run_kallsyms(data, size);
}
