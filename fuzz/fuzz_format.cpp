// libFuzzer target for one image format's reader (FUZZ_FORMAT names it as
// the format registry does), or for detection ("detect"): the body is
// memscope::fuzz::run_format (fuzz/harness.h), which the regression tests
// replay.
#include "fuzz/harness.h"

#ifndef FUZZ_FORMAT
#error "FUZZ_FORMAT must name a format (or \"detect\")"
#endif

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  memscope::fuzz::no_user_caches();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return memscope::fuzz::run_format(FUZZ_FORMAT, data, size);
}
