// Fuzz target for the mapped profile cache (profile format version 2,
// core/types/profile.h, docs/profile-format.md): the input is a cache
// entry. Profile::open checks only the header and directory (the cheap
// check every mapped entry gets), so lookups run on unverified tables
// first, as they do for an entry that passed open(): they must be
// bounds-checked whatever the tables say; then verify() reads everything.
#include <cstring>
#include <memory>

#include "core/util/error.h"
#include "fuzz/profile_exercise.h"

using namespace memscope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // 8-byte aligned, as a mapped file and the builder's buffer are.
  std::shared_ptr<uint64_t[]> buffer(new uint64_t[size / 8 + 1]);
  std::memcpy(buffer.get(), data, size);
  try {
    auto profile = Profile::open(buffer, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(buffer.get()), size),
                                 "fuzz.msprof");
    try {
      fuzz::exercise_profile(*profile, /*verify=*/false);
    } catch (const Error&) {
    }
    fuzz::exercise_profile(*profile, /*verify=*/true);
  } catch (const Error&) {
  }
  return 0;
}
