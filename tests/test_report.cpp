// memscope report on the synthetic sample (samples/, which has a hidden
// process and a hidden module) and on files that are not images: the
// document validates against docs/report-schema.json, its rows are the
// single-plugin command's, it is deterministic, never written over an
// earlier one, and a bad image gives an error document while the others
// complete, with the exit status counting the failures.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/plugin/plugin.h"
#include "support/fixtures.h"
#include "support/report_schema.h"
#include "support/run_cli.h"
#include "support/temp_file.h"

using namespace memscope;
using Json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The user's own plugin folder must not change what these tests see.
test::CliOptions hermetic(const test::TempDir& dir) { return {.env = {"XDG_DATA_HOME=" + dir.file("data")}}; }

test::CliRun report(const std::vector<std::string>& args, const test::TempDir& dir) {
  std::vector<std::string> all{"report", "-p", test::sample_profile()};
  all.insert(all.end(), args.begin(), args.end());
  return test::run_cli(all, hermetic(dir));
}

// The document without what may differ between two runs of the same input.
Json stable(Json doc) {
  doc.erase("generated_at");
  for (auto& [name, plugin] : doc["plugins"].items()) plugin.erase("elapsed_ms");
  return doc;
}

std::vector<Json> lines_of(const std::string& text) {
  std::vector<Json> docs;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) docs.push_back(Json::parse(line));
  return docs;
}

}  // namespace

TEST_CASE("report: the sample image's document validates and holds every registered plugin") {
  test::TempDir dir("report-sample");
  test::CliRun run = report({"-f", test::sample_image(), "--out-dir", dir.path()}, dir);
  INFO(run.err);
  REQUIRE(run.status == 0);
  const std::string path = dir.file("sample.lime.json");
  REQUIRE(fs::exists(path));
  CHECK(test::report_schema_errors({path}) == "");
  Json doc = Json::parse(read_file(path));
  CHECK(doc["schema_version"] == 1);
  CHECK(doc["error"].is_null());
  CHECK(doc["image"]["path"] == test::sample_image());
  CHECK(doc["image"]["size"] == fs::file_size(test::sample_image()));
  CHECK(doc["image"]["format"] == "lime");
  CHECK(doc["image"]["sha256"] == test::sha256_of_file(test::sample_image()));
  CHECK(!doc["image"]["physical_ranges"].empty());
  CHECK(doc["profile"]["source"] == "file");
  CHECK(doc["kernel"]["banner"] == doc["profile"]["banner"]);

  // Every registered plugin has its entry, skipped ones with a reason.
  std::set<std::string> names;
  for (const Plugin& plugin : plugins()) names.insert(plugin.info.name);
  std::set<std::string> reported;
  for (auto& [name, plugin] : doc["plugins"].items()) {
    reported.insert(name);
    INFO(name);
    CHECK(plugin["origin"] == "built-in");
    CHECK(!plugin["columns"].empty());
    if (plugin["status"] != "ok") CHECK(!plugin["reason"].get<std::string>().empty());
  }
  CHECK(reported == names);
  // Plugins that need options are skipped, saying which.
  CHECK(doc["plugins"]["linux.proc_dump"]["status"] == "skipped");
  CHECK_THAT(doc["plugins"]["linux.proc_dump"]["reason"].get<std::string>(), Catch::Contains("--dump-dir"));
  CHECK(doc["plugins"]["linux.yarascan"]["status"] == "skipped");
  CHECK_THAT(doc["plugins"]["linux.yarascan"]["reason"].get<std::string>(), Catch::Contains("--yara-file"));
  // The sample hides a process and a module: the report finds both.
  auto hidden_rows = [&](const std::string& plugin) {
    size_t n = 0;
    for (const Json& row : doc["plugins"][plugin]["rows"]) n += row["hidden"] == true;
    return n;
  };
  CHECK(doc["plugins"]["linux.hidden_processes"]["status"] == "ok");
  CHECK(hidden_rows("linux.hidden_processes") >= 1);
  CHECK(doc["plugins"]["linux.hidden_modules"]["status"] == "ok");
  CHECK(hidden_rows("linux.hidden_modules") >= 1);
}

