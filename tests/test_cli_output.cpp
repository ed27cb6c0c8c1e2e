// What the command prints (issue 15), through the built command: text that
// fits the terminal unless --wide, arguments shell-quoted in text and CSV
// so that their boundaries survive, psaux's arguments once, JSONL one row
// per line for every plugin (trees flattened with depth and parent), JSON
// keys in column order, and nothing with -o none.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/plugin/plugin.h"
#include "support/run_cli.h"
#include "support/synthetic_linux.h"
#include "support/temp_file.h"

using namespace memscope;
using memscope::test::CliRun;
using memscope::test::run_cli;
using nlohmann::ordered_json;

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

size_t characters(const std::string& text) {
  size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// A process whose arguments a shell would split or unquote wrongly if they
// were printed as they are.
const std::vector<std::string> kTrickyArgv = {"/bin/rig_alpha", "alpha arg with spaces", "it's", "say \"hi\"", "",
                                              "plain"};
constexpr int kTrickyPid = 321;

struct Image {
  test::TempDir dir{"cli-output"};
  test::SyntheticLinux kernel = [] {
    test::SyntheticOptions options;
    options.vmas = test::VmaIndexKind::kMapleTree;  // every plugin has something to read
    options.files = true;
    options.hooks = true;
    options.processes = test::SyntheticLinux::default_processes();
    test::SyntheticProcess tricky;
    tricky.pid = kTrickyPid;
    tricky.ppid = 1;
    tricky.comm = "rig_alpha";
    tricky.uid = 1000;
    tricky.argv = kTrickyArgv;
    tricky.envp = {"HOME=/home/rig"};
    options.processes.push_back(tricky);
    return test::SyntheticLinux(options);
  }();
  std::string image = dir.file("image.lime");
  std::string profile = dir.file("profile.json");
  Image() {
    kernel.write_lime(image);
    kernel.write_profile(profile);
  }
  std::vector<std::string> with(std::vector<std::string> args) const {
    args.insert(args.end(), {"-f", image, "-p", profile});
    return args;
  }
};

const Image& image() {
  static Image shared;
  return shared;
}

// The words of `text` as a POSIX shell splits them (single and double
// quotes, backslash), to prove the quoting round-trips.
std::vector<std::string> shell_words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == ' ') {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
    } else if (c == '\'') {
      in_word = true;
      size_t end = text.find('\'', i + 1);
      REQUIRE(end != std::string::npos);
      word += text.substr(i + 1, end - i - 1);
      i = end;
    } else if (c == '\\' && i + 1 < text.size()) {
      in_word = true;
      word += text[++i];
    } else {
      in_word = true;
      word += c;
    }
  }
  if (in_word) words.push_back(word);
  return words;
}

// The fields of one RFC 4180 line.
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      fields.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

std::vector<std::string> column_keys(const std::string& plugin) {
  std::vector<std::string> keys;
  for (const Column& c : find_plugin(plugin)->info.columns) keys.push_back(c.key);
  return keys;
}

// The plugins that run with no option on the synthetic image.
std::vector<std::string> runnable_plugins() {
  std::vector<std::string> out;
  for (const Plugin& plugin : plugins())
    if (plugin.info.needs_options.empty()) out.push_back(plugin.info.name);
  return out;
}

}  // namespace

