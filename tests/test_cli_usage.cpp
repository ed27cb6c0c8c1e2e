// The command line as analysts type it (issue 15), through the built
// command: nothing typed is ignored, Volatility's habits work, typos get a
// suggestion, every error is one line, and the exit status says what
// happened (0 done, 1 could not be done, 2 usage, 3 --strict and
// incomplete). Generic over the registries: every plugin, every option,
// every Volatility name.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
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
using nlohmann::json;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A synthetic image with everything the plugins read (memory maps, open
// files, the hook points) and its profile, written once per test process.
test::SyntheticOptions everything() {
  test::SyntheticOptions options;
  options.vmas = test::VmaIndexKind::kMapleTree;
  options.files = true;
  options.hooks = true;
  return options;
}

struct Image {
  test::TempDir dir{"cli-usage"};
  test::SyntheticLinux kernel{everything()};
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
  int64_t hidden_pid() const {
    for (const auto& p : kernel.processes())
      if (p.hidden) return p.pid;
    FAIL("the synthetic image has no hidden process");
    return -1;
  }
};

const Image& image() {
  static Image shared;
  return shared;
}

std::set<int64_t> json_pids(const std::string& out) {
  std::set<int64_t> pids;
  for (const json& row : json::parse(out))
    if (row.contains("pid") && row.at("pid").is_number()) pids.insert(row.at("pid").get<int64_t>());
  return pids;
}

// An error as the issue wants it: one line on stderr, "memscope: ", at
// most about 200 characters, no library saying it has nothing to say.
void check_one_line_error(const CliRun& run) {
  INFO("stderr: " << run.err);
  std::vector<std::string> lines = lines_of(run.err);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].rfind("memscope: ", 0) == 0);
  CHECK(lines[0].size() <= 200);
  CHECK(lines[0].find("no error") == std::string::npos);
  CHECK(lines[0].find("Success") == std::string::npos);
}

// Two neighbouring letters swapped in the middle of `name`.
std::string swapped(std::string name) {
  size_t at = name.find('.') + 2;
  if (at + 1 < name.size()) std::swap(name[at], name[at + 1]);
  return name;
}

}  // namespace

TEST_CASE("cli usage: every value of a list option is used (--pid A B / --pid A --pid B / --pid A,B)") {
  const Image& img = image();
  // Two listed user processes of the synthetic image.
  std::vector<int64_t> two;
  for (const auto& p : img.kernel.processes())
    if (!p.hidden && !p.kernel_thread && p.exit_state == 0 && two.size() < 2) two.push_back(p.pid);
  REQUIRE(two.size() == 2);
  const std::string a = std::to_string(two[0]), b = std::to_string(two[1]);
  const std::set<int64_t> both(two.begin(), two.end());
  size_t checked = 0;
  for (const Plugin& plugin : plugins()) {
    bool has_pid = false;
    for (const PluginOption& option : plugin.info.options) has_pid = has_pid || option.name == "pid";
    if (!has_pid || !plugin.info.needs_options.empty()) continue;
    INFO(plugin.info.name);
    std::string first;
    for (const std::vector<std::string>& form : {std::vector<std::string>{"--pid", a, b},
                                                 {"--pid", a, "--pid", b},
                                                 {"--pid", a + "," + b},
                                                 {"--pid=" + a + "," + b}}) {
      std::vector<std::string> args = {plugin.info.name, "-o", "json"};
      args.insert(args.end(), form.begin(), form.end());
      CliRun run = run_cli(img.with(args));
      INFO(form[0] << " " << form.back() << "\n" << run.err);
      REQUIRE(run.status == 0);
      std::set<int64_t> pids = json_pids(run.out);
      for (int64_t pid : pids) CHECK(both.count(pid) == 1);
      if (plugin.info.name == "linux.pslist" || plugin.info.name == "linux.psaux") CHECK(pids == both);
      if (first.empty()) first = run.out;
      CHECK(run.out == first);  // every form, the same rows
    }
    ++checked;
  }
  CHECK(checked >= 2);
}