TEST_CASE("report: rows agree row for row with each single-plugin command's JSON") {
  test::TempDir dir("report-agree");
  test::CliRun run = report({"-f", test::sample_image(), "--jsonl", "-", "--no-hash"}, dir);
  INFO(run.err);
  REQUIRE(run.status == 0);
  std::vector<Json> docs = lines_of(run.out);
  REQUIRE(docs.size() == 1);
  CHECK(docs[0]["image"]["sha256"].is_null());
  size_t compared = 0;
  for (auto& [name, plugin] : docs[0]["plugins"].items()) {
    if (plugin["status"] != "ok") continue;
    INFO(name);
    test::CliRun single =
        test::run_cli({name, "-f", test::sample_image(), "-p", test::sample_profile(), "-o", "json"}, hermetic(dir));
    REQUIRE(single.status == 0);
    CHECK(Json::parse(single.out) == plugin["rows"]);
    // The column list is the plugin's own, in its order.
    const Plugin* registered = find_plugin(name);
    REQUIRE(registered);
    REQUIRE(plugin["columns"].size() == registered->info.columns.size());
    for (size_t i = 0; i < registered->info.columns.size(); ++i)
      CHECK(plugin["columns"][i]["name"] == registered->info.columns[i].key);
    ++compared;
  }
  CHECK(compared >= 8);
}

TEST_CASE("report: the same input gives the same document apart from generated_at and elapsed_ms") {
  test::TempDir dir("report-determinism");
  fs::create_directories(dir.file("a"));
  fs::create_directories(dir.file("b"));
  REQUIRE(report({"-f", test::sample_image(), "--out-dir", dir.file("a")}, dir).status == 0);
  REQUIRE(report({"-f", test::sample_image(), "--out-dir", dir.file("b"), "-j", "1"}, dir).status == 0);
  Json a = Json::parse(read_file(dir.file("a/sample.lime.json")));
  Json b = Json::parse(read_file(dir.file("b/sample.lime.json")));
  CHECK(stable(a).dump() == stable(b).dump());
  CHECK(a["generated_at"].is_string());
  CHECK(a["plugins"].size() == plugins().size());
}

TEST_CASE("report: an earlier report is never written over") {
  test::TempDir dir("report-no-overwrite");
  REQUIRE(report({"-f", test::sample_image(), "--out-dir", dir.path()}, dir).status == 0);
  std::string first = read_file(dir.file("sample.lime.json"));
  test::CliRun again = report({"-f", test::sample_image(), "--out-dir", dir.path()}, dir);
  REQUIRE(again.status == 0);
  CHECK(read_file(dir.file("sample.lime.json")) == first);
  REQUIRE(fs::exists(dir.file("sample.lime.1.json")));
  CHECK_THAT(again.err, Catch::Contains("sample.lime.1.json"));
  // No temporary file left behind.
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) files += entry.is_regular_file();
  CHECK(files == 2);

  // A JSONL file that exists is refused before any image is read.
  test::TempFile existing("report-existing.jsonl");
  existing.write(std::string_view("keep me\n"));
  test::CliRun refused = report({"-f", test::sample_image(), "--jsonl", existing.path()}, dir);
  CHECK(refused.status != 0);
  CHECK_THAT(refused.err, Catch::Contains(existing.path()) && Catch::Contains("exists"));
  CHECK(read_file(existing.path()) == "keep me\n");
}

