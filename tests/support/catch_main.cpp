// The one translation unit that holds Catch2's main(), and the listener
// that checks, when the test run ends, that no fixture image a test opened
// was changed (support/fixtures.h). It runs before main() returns, while
// every library (OpenSSL among them) is still alive, which an atexit handler
// cannot promise.
#define CATCH_CONFIG_RUNNER
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

// Catch returns the number of failed assertions, and ctest reads exit
// status 4 as "skipped" (support/fixtures.h's skip code): a run with exactly
// four failures must not pass for a skip. Other statuses (a listing's count
// of tests, which catch_discover_tests reads) pass through.
int main(int argc, char* argv[]) {
  const int status = Catch::Session().run(argc, argv);
  return status == memscope::test::kSkipExitCode ? status + 1 : status;
}
