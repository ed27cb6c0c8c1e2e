// libFuzzer target for the ISF loader (profiles/isf): the body is memscope::fuzz::run_isf
// (fuzz/harness.h), which the regression tests replay.
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  memscope::fuzz::no_user_caches();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return memscope::fuzz::run_isf(data, size);
}
