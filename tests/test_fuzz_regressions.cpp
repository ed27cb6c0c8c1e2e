// Inputs that fuzzing found (fuzz/README.md) or that stand for what it
// must keep finding, replayed through the fuzz targets' own bodies
// (fuzz/harness.h): tests/data/fuzz/<target>/<input>. Each must give a
// clear answer: no crash, no exception other than the ones the harness
// takes for a refusal, and, in the sanitizer run of ./dev.sh test, no
// memory error, leak or undefined behaviour.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "fuzz/harness.h"

namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), {});
}

}  // namespace

TEST_CASE("fuzz regressions: every saved input gets a clear answer from its target") {
  const fs::path root = fs::path(MEMSCOPE_SOURCE_DIR) / "tests" / "data" / "fuzz";
  REQUIRE(fs::is_directory(root));
  memscope::fuzz::no_user_caches();
  size_t inputs = 0;
  for (const auto& target : fs::directory_iterator(root)) {
    if (!target.is_directory()) continue;
    for (const auto& input : fs::directory_iterator(target.path())) {
      if (!input.is_regular_file() || input.path().extension() == ".md") continue;
      INFO("fuzz_" << target.path().filename().string() << " " << input.path().filename().string());
      const std::vector<uint8_t> bytes = read_all(input.path());
      CHECK(memscope::fuzz::run_target(target.path().filename().string(), bytes.data(), bytes.size()) == 0);
      ++inputs;
    }
  }
  CHECK(inputs > 0);
}
