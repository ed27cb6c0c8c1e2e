// The environment for the scripts that build programs against the
// installed package (tests/install_consumer/run.sh,
// tests/plugin_consumer/build.sh): this build's compilers, and in the
// sanitizer build its sanitizer flags, so that what they build can load
// this build's library (an uninstrumented program cannot load an
// ASan-instrumented library; two compilers' sanitizer runtimes do not mix).
#pragma once

#include <string>

namespace memscope::test {

// "CC='...' CXX='...' CFLAGS='...' CXXFLAGS='...' LDFLAGS='...' ", to put
// before a command (no value holds a single quote: CMake's paths and flags).
inline std::string consumer_build_environment() {
  const std::string cflags = MEMSCOPE_CONSUMER_CFLAGS;
  const std::string ldflags = MEMSCOPE_CONSUMER_LDFLAGS;
  return "CC='" + std::string(MEMSCOPE_CONSUMER_CC) + "' CXX='" + std::string(MEMSCOPE_CONSUMER_CXX) + "' CFLAGS='" +
         cflags + "' CXXFLAGS='" + cflags + "' LDFLAGS='" + ldflags + "' ";
}

}  // namespace memscope::test