TEST_CASE("report: unreadable and corrupt images get an error document and the batch goes on") {
  test::TempDir dir("report-bad");
  // Not an image: bytes with no kernel in them.
  std::string corrupt = dir.file("corrupt.raw");
  {
    std::ofstream out(corrupt, std::ios::binary);
    std::string junk(1 << 20, '\0');
    for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>((i * 2654435761u) >> 13);
    out << junk;
  }
  std::string missing = dir.file("missing.lime");
  test::CliRun run = report({"-f", corrupt, "-f", test::sample_image(), "-f", missing, "-j", "2", "--jsonl",
                             dir.file("out.jsonl")},
                            dir);
  INFO(run.err);
  // Two images failed: the exit status says so.
  CHECK(run.status == 2);
  CHECK(test::report_schema_errors({dir.file("out.jsonl")}) == "");
  std::vector<Json> docs = lines_of(read_file(dir.file("out.jsonl")));
  REQUIRE(docs.size() == 3);
  // In the order the images were given, whichever finished first.
  CHECK(docs[0]["image"]["path"] == corrupt);
  CHECK(docs[1]["image"]["path"] == test::sample_image());
  CHECK(docs[2]["image"]["path"] == missing);

  CHECK(docs[0]["error"].is_string());
  CHECK(docs[0]["kernel"].is_null());
  // The corrupt file is still named by its bytes.
  CHECK(docs[0]["image"]["sha256"] == test::sha256_of_file(corrupt));
  CHECK(docs[0]["image"]["size"] == 1 << 20);
  for (auto& [name, plugin] : docs[0]["plugins"].items()) {
    INFO(name);
    CHECK(plugin["status"] == "skipped");
    CHECK_THAT(plugin["reason"].get<std::string>(), Catch::StartsWith("not run: "));
  }
  CHECK(docs[1]["error"].is_null());
  CHECK(docs[1]["plugins"]["linux.pslist"]["status"] == "ok");
  CHECK_THAT(docs[2]["error"].get<std::string>(), Catch::Contains(missing));
  CHECK(docs[2]["image"]["sha256"].is_null());
  CHECK(docs[2]["image"]["size"].is_null());
  CHECK_THAT(run.err, Catch::Contains("2 failed"));
}

TEST_CASE("report: plugin selection and usage errors") {
  test::TempDir dir("report-usage");
  test::CliRun two = report({"-f", test::sample_image(), "--plugins", "linux.pslist,linux.lsmod"}, dir);
  REQUIRE(two.status == 0);
  std::vector<Json> docs = lines_of(two.out);
  REQUIRE(docs.size() == 1);
  CHECK(docs[0]["plugins"].size() == 2);
  CHECK(docs[0]["plugins"].contains("linux.pslist"));
  CHECK(docs[0]["plugins"].contains("linux.lsmod"));

  // An explicitly named plugin that needs options is skipped, not failed.
  test::CliRun dump = report({"-f", test::sample_image(), "--plugins", "linux.proc_dump"}, dir);
  REQUIRE(dump.status == 0);
  CHECK(lines_of(dump.out)[0]["plugins"]["linux.proc_dump"]["status"] == "skipped");

  test::CliRun unknown = report({"-f", test::sample_image(), "--plugins", "linux.pslist,linux.nope"}, dir);
  CHECK(unknown.status != 0);
  CHECK(unknown.out.empty());
  CHECK_THAT(unknown.err, Catch::Contains("'linux.nope'"));
  test::CliRun both = report({"-f", test::sample_image(), "--plugins", "linux.pslist", "--all"}, dir);
  CHECK(both.status != 0);
  CHECK_THAT(both.err, Catch::Contains("--all"));
  test::CliRun two_outputs = report({"-f", test::sample_image(), "--out-dir", dir.path(), "--jsonl", "-"}, dir);
  CHECK(two_outputs.status != 0);
  test::CliRun no_folder = report({"-f", test::sample_image(), "--out-dir", dir.file("nope")}, dir);
  CHECK(no_folder.status != 0);
  CHECK_THAT(no_folder.err, Catch::Contains(dir.file("nope")));
}

TEST_CASE("report: -j runs images in parallel with the same documents as -j 1") {
  test::TempDir dir("report-jobs");
  std::vector<std::string> args;
  for (int i = 0; i < 4; ++i) {
    std::string copy = dir.file("copy" + std::to_string(i) + ".lime");
    fs::copy_file(test::sample_image(), copy);
    args.insert(args.end(), {"-f", copy});
  }
  auto with = [&](const char* jobs) {
    std::vector<std::string> a = args;
    a.insert(a.end(), {"-j", jobs, "--plugins", "linux.pslist,linux.pstree,linux.hidden_processes"});
    return report(a, dir);
  };
  test::CliRun one = with("1");
  test::CliRun four = with("4");
  REQUIRE(one.status == 0);
  REQUIRE(four.status == 0);
  std::vector<Json> a = lines_of(one.out), b = lines_of(four.out);
  REQUIRE(a.size() == 4);
  REQUIRE(b.size() == 4);
  for (size_t i = 0; i < 4; ++i) CHECK(stable(a[i]).dump() == stable(b[i]).dump());
}

