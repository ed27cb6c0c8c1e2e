// core/report in-process: the batch runner (input order whatever finishes
// first, failures counted, Ctrl-C), report files that never replace one
// another, plugin selection, and the document of images that cannot be
// opened.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "core/report/batch.h"
#include "core/report/report.h"
#include "core/report/report_files.h"
#include "core/report/report_json.h"
#include "core/scan/cancel.h"
#include "core/util/error.h"
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

ReportOptions sample_options() {
  ReportOptions options;
  options.profile = test::sample_profile();
  options.plugin_names = {"linux.pslist", "linux.lsmod"};
  options.hash = false;
  return options;
}

}  // namespace

TEST_CASE("report batch: documents come back in input order and failures are counted") {
  test::TempDir dir("report-batch-order");
  std::vector<std::string> images;
  for (int i = 0; i < 6; ++i) {
    // Every other image cannot be opened: those finish first.
    if (i % 2) {
      images.push_back(dir.file("missing-" + std::to_string(i)));
    } else {
      images.push_back(dir.file("copy-" + std::to_string(i) + ".lime"));
      fs::copy_file(test::sample_image(), images.back());
    }
  }
  ReportOptions options = sample_options();
  std::vector<const Plugin*> selected = select_plugins(options.plugin_names);
  std::vector<std::string> order;
  std::set<size_t> steps;
  std::mutex steps_mutex;
  BatchProgress progress{[&](size_t index, const std::string&, const std::string&) {
    std::lock_guard lock(steps_mutex);
    steps.insert(index);
  }};
  size_t failed = run_report_batch(
      images, selected, options, 3,
      [&](size_t index, ImageReport& report) {
        CHECK(report.path == images[index]);
        order.push_back(report.path);
        CHECK(report.plugins.size() == 2);
        CHECK(report.failed() == (index % 2 == 1));
      },
      progress);
  CHECK(failed == 3);
  CHECK(order == images);
  CHECK(steps.size() == images.size());
}

TEST_CASE("report batch: a report that cannot be written makes its image fail") {
  std::vector<std::string> images{test::sample_image()};
  ReportOptions options = sample_options();
  size_t failed = run_report_batch(images, select_plugins(options.plugin_names), options, 1,
                                   [](size_t, ImageReport& report) { report.error = "disk full"; });
  CHECK(failed == 1);
}

TEST_CASE("report batch: after Ctrl-C no image is opened and each document says so") {
  interrupt_token().request();
  std::vector<std::string> images{test::sample_image(), test::sample_image()};
  ReportOptions options = sample_options();
  std::vector<ImageReport> reports;
  size_t failed = run_report_batch(images, select_plugins(options.plugin_names), options, 2,
                                   [&](size_t, ImageReport& report) { reports.push_back(report); });
  interrupt_token().reset();
  CHECK(failed == 2);
  REQUIRE(reports.size() == 2);
  for (const ImageReport& report : reports) {
    REQUIRE(report.error);
    CHECK_THAT(*report.error, Catch::Contains("interrupted"));
    REQUIRE(report.plugins.size() == 2);
    CHECK(report.plugins[0].status == PluginStatus::Skipped);
    CHECK(!report.plugins[0].table.columns.empty());
  }
}

TEST_CASE("report files: written whole and never over an earlier one (numbered instead)") {
  test::TempDir dir("report-files");
  CHECK(report_base_name("/cases/42/mem.lime") == "mem.lime");
  CHECK(report_base_name("mem.lime") == "mem.lime");
  CHECK(report_base_name("/cases/.hidden") == "_hidden");
  CHECK(report_base_name("/") == "image");
  std::string first = write_new_file(dir.path(), "mem.lime", ".json", "one");
  std::string second = write_new_file(dir.path(), "mem.lime", ".json", "two");
  CHECK(first == dir.file("mem.lime.json"));
  CHECK(second == dir.file("mem.lime.1.json"));
  CHECK(read_file(first) == "one");
  CHECK(read_file(second) == "two");
  // Many writers racing for one name each get their own.
  std::vector<std::thread> writers;
  std::vector<std::string> written(8);
  for (size_t i = 0; i < written.size(); ++i)
    writers.emplace_back([&, i] { written[i] = write_new_file(dir.path(), "race", ".json", std::to_string(i)); });
  for (auto& t : writers) t.join();
  std::set<std::string> names(written.begin(), written.end());
  CHECK(names.size() == written.size());
  for (size_t i = 0; i < written.size(); ++i) CHECK(read_file(written[i]) == std::to_string(i));
  // Nothing but the reports is left in the folder.
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) files += entry.is_regular_file();
  CHECK(files == 2 + written.size());
  CHECK_THROWS_WITH(write_new_file(dir.file("absent"), "x", ".json", "y"), Catch::Contains(dir.file("absent")));
}

TEST_CASE("report: plugin selection and options a report cannot give and an image that cannot be opened") {
  CHECK_THROWS_WITH(select_plugins({"linux.pslist", "linux.nope", "nope"}),
                    Catch::Contains("'linux.nope'") && Catch::Contains("'nope'"));
  std::vector<const Plugin*> two = select_plugins({"linux.pstree", "linux.pslist", "linux.pstree"});
  REQUIRE(two.size() == 2);
  CHECK(two[0]->info.name == "linux.pslist");  // in name order, once each
  CHECK(select_plugins({}).size() == plugins().size());

  const Plugin* dump = find_plugin("linux.proc_dump");
  REQUIRE(dump);
  CHECK(needs_options_reason(*dump, {}).has_value());
  PluginArgs given;
  given.add("dump-dir", "/tmp");
  CHECK(!needs_options_reason(*dump, given).has_value());
  CHECK(!needs_options_reason(*find_plugin("linux.pslist"), {}).has_value());

  ReportOptions options = sample_options();
  options.hash = true;
  ImageReport missing = build_image_report("/nonexistent/mem.lime", select_plugins(options.plugin_names), options);
  REQUIRE(missing.failed());
  CHECK(!missing.size);
  CHECK(!missing.sha256);
  CHECK(!missing.image_warnings.empty());  // why there is no hash
  Json doc = Json::parse(report_json(missing, -1));
  CHECK(doc["error"].is_string());
  CHECK(doc["plugins"]["linux.pslist"]["status"] == "skipped");
  CHECK(doc["plugins"]["linux.pslist"]["columns"].size() == find_plugin("linux.pslist")->info.columns.size());
}
