// The command line on the real guest (issue 15): several PIDs after one
// --pid all shown, an argument with spaces one shell word, the rig's
// hidden process named when asked for by PID, a profile of another kernel
// refused in one line that says so, Volatility's names. Everything
// expected comes from truth.json.
#include <catch2/catch.hpp>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/fixtures.h"
#include "support/run_cli.h"

using namespace memscope;
using memscope::test::CliRun;
using memscope::test::run_cli;
using nlohmann::json;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> on_fixture(std::vector<std::string> args) {
  args.insert(args.end(), {"-f", test::fixture("image.raw"), "-p", test::fixture_file("isf.json.xz")});
  return args;
}

// A listed user process of truth.json with an argument holding a space,
// and another listed user process.
struct TwoProcesses {
  json spaced, other;
};
TwoProcesses two_processes() {
  TwoProcesses out;
  for (const json& p : test::truth().at("processes")) {
    if (p.at("kernel_thread").get<bool>() || !p.at("in_task_list").get<bool>() || p.at("cmdline").empty()) continue;
    bool spaces = false;
    for (const json& arg : p.at("cmdline")) spaces = spaces || arg.get<std::string>().find(' ') != std::string::npos;
    if (spaces && out.spaced.is_null())
      out.spaced = p;
    else if (!spaces && out.other.is_null())
      out.other = p;
  }
  REQUIRE_FALSE(out.spaced.is_null());
  REQUIRE_FALSE(out.other.is_null());
  return out;
}

std::string release_of(const std::string& banner) {
  size_t at = banner.find("Linux version ") + 14;
  return banner.substr(at, banner.find(' ', at) - at);
}

}  // namespace

TEST_CASE("cli fixture: psaux --pid A B shows both / arguments with spaces stay one word") {
  TwoProcesses two = two_processes();
  const std::string a = std::to_string(two.spaced.at("pid").get<int64_t>());
  const std::string b = std::to_string(two.other.at("pid").get<int64_t>());
  CliRun run = run_cli(on_fixture({"linux.psaux", "--pid", a, b, "-o", "json"}));
  INFO(run.err);
  REQUIRE(run.status == 0);
  CHECK(run.err.empty());
  json rows = json::parse(run.out);
  std::map<int64_t, std::vector<std::string>> args;
  for (const json& row : rows) args[row.at("pid").get<int64_t>()] = row.at("args").get<std::vector<std::string>>();
  REQUIRE(args.size() == 2);
  CHECK(args.at(two.spaced.at("pid").get<int64_t>()) == two.spaced.at("cmdline").get<std::vector<std::string>>());
  CHECK(args.at(two.other.at("pid").get<int64_t>()) == two.other.at("cmdline").get<std::vector<std::string>>());

  for (const char* format : {"text", "csv"}) {
    INFO(format);
    CliRun shown = run_cli(on_fixture({"linux.psaux", "--pid", a, "-o", format, "--wide"}));
    REQUIRE(shown.status == 0);
    for (const json& arg : two.spaced.at("cmdline")) {
      std::string word = arg.get<std::string>();
      if (word.find(' ') != std::string::npos) CHECK_THAT(shown.out, Catch::Contains("'" + word + "'"));
    }
  }
}

TEST_CASE("cli fixture: a hidden process asked for by --pid is said to be in the PID table / --strict exits 3") {
  const json& hidden = test::truth().at("hidden").at("process");
  const std::string pid = std::to_string(hidden.at("pid").get<int64_t>());
  CliRun run = run_cli(on_fixture({"linux.pslist", "--pid", pid, "-o", "json"}));
  INFO(run.err);
  CHECK(run.status == 0);
  CHECK(json::parse(run.out).empty());
  CHECK_THAT(run.err, Catch::Contains("--pid " + pid + ": no process with this PID on the task list"));
  CHECK_THAT(run.err, Catch::Contains("--pid " + pid + ": not on the task list, but the kernel's PID table"));
  CHECK_THAT(run.err, Catch::Contains(hidden.at("task_struct").get<std::string>().substr(2)));
  CliRun strict = run_cli(on_fixture({"linux.pslist", "--pid", pid, "--strict"}));
  CHECK(strict.status == 3);
  // A PID no one has: said, and no PID-table line.
  CliRun nobody = run_cli(on_fixture({"linux.pslist", "--pid", "999999"}));
  CHECK(nobody.status == 0);
  CHECK_THAT(nobody.err, Catch::Contains("--pid 999999: no process"));
  CHECK(nobody.err.find("PID table") == std::string::npos);
}

TEST_CASE("cli fixture: a profile of another kernel is one line that says so / details with -v") {
  const std::string image_release = test::truth().at("kernel_release").get<std::string>();
  const std::string sample_profile = std::string(MEMSCOPE_SOURCE_DIR) + "/samples/sample-profile.json";
  CliRun run = run_cli({"linux.pslist", "-f", test::fixture("image.raw"), "-p", sample_profile});
  INFO(run.err);
  CHECK(run.status == 1);
  CHECK(run.out.empty());
  std::vector<std::string> lines = lines_of(run.err);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].size() <= 200);
  CliRun profile = run_cli({"profile", "info", sample_profile, "-o", "json"});
  REQUIRE(profile.status == 0);
  const std::string profile_release = release_of(json::parse(profile.out).at("banner").get<std::string>());
  REQUIRE(profile_release != image_release);
  CHECK_THAT(lines[0], Catch::Contains("profile sample-profile.json is for kernel " + profile_release));
  CHECK_THAT(lines[0], Catch::Contains("the image's kernel is " + image_release));
  CliRun verbose = run_cli({"linux.pslist", "-f", test::fixture("image.raw"), "-p", sample_profile, "-v"});
  CHECK(verbose.status == 1);
  REQUIRE(lines_of(verbose.err).size() >= 2);
  CHECK(lines_of(verbose.err)[0] == lines[0]);
  CHECK_THAT(verbose.err, Catch::Contains("details: no Linux kernel found"));
}

TEST_CASE("cli fixture: Volatility's names and renderer give memscope's rows") {
  for (const auto& [volatility, memscope_name] : std::vector<std::pair<std::string, std::string>>{
           {"linux.pslist.PsList", "linux.pslist"}, {"linux.psaux.PsAux", "linux.psaux"},
           {"linux.lsmod.Lsmod", "linux.lsmod"}, {"linux.malware.hidden_modules", "linux.hidden_modules"}}) {
    INFO(volatility);
    CliRun theirs = run_cli(on_fixture({volatility, "-r", "JSON"}));
    CliRun ours = run_cli(on_fixture({memscope_name, "-o", "json"}));
    CHECK(theirs.status == 0);
    CHECK(theirs.out == ours.out);
  }
}
