// libFuzzer target for the mapped profile cache (profile format 3): the body is
// memscope::fuzz::run_profile_cache (fuzz/harness.h), which the regression tests replay.
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  memscope::fuzz::no_user_caches();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return memscope::fuzz::run_profile_cache(data, size);
}
