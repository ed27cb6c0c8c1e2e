#include "core/util/limits.h"

namespace memscope {
namespace {

thread_local const Limits* current = nullptr;

}  // namespace

std::string limit_hint(const char* name, uint64_t value, const char* option) {
  return std::string("the ") + name + " limit of " + std::to_string(value) + " (raise it with " + option + " N)";
}

const Limits& active_limits() {
  static const Limits defaults;
  return current ? *current : defaults;
}

ScopedLimits::ScopedLimits(const Limits& limits) : previous_(current), limits_(limits) { current = &limits_; }

ScopedLimits::~ScopedLimits() { current = previous_; }

}  // namespace memscope