TEST_CASE("cli output: psaux shows the arguments once / shell-quoted in text and CSV / a list in JSON") {
  const Image& img = image();
  std::vector<std::string> keys = column_keys("linux.psaux");
  CHECK(std::count(keys.begin(), keys.end(), "args") == 1);
  CHECK(std::count(keys.begin(), keys.end(), "argv") == 0);

  CliRun json_run = run_cli(img.with({"linux.psaux", "--pid", std::to_string(kTrickyPid), "-o", "json"}));
  INFO(json_run.err);
  REQUIRE(json_run.status == 0);
  ordered_json rows = ordered_json::parse(json_run.out);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].at("args").get<std::vector<std::string>>() == kTrickyArgv);

  CliRun text = run_cli(img.with({"linux.psaux", "--pid", std::to_string(kTrickyPid), "--wide"}));
  REQUIRE(text.status == 0);
  std::vector<std::string> lines = lines_of(text.out);
  REQUIRE(lines.size() == 2);
  // The args cell: from its header to the next column's, if any.
  size_t args_at = lines[0].find("args");
  REQUIRE(args_at != std::string::npos);
  size_t next = lines[0].find_first_not_of(' ', lines[0].find(' ', args_at));
  std::string shown = lines[1].substr(args_at, next == std::string::npos ? std::string::npos : next - args_at);
  while (!shown.empty() && shown.back() == ' ') shown.pop_back();
  CHECK_THAT(shown, Catch::Contains("'alpha arg with spaces'"));
  CHECK(shell_words(shown) == kTrickyArgv);
  // Each argument appears once on the line, not as argv and args both.
  CHECK(lines[1].find("alpha arg with spaces") == lines[1].rfind("alpha arg with spaces"));

  CliRun csv = run_cli(img.with({"linux.psaux", "--pid", std::to_string(kTrickyPid), "-o", "csv"}));
  REQUIRE(csv.status == 0);
  std::vector<std::string> csv_lines = lines_of(csv.out);
  REQUIRE(csv_lines.size() == 2);
  // The args field is CSV-quoted (it holds double quotes); unquoted it is
  // the shell-quoted words.
  std::vector<std::string> header = csv_fields(csv_lines[0]), fields = csv_fields(csv_lines[1]);
  REQUIRE(header.size() == fields.size());
  size_t column = std::find(header.begin(), header.end(), "args") - header.begin();
  REQUIRE(column < header.size());
  CHECK(csv_lines[1].find("\"" + fields[column].substr(0, 5)) != std::string::npos);  // quoted in the file
  CHECK(shell_words(fields[column]) == kTrickyArgv);
}

TEST_CASE("cli output: text is cut to the terminal's width with ... unless --wide") {
  const Image& img = image();
  // run_cli adds to the test's environment: a COLUMNS of its own would win.
  REQUIRE(std::getenv("COLUMNS") == nullptr);
  for (size_t width : {60u, 80u, 120u}) {
    INFO("COLUMNS=" << width);
    CliRun run = run_cli(img.with({"linux.psaux"}), {.env = {"COLUMNS=" + std::to_string(width)}});
    REQUIRE(run.status == 0);
    bool cut = false;
    for (const std::string& line : lines_of(run.out)) {
      INFO(line);
      CHECK(characters(line) <= width);
      cut = cut || line.find("...") != std::string::npos;
    }
    CHECK(cut);  // the long command lines were cut, not wrapped
    // Columns stay aligned: the header's keys start where the cells do.
    std::vector<std::string> lines = lines_of(run.out);
    size_t comm_at = lines[0].find("comm");
    for (size_t i = 1; i < lines.size(); ++i) CHECK(lines[i][comm_at - 1] == ' ');
  }
  CliRun wide = run_cli(img.with({"linux.psaux", "--wide"}), {.env = {"COLUMNS=60"}});
  REQUIRE(wide.status == 0);
  size_t longest = 0;
  for (const std::string& line : lines_of(wide.out)) longest = std::max(longest, characters(line));
  CHECK(longest > 4096);  // the synthetic python3's long command line, whole
  CHECK(wide.out.find("...") == std::string::npos);
  // A pipe with no COLUMNS gets whole cells too (what scripts read).
  CliRun piped = run_cli(img.with({"linux.psaux"}));
  CHECK(piped.out == wide.out);
}