TEST_CASE("cli usage: an argument memscope does not use is an error (exit 2) / never dropped") {
  const Image& img = image();
  SECTION("a second plugin") {
    CliRun run = run_cli(img.with({"linux.lsmod", "linux.pslist"}));
    CHECK(run.status == 2);
    CHECK(run.out.empty());
    check_one_line_error(run);
    CHECK_THAT(run.err, Catch::Contains("linux.pslist") && Catch::Contains("one subcommand or plugin at a time"));
  }
  SECTION("a stray word") {
    CliRun run = run_cli(img.with({"linux.pslist", "200"}));
    CHECK(run.status == 2);
    check_one_line_error(run);
    CHECK_THAT(run.err, Catch::Contains("'200'"));
  }
  SECTION("an option of another plugin") {
    CliRun run = run_cli(img.with({"linux.lsmod", "--pid", "1"}));
    CHECK(run.status == 2);
    check_one_line_error(run);
    CHECK_THAT(run.err, Catch::Contains("linux.lsmod has no option --pid"));
  }
  SECTION("a second image") {
    CliRun run = run_cli(img.with({"linux.pslist", "-f", img.image}));
    CHECK(run.status == 2);
    check_one_line_error(run);
    CHECK_THAT(run.err, Catch::Contains("-f was given 2 times"));
  }
  SECTION("a profile for a command that opens no image") {
    test::TempDir dir("cli-unused");
    CliRun run = run_cli({"convert", "-p", img.profile, img.image, dir.file("out.lz4")});
    CHECK(run.status == 2);
    check_one_line_error(run);
    CHECK_THAT(run.err, Catch::Contains("--profile would be ignored"));
    CHECK_FALSE(std::ifstream(dir.file("out.lz4")).good());
  }
  SECTION("an output format a command does not write") {
    CliRun run = run_cli(img.with({"info", "-o", "csv"}));
    CHECK(run.status == 2);
    check_one_line_error(run);
    CHECK_THAT(run.err, Catch::Contains("info has no csv output"));
  }
  SECTION("no subcommand") {
    CliRun run = run_cli(img.with({}));
    CHECK(run.status == 2);
    check_one_line_error(run);
  }
}

TEST_CASE("cli usage: a --pid that matches nothing says so / a hidden one is named / --strict exits 3") {
  const Image& img = image();
  CliRun none = run_cli(img.with({"linux.pslist", "--pid", "99999", "-o", "json"}));
  CHECK(none.status == 0);
  CHECK(json::parse(none.out).empty());
  CHECK_THAT(none.err, Catch::Contains("--pid 99999: no process with this PID on the task list"));

  const std::string hidden = std::to_string(img.hidden_pid());
  for (const char* plugin : {"linux.pslist", "linux.psaux", "linux.envars"}) {
    INFO(plugin);
    CliRun run = run_cli(img.with({plugin, "--pid", hidden}));
    INFO(run.err);
    CHECK(run.status == 0);
    CHECK_THAT(run.err, Catch::Contains("--pid " + hidden + ": not on the task list, but the kernel's PID table"));
    CHECK_THAT(run.err, Catch::Contains("linux.hidden_processes --pid " + hidden));
  }
  // A hidden process that linux.hidden_processes lists gets no such line.
  CliRun found = run_cli(img.with({"linux.hidden_processes", "--pid", hidden, "-o", "json"}));
  CHECK(found.status == 0);
  CHECK(json_pids(found.out) == std::set<int64_t>{img.hidden_pid()});
  CHECK(found.err.find("not on the task list, but") == std::string::npos);

  CliRun strict = run_cli(img.with({"linux.pslist", "--pid", "99999", "--strict"}));
  CHECK(strict.status == 3);
  CHECK_THAT(strict.err, Catch::Contains("no process with this PID"));
  CliRun clean = run_cli(img.with({"linux.pslist", "--strict"}));
  INFO(clean.err);
  CHECK(clean.status == 0);
}

TEST_CASE("cli usage: -q hides progress bars, never a warning") {
  const Image& img = image();
  CliRun quiet = run_cli(img.with({"-q", "linux.pslist", "--pid", "99999"}), {.stderr_is_terminal = true});
  CHECK(quiet.status == 0);
  CHECK_THAT(quiet.err, Catch::Contains("warning: --pid 99999"));
  CliRun strict = run_cli(img.with({"linux.pslist", "-q", "--strict", "--pid", "99999"}));
  CHECK(strict.status == 3);
  CHECK_THAT(strict.err, Catch::Contains("warning: --pid 99999"));
}

