// Fuzz target for the ISF loader (profiles/isf): the input is the JSON text
// of a Volatility 3 ISF file. It is parsed by the streaming loader into a
// profile through ProfileBuilder (whose load-time checks refuse lying
// layouts), then the profile is verified and looked up as plugins do.
#include <string_view>

#include "core/util/error.h"
#include "fuzz/profile_exercise.h"
#include "profiles/isf/isf_loader.h"

using namespace memscope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto profile = parse_isf_text(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
    fuzz::exercise_profile(*profile, /*verify=*/true);
  } catch (const Error&) {
  }
  return 0;
}
