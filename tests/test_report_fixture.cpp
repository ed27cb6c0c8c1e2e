// memscope report over the fixture in every format memscope reads without
// a test-side writer (raw, LiME, ELF core, and seekable LZ4 made by
// `memscope convert` here) plus a corrupt file, in one batch: every
// document validates against docs/report-schema.json, the four agree with
// one another and with truth.json, their rows are the single-plugin
// commands' row for row, and the corrupt file gets an error document while
// the others complete; the exit status counts it.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/fixture_profiles.h"
#include "support/fixtures.h"
#include "support/report_schema.h"
#include "support/run_cli.h"
#include "support/temp_file.h"

using Json = nlohmann::json;
namespace fs = std::filesystem;
using namespace memscope;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

uint64_t hex_value(const std::string& text) { return std::stoull(text, nullptr, 16); }

struct Batch {
  test::TempDir dir{"report-fixture"};
  std::vector<std::string> images;  // raw, lime, elf, lz4, corrupt
  std::vector<Json> docs;
  test::CliRun run;
  test::CliOptions env;
};

// One batch for every test of this file (each runs in its own process).
Batch& batch() {
  static Batch made;
  static const bool ready = [] {
    made.env = {.env = {"XDG_DATA_HOME=" + made.dir.file("data")}};
    const std::string raw = test::fixture("image.raw");
    test::CliRun convert = test::run_cli({"convert", raw, made.dir.file("image.lz4"), "-q"}, made.env);
    INFO(convert.err);
    REQUIRE(convert.status == 0);
    // A LiME file whose headers are smashed and whose data stops after
    // 2 MiB: no format claims it but raw, and no kernel is in it.
    const std::string corrupt = made.dir.file("corrupt.lime");
    {
      std::string head = read_file(test::fixture("image.lime")).substr(0, 2 << 20);
      for (size_t i = 0; i < 64; ++i) head[i] = static_cast<char>(0xA5 ^ i);
      std::ofstream(corrupt, std::ios::binary) << head;
    }
    made.images = {raw, test::fixture("image.lime"), test::fixture("image.elf"), made.dir.file("image.lz4"), corrupt};
    fs::create_directories(made.dir.file("out"));
    std::vector<std::string> args{"report", "-p", test::fixture_isf_profile(), "-j", "2", "--out-dir",
                                  made.dir.file("out")};
    for (const std::string& image : made.images) args.insert(args.end(), {"-f", image});
    made.run = test::run_cli(args, made.env);
    for (const std::string& image : made.images) {
      std::string path = made.dir.file("out/" + fs::path(image).filename().string() + ".json");
      REQUIRE(fs::exists(path));
      made.docs.push_back(Json::parse(read_file(path)));
    }
    return true;
  }();
  (void)ready;
  return made;
}

}  // namespace

TEST_CASE("report fixture: one batch of every format and a corrupt file gives one failure and valid documents") {
  Batch& b = batch();
  INFO(b.run.err);
  CHECK(b.run.status == 1);
  std::vector<std::string> files;
  for (const std::string& image : b.images)
    files.push_back(b.dir.file("out/" + fs::path(image).filename().string() + ".json"));
  CHECK(test::report_schema_errors(files) == "");
  const std::vector<std::string> formats{"raw", "lime", "elf", "lz4-seekable"};
  for (size_t i = 0; i < 4; ++i) {
    INFO(b.images[i]);
    CHECK(b.docs[i]["error"].is_null());
    CHECK(b.docs[i]["image"]["format"] == formats[i]);
    for (auto& [name, plugin] : b.docs[i]["plugins"].items()) {
      INFO(name << ": " << plugin.value("reason", ""));
      // Every plugin applies to this kernel; only those needing options wait.
      if (plugin["status"] == "skipped")
        CHECK_THAT(plugin["reason"].get<std::string>(), Catch::StartsWith("needs options"));
      else
        CHECK(plugin["status"] == "ok");
    }
  }
  const Json& corrupt = b.docs[4];
  CHECK(corrupt["error"].is_string());
  CHECK(corrupt["kernel"].is_null());
  CHECK(corrupt["image"]["sha256"] == test::sha256_of_file(b.images[4]));
  for (auto& [name, plugin] : corrupt["plugins"].items()) CHECK(plugin["status"] == "skipped");
  CHECK_THAT(b.run.err, Catch::Contains("corrupt.lime: failed"));
}

TEST_CASE("report fixture: image and kernel and profile agree with truth.json") {
  Batch& b = batch();
  const Json& truth = test::truth();
  for (size_t i = 0; i < 4; ++i) {
    const Json& doc = b.docs[i];
    INFO(b.images[i]);
    const std::string name = fs::path(b.images[i]).filename().string();
    // SHA-256 computed while the plugins read: truth's for the fixtures,
    // the file's own for the converted one.
    if (truth["images"].contains(name))
      CHECK(doc["image"]["sha256"] == truth["images"][name]["sha256"]);
    else
      CHECK(doc["image"]["sha256"] == test::sha256_of_file(b.images[i]));
    CHECK(doc["image"]["size"] == fs::file_size(b.images[i]));
    CHECK(doc["kernel"]["release"] == truth["kernel_release"]);
    CHECK(doc["kernel"]["banner"] == truth["linux_banner"]);
    CHECK(hex_value(doc["kernel"]["kaslr"]["virtual_shift"]) == hex_value(truth["kaslr_offset"]));
    CHECK(doc["kernel"]["paging_levels"] == truth["layout"]["paging_levels"]);
    CHECK(doc["profile"]["source"] == "file");
    CHECK(doc["profile"]["banner"] == truth["linux_banner"]);
    // The hidden process and module truth names.
    bool process = false, module = false;
    for (const Json& row : doc["plugins"]["linux.hidden_processes"]["rows"])
      process = process || (row["pid"] == truth["hidden"]["process"]["pid"] && row["hidden"] == true);
    for (const Json& row : doc["plugins"]["linux.hidden_modules"]["rows"])
      for (const Json& m : truth["modules"])
        module = module || (m["hidden"] == true && row["name"] == m["name"] && row["hidden"] == true);
    CHECK(process);
    CHECK(module);
  }
}

TEST_CASE("report fixture: every format's rows are the same and are each single-plugin command's") {
  Batch& b = batch();
  const Json& reference = b.docs[0]["plugins"];
  for (size_t i = 1; i < 4; ++i)
    for (auto& [name, plugin] : b.docs[i]["plugins"].items()) {
      INFO(b.images[i] << " " << name);
      CHECK(plugin["rows"] == reference[name]["rows"]);
      CHECK(plugin["columns"] == reference[name]["columns"]);
    }
  size_t compared = 0;
  for (auto& [name, plugin] : reference.items()) {
    if (plugin["status"] != "ok") continue;
    INFO(name);
    test::CliRun single = test::run_cli({name, "-f", b.images[0], "-p", test::fixture_isf_profile(), "-o", "json"}, b.env);
    REQUIRE(single.status == 0);
    CHECK(Json::parse(single.out) == plugin["rows"]);
    ++compared;
  }
  CHECK(compared >= 20);
}