TEST_CASE("cli usage: -o and -r take memscope's and Volatility's renderer names / any case") {
  const Image& img = image();
  CliRun text = run_cli(img.with({"linux.pslist"}));
  REQUIRE(text.status == 0);
  for (const char* name : {"text", "TEXT", "quick", "Quick", "pretty"})
    for (const char* option : {"-o", "-r", "--renderer", "--output"}) {
      INFO(option << " " << name);
      CliRun run = run_cli(img.with({"linux.pslist", option, name}));
      CHECK(run.status == 0);
      CHECK(run.out == text.out);
    }
  CliRun json_run = run_cli(img.with({"linux.pslist", "-r", "JSON"}));
  REQUIRE(json_run.status == 0);
  CHECK(json::parse(json_run.out).size() == lines_of(text.out).size() - 1);
  CliRun same = run_cli(img.with({"linux.pslist", "-r", "csv", "-o", "CSV"}));
  CHECK(same.status == 0);
  CHECK(lines_of(same.out).size() == lines_of(text.out).size());

  CliRun none = run_cli(img.with({"linux.pslist", "-r", "none", "--pid", "99999"}));
  CHECK(none.status == 0);
  CHECK(none.out.empty());
  CHECK_THAT(none.err, Catch::Contains("--pid 99999"));

  CliRun both = run_cli(img.with({"linux.pslist", "-r", "json", "-o", "csv"}));
  CHECK(both.status == 2);
  check_one_line_error(both);

  CliRun unknown = run_cli(img.with({"linux.pslist", "-o", "jsnl"}));
  CHECK(unknown.status == 2);
  check_one_line_error(unknown);
  CHECK_THAT(unknown.err, Catch::Contains("unknown output format 'jsnl'") && Catch::Contains("did you mean json"));
}

TEST_CASE("cli usage: -o given a folder says -o is the format and names the option for a folder") {
  const Image& img = image();
  test::TempDir dir("cli-o-folder");
  CliRun run = run_cli(img.with({"linux.pslist", "-o", dir.path()}));
  CHECK(run.status == 2);
  check_one_line_error(run);
  CHECK_THAT(run.err, Catch::Contains("-o is the output format") && Catch::Contains("--dump-dir"));
  // Every plugin that writes files into a folder is named.
  for (const Plugin& plugin : plugins())
    for (const PluginOption& option : plugin.info.options)
      if (option.name == "dump-dir") CHECK_THAT(run.err, Catch::Contains(plugin.info.name));
  CliRun dumper = run_cli(img.with({"linux.proc_dump", "--pid", "1", "-o", dir.path() + "/"}));
  CHECK(dumper.status == 2);
  CHECK_THAT(dumper.err, Catch::Contains("linux.proc_dump writes its files into --dump-dir DIR"));
}

TEST_CASE("cli usage: -p given a folder is told about profiles / -s given a file too") {
  const Image& img = image();
  test::TempDir dir("cli-p-folder");
  CliRun run = run_cli({"linux.pslist", "-f", img.image, "-p", dir.path()});
  CHECK(run.status == 2);
  check_one_line_error(run);
  CHECK_THAT(run.err, Catch::Contains("-p/--profile takes a profile file") && Catch::Contains("-s " + dir.path()));
  CHECK(run.err.find("image") == std::string::npos);
  CliRun s_file = run_cli({"linux.pslist", "-f", img.image, "-s", img.profile});
  CHECK(s_file.status == 2);
  check_one_line_error(s_file);
  CHECK_THAT(s_file.err, Catch::Contains("-s/--symbols takes a folder") && Catch::Contains("-p " + img.profile));
  CliRun f_folder = run_cli({"linux.pslist", "-f", dir.path(), "-p", img.profile});
  CHECK(f_folder.status == 2);
  check_one_line_error(f_folder);
}

