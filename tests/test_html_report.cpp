// memscope report --html, opened in headless Chromium (Debian's chromium,
// started by the test with no network): the page loads with no console
// message at all (no script error, no blocked fetch: its CSP refuses every
// one), its script has run over every table, and the hidden process and
// the hidden module are at the top. On the synthetic sample (a hidden
// process and module) and on the fixture (truth.json's hidden ones).
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "support/fixture_profiles.h"
#include "support/fixtures.h"
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

std::string shell_word(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

const std::string& chromium() {
  static const std::string found = [] {
    for (const char* candidate : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
      if (::access(candidate, X_OK) == 0) return std::string(candidate);
    return std::string();
  }();
  if (found.empty()) test::skip_unless_ci("Chromium is not installed (Debian: chromium): the HTML page is not tested");
  return found;
}

struct Browsed {
  std::string dom;      // the document after its scripts ran
  std::string console;  // every console message Chromium logged
  int status = -1;
};

// Loads `page` in headless Chromium, as the machine's notes say to start
// it here (no sandbox as root, no GPU, no background network), and dumps
// the DOM once the page has loaded.
Browsed browse(const std::string& page, const test::TempDir& dir) {
  std::string command = "timeout 180 " + shell_word(chromium()) +
                        " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
                        " --disable-background-networking --disable-component-update --disable-sync"
                        " --disable-extensions --user-data-dir=" +
                        shell_word(dir.file("profile")) + " --enable-logging=stderr --v=0 --dump-dom " +
                        shell_word("file://" + page) + " > " + shell_word(dir.file("dom.html")) + " 2> " +
                        shell_word(dir.file("chromium.log"));
  Browsed out;
  out.status = std::system(command.c_str());
  out.dom = read_file(dir.file("dom.html"));
  std::istringstream log(read_file(dir.file("chromium.log")));
  std::string line;
  while (std::getline(log, line))
    if (line.find(":CONSOLE") != std::string::npos) out.console += line + "\n";
  return out;
}

// The text of the element with `id` (markup stripped).
std::string section_text(const std::string& dom, const std::string& id) {
  size_t start = dom.find("id=\"" + id + "\"");
  if (start == std::string::npos) return "";
  size_t end = dom.find("</section>", start);
  std::string html = dom.substr(start, end == std::string::npos ? std::string::npos : end - start);
  return std::regex_replace(html, std::regex("<[^>]*>"), " ");
}

// What the report's own JSON says is hidden: comm of hidden processes and
// names of hidden modules.
std::vector<std::string> hidden_names(const Json& doc, const std::string& plugin, const std::string& key) {
  std::vector<std::string> names;
  for (const Json& row : doc["plugins"][plugin]["rows"])
    if (row["hidden"] == true && row[key].is_string()) names.push_back(row[key]);
  return names;
}

void check_page(const std::string& image, const std::string& profile, const std::string& label,
                const std::vector<std::string>& expected_processes, const std::vector<std::string>& expected_modules) {
  test::TempDir dir("html-" + label);
  test::CliRun run = test::run_cli({"report", "-f", image, "-p", profile, "--out-dir", dir.path(), "--html",
                                    dir.path(), "--no-hash", "-q"},
                                   {.env = {"XDG_DATA_HOME=" + dir.file("data")}});
  INFO(run.err);
  REQUIRE(run.status == 0);
  std::string base = fs::path(image).filename().string();
  Json doc = Json::parse(read_file(dir.file(base + ".json")));
  const std::string page = dir.file(base + ".html");
  REQUIRE(fs::exists(page));
  // Self-contained: nothing in it points outside it.
  std::string html = read_file(page);
  CHECK(html.find("src=\"http") == std::string::npos);
  CHECK(html.find("href=\"http") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);

  Browsed browsed = browse(page, dir);
  REQUIRE(browsed.status == 0);
  CHECK(browsed.console == "");
  // The script ran to its end over every table.
  CHECK(browsed.dom.find("data-ready=\"1\"") != std::string::npos);
  CHECK(browsed.dom.find("class=\"sortable") != std::string::npos);
  CHECK(std::regex_search(browsed.dom, std::regex("[0-9]+ of [0-9]+ rows")));

  std::string hidden = section_text(browsed.dom, "hidden");
  REQUIRE(!hidden.empty());
  std::vector<std::string> processes = hidden_names(doc, "linux.hidden_processes", "comm");
  std::vector<std::string> modules = hidden_names(doc, "linux.hidden_modules", "name");
  CHECK(processes == expected_processes);
  CHECK(modules == expected_modules);
  for (const std::string& name : processes) CHECK_THAT(hidden, Catch::Contains(name));
  for (const std::string& name : modules) CHECK_THAT(hidden, Catch::Contains(name));
  // The hidden section comes before everything else in the page.
  CHECK(browsed.dom.find("id=\"hidden\"") < browsed.dom.find("id=\"summary\""));
  // And the process tree has the processes pslist lists, with command lines.
  std::string tree = section_text(browsed.dom, "p-linux-pstree");
  for (const Json& row : doc["plugins"]["linux.pslist"]["rows"])
    if (row["comm"].is_string()) CHECK_THAT(tree, Catch::Contains(row["comm"].get<std::string>()));
}

}  // namespace

TEST_CASE("html report: the sample's page loads in headless Chromium without console messages and shows what is "
          "hidden") {
  // The synthetic sample hides one process and one module (samples/,
  // tests/support/synthetic_rootkit.cpp): the report's own JSON names them.
  test::TempDir dir("html-sample-names");
  test::CliRun run = test::run_cli({"report", "-f", test::sample_image(), "-p", test::sample_profile(), "--plugins",
                                    "linux.hidden_processes,linux.hidden_modules", "--no-hash", "-q"},
                                   {.env = {"XDG_DATA_HOME=" + dir.file("data")}});
  REQUIRE(run.status == 0);
  Json doc = Json::parse(run.out);
  std::vector<std::string> processes = hidden_names(doc, "linux.hidden_processes", "comm");
  std::vector<std::string> modules = hidden_names(doc, "linux.hidden_modules", "name");
  REQUIRE(processes.size() == 1);
  REQUIRE(modules.size() == 1);
  check_page(test::sample_image(), test::sample_profile(), "sample", processes, modules);
}

TEST_CASE("html report: the fixture's page shows truth's hidden process and module") {
  const Json& truth = test::truth();
  REQUIRE(truth["hidden"]["done"] == true);
  std::vector<std::string> modules;
  for (const Json& m : truth["modules"])
    if (m["hidden"] == true) modules.push_back(m["name"]);
  check_page(test::fixture("image.lime"), test::fixture_isf_profile(), "fixture",
             {truth["hidden"]["process"]["comm"].get<std::string>()}, modules);
}
