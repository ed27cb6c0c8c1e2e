// libFuzzer target for the x86_64 page-table walker over random tables (core/layers/x86_64_paging.h):
// the body is memscope::fuzz::run_paging (fuzz/harness.h), which the regression tests replay.
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  memscope::fuzz::no_user_caches();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return memscope::fuzz::run_paging(data, size);
}