TEST_CASE("cli usage: Volatility's plugin names run memscope's plugins") {
  const Image& img = image();
  // The names the issue quotes, and any case.
  for (const auto& [volatility, memscope_name] :
       std::vector<std::pair<std::string, std::string>>{{"linux.pslist.PsList", "linux.pslist"},
                                                        {"linux.proc.Maps", "linux.maps"},
                                                        {"linux.malware.hidden_modules", "linux.hidden_modules"},
                                                        {"linux.malware.hidden_modules.Hidden_modules",
                                                         "linux.hidden_modules"},
                                                        {"LINUX.PSLIST", "linux.pslist"},
                                                        {"linux.pstree.PsTree", "linux.pstree"}}) {
    INFO(volatility);
    CliRun theirs = run_cli(img.with({volatility, "-o", "json"}));
    CliRun ours = run_cli(img.with({memscope_name, "-o", "json"}));
    CHECK(theirs.status == ours.status);
    CHECK(theirs.out == ours.out);
    CHECK(theirs.err == ours.err);
  }
  // Every name `plugins` lists for a plugin is that plugin.
  CliRun listed = run_cli({"plugins", "-o", "json"});
  REQUIRE(listed.status == 0);
  size_t names = 0;
  for (const json& row : json::parse(listed.out)) {
    for (const json& name : row.at("volatility")) {
      INFO(name);
      CliRun help = run_cli({name.get<std::string>(), "--help"});
      CHECK(help.status == 0);
      CHECK(help.out.rfind("Usage: memscope " + row.at("name").get<std::string>() + " ", 0) == 0);
      ++names;
    }
  }
  CHECK(names >= 20);
  // Names that stand for a plugin with an option.
  CliRun banners = run_cli({"banners.Banners", "-f", img.image});
  CHECK(banners.status == 0);
  CHECK_THAT(banners.out, Catch::Contains("Banners in RAM:  1") || Catch::Contains("Banners in RAM:  2"));
  CliRun modxview = run_cli(img.with({"linux.malware.modxview.Modxview", "-o", "json"}));
  CliRun all = run_cli(img.with({"linux.hidden_modules", "--all", "-o", "json"}));
  CHECK(modxview.status == 0);
  CHECK(modxview.out == all.out);
}

TEST_CASE("cli usage: typos get a suggestion (plugins, subcommands, options)") {
  const Image& img = image();
  for (const Plugin& plugin : plugins()) {
    std::string typo = swapped(plugin.info.name);
    if (typo == plugin.info.name) continue;
    INFO(typo);
    CliRun run = run_cli(img.with({typo}));
    CHECK(run.status == 2);
    check_one_line_error(run);
    CHECK_THAT(run.err, Catch::Contains("did you mean " + plugin.info.name + "?"));
  }
  CliRun pslst = run_cli(img.with({"linux.pslst"}));
  CHECK_THAT(pslst.err, Catch::Contains("did you mean linux.pslist?"));
  CliRun bare = run_cli(img.with({"pslist"}));
  CHECK_THAT(bare.err, Catch::Contains("did you mean linux.pslist?"));
  CliRun infp = run_cli(img.with({"infp"}));
  CHECK(infp.status == 2);
  CHECK_THAT(infp.err, Catch::Contains("did you mean info?"));

  CliRun option = run_cli(img.with({"linux.pslist", "--pdi", "1"}));
  CHECK(option.status == 2);
  check_one_line_error(option);
  CHECK_THAT(option.err, Catch::Contains("no option --pdi: did you mean --pid?"));
  CliRun global = run_cli(img.with({"linux.pslist", "--wdie"}));
  CHECK(global.status == 2);
  CHECK_THAT(global.err, Catch::Contains("did you mean --wide?"));
  CliRun value = run_cli(img.with({"linux.pslist", "--pid", "12x"}));
  CHECK(value.status == 2);
  check_one_line_error(value);
  CHECK_THAT(value.err, Catch::Contains("'12x' is not a number"));
}

