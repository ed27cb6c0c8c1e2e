// A C program compiled against the installed headers and library opens a
// real image, reads, writes (into the overlay) and reads back.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "support/fixtures.h"

namespace {

std::string run(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe);
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  int status = ::pclose(pipe);
  INFO(output);
  REQUIRE(status == 0);
  return output;
}

}  // namespace

TEST_CASE("a C program built against the installed package reads / writes and reads back") {
  if (MEMSCOPE_SANITIZED)
    memscope::test::skip("an uninstrumented C program cannot load the ASan-instrumented library "
                         "(the ASan runtime must come first); this test runs in the normal build");
  std::string image = memscope::test::fixture("image.elf");
  std::string profile = memscope::test::fixture_file("isf.json.xz");
  std::string output = run(std::string("'") + MEMSCOPE_SOURCE_DIR + "/tests/install_consumer/run.sh' '" +
                           MEMSCOPE_SOURCE_DIR + "' '" + MEMSCOPE_BINARY_DIR + "' '" + profile + "' '" + image + "'");
  std::string banner = memscope::test::truth()["linux_banner"];
  // linux_banner ends with its own newline; the consumer prints one more.
  CHECK(output == banner + "\n\n");
}
