// The built `memscope` command, run as a user runs it (tests/support/
// run_cli.h): what it prints on stdout and stderr, and how it exits, for
// the parts of the command that no other test reaches: the `plugins` and
// `profile` commands, the text, CSV and JSONL renderers, the progress bar.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/plugin/plugin.h"
#include "core/types/profile.h"
#include "profiles/isf/isf_loader.h"
#include "support/fixtures.h"
#include "support/run_cli.h"
#include "support/synthetic_linux.h"
#include "support/temp_file.h"

using namespace memscope;
using memscope::test::run_cli;
using nlohmann::ordered_json;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // CSV ends lines with CRLF (RFC 4180)
    lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> sample_args(std::vector<std::string> args) {
  args.insert(args.end(), {"-f", test::sample_image(), "-p", test::sample_profile()});
  return args;
}

std::vector<std::string> column_keys(const std::string& plugin) {
  std::vector<std::string> keys;
  for (const Column& c : find_plugin(plugin)->info.columns) keys.push_back(c.key);
  return keys;
}

// The pids of the sample's listed (not hidden) processes.
std::set<int64_t> listed_pids() {
  std::set<int64_t> pids;
  test::SyntheticLinux image;
  for (const auto& p : image.processes())
    if (!p.hidden) pids.insert(p.pid);
  return pids;
}

void collect_pids(const ordered_json& row, std::set<int64_t>& pids) {
  pids.insert(row.at("pid").get<int64_t>());
  if (row.contains("children"))
    for (const ordered_json& child : row.at("children")) collect_pids(child, pids);
}

}  // namespace

TEST_CASE("cli: plugins lists every registered plugin with its description") {
  test::CliRun run = run_cli({"plugins"});
  INFO(run.err);
  REQUIRE(run.status == 0);
  CHECK(run.err.empty());
  REQUIRE_FALSE(plugins().empty());
  for (const Plugin& plugin : plugins()) {
    bool listed = false;
    for (const std::string& line : lines_of(run.out))
      if (line.rfind(plugin.info.name + " ", 0) == 0 && line.find(plugin.info.description) != std::string::npos)
        listed = true;
    INFO(plugin.info.name);
    CHECK(listed);
  }
}

TEST_CASE("cli: text output is a header of the column keys then one aligned line per row") {
  test::CliRun run = run_cli(sample_args({"linux.pslist"}));
  INFO(run.err);
  REQUIRE(run.status == 0);
  std::vector<std::string> lines = lines_of(run.out);
  REQUIRE(lines.size() == listed_pids().size() + 1);
  std::vector<std::string> header;
  std::istringstream in(lines[0]);
  for (std::string word; in >> word;) header.push_back(word);
  CHECK(header == column_keys("linux.pslist"));
  // Aligned: every column starts at the same position on every line.
  size_t comm_at = lines[0].find("comm");
  REQUIRE(comm_at != std::string::npos);
  for (size_t i = 1; i < lines.size(); ++i) {
    INFO(lines[i]);
    CHECK(lines[i][comm_at - 1] == ' ');
    CHECK(lines[i][comm_at] != ' ');
  }
}

TEST_CASE("cli: text output of a tree marks each level's depth") {
  test::CliRun run = run_cli(sample_args({"linux.pstree"}));
  INFO(run.err);
  REQUIRE(run.status == 0);
  test::SyntheticLinux image;
  std::map<int64_t, int64_t> parent;
  for (const auto& p : image.processes())
    if (!p.hidden) parent[p.pid] = p.ppid;
  auto depth = [&](int64_t pid) {
    int d = 0;
    for (int64_t at = pid; parent.count(at) && parent[at] != 0 && d < 64; at = parent[at]) ++d;
    return d;
  };
  size_t seen = 0;
  for (const std::string& line : lines_of(run.out)) {
    size_t dots = line.find_first_not_of('.');
    if (dots == std::string::npos || !std::isdigit(static_cast<unsigned char>(line[dots]))) continue;
    int64_t pid = std::stoll(line.substr(dots));
    INFO(line);
    CHECK(static_cast<int>(dots) == depth(pid));
    ++seen;
  }
  CHECK(seen == listed_pids().size());
}