TEST_CASE("cli usage: analysis errors are one line with exit status 1 / details only with -v") {
  const Image& img = image();
  test::TempDir dir("cli-errors");
  std::string fake_elf = dir.file("fake.elf");
  std::ofstream(fake_elf, std::ios::binary) << std::string("\x7f" "ELF", 4);
  std::string noise = dir.file("noise.raw");
  {
    std::ofstream out(noise, std::ios::binary);
    for (int i = 0; i < 4 << 20; ++i) out.put(static_cast<char>((i * 2654435761u) >> 24));
  }
  // No profile anywhere: a data folder that does not exist (under $HOME, as
  // an analyst's is, so that the message shows it as ~/...).
  const char* real_home = std::getenv("HOME");
  const std::string data = (real_home ? std::string(real_home) : dir.path()) + "/.no-memscope";
  REQUIRE_FALSE(std::filesystem::exists(data));
  std::vector<std::vector<std::string>> failing = {
      {"linux.pslist", "-f", dir.file("absent.lime"), "-p", img.profile},
      {"info", "-f", fake_elf},
      {"linux.pslist", "-f", noise, "-p", img.profile},
      {"linux.pslist", "-f", img.image},  // no profile anywhere
      {"profile", "info", noise},
  };
  for (const auto& args : failing) {
    INFO(args[0] << " " << args[2]);
    CliRun run = run_cli(args, {.env = {"XDG_DATA_HOME=" + data}});
    CHECK(run.status == 1);
    CHECK(run.out.empty());
    check_one_line_error(run);
    CliRun verbose = run_cli([&] {
      auto v = args;
      v.push_back("-v");
      return v;
    }(), {.env = {"XDG_DATA_HOME=" + data}});
    CHECK(verbose.status == 1);
    REQUIRE_FALSE(lines_of(verbose.err).empty());
    CHECK(lines_of(verbose.err)[0] == lines_of(run.err)[0]);
  }
  CliRun elf = run_cli({"info", "-f", fake_elf});
  CHECK_THAT(elf.err, Catch::Contains("not an ELF file"));
  // No profile: the line names the folder searched by default and what to give.
  CliRun no_profile = run_cli({"linux.pslist", "-f", img.image}, {.env = {"XDG_DATA_HOME=" + data}});
  CHECK_THAT(no_profile.err, Catch::Contains("no kernel profile") && Catch::Contains("memscope/symbols") &&
                                 Catch::Contains("-p"));
  // No kernel: what discovery tried is there with -v.
  CliRun no_kernel = run_cli({"linux.pslist", "-f", noise, "-p", img.profile, "-v"});
  REQUIRE(lines_of(no_kernel.err).size() >= 2);
  CHECK_THAT(lines_of(no_kernel.err)[0], Catch::Contains("no Linux kernel found in " + noise));
  CHECK_THAT(no_kernel.err, Catch::Contains("details: ") && Catch::Contains("tried"));
}

TEST_CASE("cli usage: exit statuses are documented in --help and docs/cli.md") {
  CliRun help = run_cli({"--help"});
  CHECK(help.status == 0);
  std::ifstream doc(std::string(MEMSCOPE_SOURCE_DIR) + "/docs/cli.md");
  REQUIRE(doc.good());
  std::string cli_md((std::istreambuf_iterator<char>(doc)), {});
  for (const char* status : {"0", "1", "2", "3"}) {
    INFO(status);
    CHECK_THAT(help.out, Catch::Contains(std::string("\n  ") + status + "  "));
    CHECK_THAT(cli_md, Catch::Contains(std::string("| ") + status + " |"));
  }
  CHECK_THAT(help.out, Catch::Contains("--strict") && Catch::Contains("--renderer") && Catch::Contains("--wide"));
  // Every global option `memscope --help` lists is in docs/cli.md.
  size_t from = help.out.find("Global options:");
  size_t to = help.out.find("Exit status:");
  REQUIRE(from < to);
  size_t options = 0;
  for (const std::string& line : lines_of(help.out.substr(from, to - from))) {
    size_t at = line.find("--");
    if (line.rfind("  -", 0) != 0 || at == std::string::npos) continue;
    std::string option = line.substr(at, line.find_first_of(" ]", at) - at);
    INFO(option);
    CHECK_THAT(cli_md, Catch::Contains("`" + option));
    ++options;
  }
  CHECK(options >= 12);
}

TEST_CASE("cli usage: PLUGIN --help lists the plugin's columns with their types and meaning") {
  const std::map<ColumnType, std::string> types = {
      {ColumnType::Bool, "bool"},       {ColumnType::Int, "int"},       {ColumnType::UInt, "uint"},
      {ColumnType::Address, "address"}, {ColumnType::String, "string"}, {ColumnType::StringList, "list"},
      {ColumnType::Seconds, "seconds"}};
  for (const Plugin& plugin : plugins()) {
    INFO(plugin.info.name);
    CliRun run = run_cli({plugin.info.name, "--help"});
    REQUIRE(run.status == 0);
    CHECK(run.err.empty());
    CHECK_THAT(run.out, Catch::Contains(plugin.info.description));
    size_t at = run.out.find("Columns");
    REQUIRE(at != std::string::npos);
    for (const Column& column : plugin.info.columns) {
      INFO(column.key);
      // One line: the key, its type, its meaning.
      bool found = false;
      for (const std::string& line : lines_of(run.out.substr(at))) {
        std::istringstream words(line);
        std::string key, type;
        words >> key >> type;
        if (key == column.key && type == types.at(column.type) && line.find(column.description) != std::string::npos)
          found = true;
      }
      CHECK(found);
    }
    for (const PluginOption& option : plugin.info.options) CHECK_THAT(run.out, Catch::Contains("--" + option.name));
  }
}
