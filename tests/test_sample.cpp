// The sample image shipped in samples/ is what the synthetic builder makes
// (so it cannot drift from the code that documents it), and the README's
// demo works on it.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "support/synthetic_linux.h"
#include "support/temp_file.h"

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string run(const std::string& command, int& status) {
  std::string output;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe);
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  status = ::pclose(pipe);
  return output;
}

const std::string kSamples = std::string(MEMSCOPE_SOURCE_DIR) + "/samples/";

}  // namespace

TEST_CASE("samples/ holds exactly what the synthetic builder writes") {
  memscope::test::TempDir dir("sample");
  memscope::test::SyntheticLinux image;
  image.write_lime(dir.file("sample.lime"));
  image.write_profile(dir.file("sample-profile.json"));
  INFO("regenerate with: build/tests/memscope-make-sample samples");
  CHECK(slurp(dir.file("sample.lime")) == slurp(kSamples + "sample.lime"));
  CHECK(slurp(dir.file("sample-profile.json")) == slurp(kSamples + "sample-profile.json"));
}

TEST_CASE("memscope info and linux.pslist work on the sample") {
  int status = 0;
  std::string info = run(std::string(MEMSCOPE_CLI_PATH) + " info -f " + kSamples + "sample.lime -p " + kSamples +
                             "sample-profile.json",
                         status);
  INFO(info);
  CHECK(status == 0);
  memscope::test::SyntheticLinux image;
  CHECK(info.find(image.banner()) != std::string::npos);
  CHECK(info.find("Format:          lime") != std::string::npos);

  std::string pslist = run(std::string(MEMSCOPE_CLI_PATH) + " linux.pslist -o csv -f " + kSamples +
                               "sample.lime -p " + kSamples + "sample-profile.json",
                           status);
  INFO(pslist);
  CHECK(status == 0);
  for (const auto& process : image.processes())
    if (!process.hidden) CHECK(pslist.find("," + process.comm.substr(0, 15) + ",") != std::string::npos);
}
