// The one translation unit that holds Catch2's main(), and the listener
// that checks, when the test run ends, that no fixture image a test opened
// was changed (support/fixtures.h). It runs before main() returns, while
// every library (OpenSSL among them) is still alive, which an atexit handler
// cannot promise.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "support/fixtures.h"

namespace {

struct EvidenceCheck : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testRunEnded(const Catch::TestRunStats& stats) override {
    memscope::test::check_watched_images();
    TestEventListenerBase::testRunEnded(stats);
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(EvidenceCheck)