TEST_CASE("cli output: JSONL is one row per line for every plugin / trees with depth and parent") {
  const Image& img = image();
  for (const std::string& plugin : runnable_plugins()) {
    INFO(plugin);
    CliRun jsonl = run_cli(img.with({plugin, "-o", "jsonl"}));
    CliRun json_run = run_cli(img.with({plugin, "-o", "json"}));
    INFO(jsonl.err);
    REQUIRE(jsonl.status == json_run.status);
    if (jsonl.status != 0) continue;  // a plugin this kernel has no data for: same error either way
    ordered_json tree = ordered_json::parse(json_run.out);
    // Rows nested in JSON, flattened in JSONL: as many lines as rows.
    size_t rows = 0;
    std::function<void(const ordered_json&)> count = [&](const ordered_json& row) {
      ++rows;
      if (row.contains("children"))
        for (const ordered_json& child : row.at("children")) count(child);
    };
    for (const ordered_json& row : tree) count(row);
    std::vector<std::string> lines = lines_of(jsonl.out);
    CHECK(lines.size() == rows);
    const std::vector<std::string> keys = column_keys(plugin);
    const bool nested = rows != tree.size();
    for (const std::string& line : lines) {
      ordered_json row = ordered_json::parse(line);
      REQUIRE(row.is_object());
      CHECK_FALSE(row.contains("children"));
      std::vector<std::string> got;
      for (auto it = row.begin(); it != row.end(); ++it) got.push_back(it.key());
      std::vector<std::string> expected = keys;
      if (nested) expected.insert(expected.end(), {"depth", "parent"});
      CHECK(got == expected);
    }
  }
}

TEST_CASE("cli output: a tree in JSONL and CSV: each row's depth and its parent's first column") {
  const Image& img = image();
  std::map<int64_t, int64_t> ppid;
  for (const auto& p : img.kernel.processes())
    if (!p.hidden) ppid[p.pid] = p.ppid;
  CliRun jsonl = run_cli(img.with({"linux.pstree", "-o", "jsonl"}));
  REQUIRE(jsonl.status == 0);
  REQUIRE(column_keys("linux.pstree").front() == "pid");
  std::map<int64_t, size_t> depth_of;
  std::set<int64_t> seen;
  for (const std::string& line : lines_of(jsonl.out)) {
    ordered_json row = ordered_json::parse(line);
    int64_t pid = row.at("pid").get<int64_t>();
    INFO(line);
    seen.insert(pid);
    size_t depth = row.at("depth").get<size_t>();
    depth_of[pid] = depth;
    if (depth == 0) {
      CHECK(row.at("parent").is_null());
    } else {
      int64_t parent = row.at("parent").get<int64_t>();
      CHECK(parent == ppid.at(pid));
      REQUIRE(depth_of.count(parent) == 1);  // the parent came first
      CHECK(depth == depth_of.at(parent) + 1);
    }
  }
  std::set<int64_t> listed;
  for (const auto& [pid, parent] : ppid) listed.insert(pid);
  CHECK(seen == listed);

  CliRun csv = run_cli(img.with({"linux.pstree", "-o", "csv"}));
  REQUIRE(csv.status == 0);
  std::vector<std::string> lines = lines_of(csv.out);
  REQUIRE(lines.size() == listed.size() + 1);
  CHECK(lines[0].size() > 13);
  CHECK(lines[0].compare(lines[0].size() - 13, 13, ",depth,parent") == 0);
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> fields = csv_fields(lines[i]);
    INFO(lines[i]);
    int64_t pid = std::stoll(fields.front());
    CHECK(std::to_string(depth_of.at(pid)) == fields[fields.size() - 2]);
    CHECK(fields.back() == (depth_of.at(pid) == 0 ? std::string() : std::to_string(ppid.at(pid))));
  }
}

TEST_CASE("cli output: JSON keys in column order for every plugin / -o none prints nothing") {
  const Image& img = image();
  for (const std::string& plugin : runnable_plugins()) {
    INFO(plugin);
    CliRun run = run_cli(img.with({plugin, "-o", "json"}));
    if (run.status != 0) continue;
    for (const ordered_json& row : ordered_json::parse(run.out)) {
      std::vector<std::string> got;
      for (auto it = row.begin(); it != row.end(); ++it)
        if (it.key() != "children") got.push_back(it.key());
      CHECK(got == column_keys(plugin));
    }
    CliRun none = run_cli(img.with({plugin, "-o", "none"}));
    CHECK(none.status == run.status);
    CHECK(none.out.empty());
    CHECK(none.err == run.err);
  }
}