TEST_CASE("cli: CSV output has the column keys as header and one line per row") {
  test::CliRun run = run_cli(sample_args({"linux.pslist", "-o", "csv"}));
  INFO(run.err);
  REQUIRE(run.status == 0);
  std::vector<std::string> lines = lines_of(run.out);
  REQUIRE(lines.size() == listed_pids().size() + 1);
  std::string expected;
  for (const std::string& key : column_keys("linux.pslist")) expected += (expected.empty() ? "" : ",") + key;
  CHECK(lines[0] == expected);
}

TEST_CASE("cli: JSONL output is one JSON object per line with keys in column order") {
  for (const char* plugin : {"linux.pslist", "linux.pstree"}) {
    INFO(plugin);
    test::CliRun run = run_cli(sample_args({plugin, "-o", "jsonl"}));
    INFO(run.err);
    REQUIRE(run.status == 0);
    std::vector<std::string> keys = column_keys(plugin);
    std::set<int64_t> pids;
    for (const std::string& line : lines_of(run.out)) {
      ordered_json row = ordered_json::parse(line);
      REQUIRE(row.is_object());
      std::vector<std::string> first;
      for (auto it = row.begin(); it != row.end() && first.size() < keys.size(); ++it) first.push_back(it.key());
      CHECK(first == keys);
      collect_pids(row, pids);
    }
    CHECK(pids == listed_pids());
  }
}

TEST_CASE("cli: profile info reports what the profile holds") {
  test::CliRun run = run_cli({"profile", "info", test::sample_profile()});
  INFO(run.err);
  REQUIRE(run.status == 0);
  auto profile = parse_isf_file(test::sample_profile());
  CHECK_THAT(run.out, Catch::Contains(std::string(profile->banner())));
  CHECK_THAT(run.out, Catch::Contains("symbols:      " + std::to_string(profile->symbols().size())));
  CHECK_THAT(run.out, Catch::Contains("enumerators:  " + std::to_string(profile->enumerator_count())));
}

TEST_CASE("cli: profile info on a file that is not a profile fails with one line naming it") {
  test::TempFile bogus("not-a-profile");
  bogus.write(std::string("this is not JSON"));
  test::CliRun run = run_cli({"profile", "info", bogus.path()});
  CHECK(run.status != 0);
  CHECK(run.out.empty());
  CHECK_THAT(run.err, Catch::Contains(bogus.path()));
  CHECK(lines_of(run.err).size() == 1);
}

TEST_CASE("cli: profile generate from the fixture's BTF and System.map writes a profile that loads") {
  test::TempDir dir("cli-generate");
  std::string out = dir.file("generated.json");  // not .xz: compressing is not what is tested
  test::CliRun run = run_cli({"profile", "generate", "--btf", test::fixture("vmlinux.btf"), "--system-map",
                              test::fixture("System.map"), "--banner",
                              test::truth().at("linux_banner").get<std::string>(), "-o", out});
  INFO(run.out << run.err);
  REQUIRE(run.status == 0);
  auto profile = parse_isf_file(out);
  CHECK(std::string(profile->banner()) == test::truth().at("linux_banner").get<std::string>());
  CHECK(profile->find_type("task_struct") != nullptr);
  CHECK(profile->find_symbol("init_task") != nullptr);
}

TEST_CASE("cli: convert draws a progress bar on a terminal and none with -q") {
  test::TempDir dir("cli-progress");
  test::CliRun shown = run_cli({"convert", test::sample_image(), dir.file("a.lz4")}, {.stderr_is_terminal = true});
  INFO(shown.err);
  REQUIRE(shown.status == 0);
  CHECK_THAT(shown.err, Catch::Contains("converting a.lz4"));
  CHECK_THAT(shown.err, Catch::Contains("100%"));
  CHECK_THAT(shown.err, Catch::Contains("ETA"));

  test::CliRun quiet =
      run_cli({"convert", "-q", test::sample_image(), dir.file("b.lz4")}, {.stderr_is_terminal = true});
  INFO(quiet.err);
  REQUIRE(quiet.status == 0);
  CHECK(quiet.err.find("converting") == std::string::npos);
  CHECK(quiet.err.find("%") == std::string::npos);

  // Not a terminal: no bar, whatever -q says.
  test::CliRun piped = run_cli({"convert", test::sample_image(), dir.file("c.lz4")});
  REQUIRE(piped.status == 0);
  CHECK(piped.err.find("100%") == std::string::npos);
}