TEST_CASE("report: progress on a terminal and none with -q") {
  test::TempDir dir("report-progress");
  test::CliOptions terminal = hermetic(dir);
  terminal.stderr_is_terminal = true;
  std::vector<std::string> args{"report", "-p", test::sample_profile(), "-f", test::sample_image(), "--plugins",
                                "linux.pslist"};
  test::CliRun shown = test::run_cli(args, terminal);
  REQUIRE(shown.status == 0);
  CHECK_THAT(shown.err, Catch::Contains("1/1 images"));
  args.push_back("-q");
  test::CliRun quiet = test::run_cli(args, terminal);
  REQUIRE(quiet.status == 0);
  CHECK_THAT(quiet.err, !Catch::Contains("images"));
  CHECK(lines_of(quiet.out).size() == 1);
}

TEST_CASE("report: a single plugin's -o json --envelope is the report document of that plugin") {
  test::TempDir dir("report-envelope");
  test::CliRun run = test::run_cli(
      {"linux.pslist", "-f", test::sample_image(), "-p", test::sample_profile(), "-o", "json", "--envelope"},
      hermetic(dir));
  INFO(run.err);
  REQUIRE(run.status == 0);
  {
    std::ofstream(dir.file("envelope.json")) << run.out;
  }
  CHECK(test::report_schema_errors({dir.file("envelope.json")}) == "");
  Json envelope = Json::parse(run.out);
  REQUIRE(envelope["plugins"].size() == 1);
  CHECK(envelope["image"]["sha256"] == test::sha256_of_file(test::sample_image()));
  // The same document a report of that one plugin writes.
  test::CliRun batch = report({"-f", test::sample_image(), "--plugins", "linux.pslist"}, dir);
  REQUIRE(batch.status == 0);
  CHECK(stable(envelope).dump() == stable(lines_of(batch.out)[0]).dump());

  // JSONL: one line; without hashing.
  test::CliRun line = test::run_cli({"linux.lsmod", "-f", test::sample_image(), "-p", test::sample_profile(), "-o",
                                     "jsonl", "--envelope", "--no-hash"},
                                    hermetic(dir));
  REQUIRE(line.status == 0);
  std::vector<Json> docs = lines_of(line.out);
  REQUIRE(docs.size() == 1);
  CHECK(docs[0]["image"]["sha256"].is_null());
  CHECK(docs[0]["plugins"]["linux.lsmod"]["status"] == "ok");

  // A plugin that fails still gives its document, saying why, and exit 1.
  test::CliRun failed = test::run_cli({"linux.maps", "-f", test::sample_image(), "-p", test::sample_profile(), "-o",
                                       "json", "--envelope", "--no-hash"},
                                      hermetic(dir));
  CHECK(failed.status == 1);
  Json error = Json::parse(failed.out);
  CHECK(error["plugins"]["linux.maps"]["status"] == "error");
  CHECK_THAT(error["plugins"]["linux.maps"]["reason"].get<std::string>(), Catch::Contains("vm_area_struct"));

  // Options that would not be used are usage errors.
  test::CliRun text = test::run_cli(
      {"linux.pslist", "-f", test::sample_image(), "-p", test::sample_profile(), "--envelope"}, hermetic(dir));
  CHECK(text.status == 2);
  CHECK_THAT(text.err, Catch::Contains("--envelope"));
  test::CliRun no_hash = test::run_cli(
      {"linux.pslist", "-f", test::sample_image(), "-p", test::sample_profile(), "-o", "json", "--no-hash"},
      hermetic(dir));
  CHECK(no_hash.status == 2);
}
