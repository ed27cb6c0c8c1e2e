// Shell completion (issue 15): bash and zsh scripts generated from the
// registries, so that every plugin, subcommand and option of this build is
// completed, and installed with the package. The bash script is run in
// bash as bash-completion runs it; the zsh one is checked by zsh's parser
// and for what it offers.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/plugin/plugin.h"
#include "support/run_cli.h"
#include "support/temp_file.h"

using namespace memscope;
using memscope::test::CliRun;
using memscope::test::run_cli;
namespace fs = std::filesystem;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs a shell command line; its stdout.
std::string shell(const std::string& command, int& status) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  status = ::pclose(pipe);
  return out;
}

const std::string& script(const std::string& shell_name) {
  static std::map<std::string, std::string> scripts;
  if (!scripts.count(shell_name)) {
    CliRun run = run_cli({"completion", shell_name});
    INFO(run.err);
    REQUIRE(run.status == 0);
    scripts[shell_name] = run.out;
  }
  return scripts[shell_name];
}

// What bash completes for the words typed (the last one being completed),
// with the generated script sourced, as bash-completion calls it.
std::set<std::string> bash_complete(const std::vector<std::string>& words, const std::string& cwd = ".") {
  test::TempFile file("memscope-completion.bash");
  file.write(script("bash"));
  std::string array;
  for (const std::string& w : words) array += " " + quoted(w);
  std::string command = "cd " + quoted(cwd) + " && bash --norc --noprofile -c " +
                        quoted("source " + file.path() + "; COMP_WORDS=(memscope" + array +
                               "); COMP_CWORD=" + std::to_string(words.size()) +
                               "; _memscope; printf '%s\\n' \"${COMPREPLY[@]}\"");
  int status = 0;
  std::string out = shell(command, status);
  INFO(command);
  CHECK(status == 0);
  std::set<std::string> offered;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) offered.insert(line);
  return offered;
}

}  // namespace

TEST_CASE("completion: bash completes every plugin and subcommand name") {
  std::set<std::string> all = bash_complete({""});
  for (const Plugin& plugin : plugins()) {
    INFO(plugin.info.name);
    CHECK(all.count(plugin.info.name) == 1);
    std::string prefix = plugin.info.name.substr(0, plugin.info.name.size() - 1);
    CHECK(bash_complete({prefix}).count(plugin.info.name) == 1);
  }
  for (const char* command : {"info", "convert", "profile", "plugins", "completion"}) CHECK(all.count(command) == 1);
  std::set<std::string> ps = bash_complete({"linux.ps"});
  CHECK(ps == std::set<std::string>{"linux.psaux", "linux.pslist", "linux.psscan", "linux.pstree"});
}

TEST_CASE("completion: bash completes each plugin's own options and the global ones") {
  for (const Plugin& plugin : plugins()) {
    INFO(plugin.info.name);
    std::set<std::string> options = bash_complete({"-f", "image.lime", plugin.info.name, "--"});
    for (const PluginOption& option : plugin.info.options) CHECK(options.count("--" + option.name) == 1);
    for (const char* global : {"--file", "--profile", "--symbols", "--output", "--renderer", "--wide", "--strict"})
      CHECK(options.count(global) == 1);
  }
  // Another plugin's options are not offered.
  std::set<std::string> lsmod = bash_complete({"linux.lsmod", "--p"});
  CHECK(lsmod.count("--profile") == 1);
  CHECK(lsmod.count("--pid") == 0);
  CHECK(bash_complete({"linux.pslist", "--p"}).count("--pid") == 1);
}

TEST_CASE("completion: bash completes output formats, files and folders where they go") {
  const std::set<std::string> formats = {"text", "json", "jsonl", "csv", "none"};
  CHECK(bash_complete({"linux.pslist", "-o", ""}) == formats);
  CHECK(bash_complete({"-r", ""}) == formats);
  CHECK(bash_complete({"linux.pslist", "--output", "j"}) == std::set<std::string>{"json", "jsonl"});
  test::TempDir dir("completion-files");
  fs::create_directory(dir.file("symbols-folder"));
  std::ofstream(dir.file("memory.lime")) << "x";
  CHECK(bash_complete({"-f", "mem"}, dir.path()) == std::set<std::string>{"memory.lime"});
  CHECK(bash_complete({"-s", "sym"}, dir.path()) == std::set<std::string>{"symbols-folder"});
  CHECK(bash_complete({"linux.proc_dump", "--dump-dir", "s"}, dir.path()) == std::set<std::string>{"symbols-folder"});
  CHECK(bash_complete({"profile", ""}) == std::set<std::string>{"info", "generate"});
  CHECK(bash_complete({"completion", ""}) == std::set<std::string>{"bash", "zsh"});
}

TEST_CASE("completion: the zsh script parses and offers every plugin and option") {
  const std::string& zsh = script("zsh");
  CHECK(zsh.rfind("#compdef memscope\n", 0) == 0);
  test::TempFile file("_memscope");
  file.write(zsh);
  int status = 0;
  std::string out = shell("command -v zsh >/dev/null && zsh -n " + quoted(file.path()) + " 2>&1; echo $?", status);
  INFO(out);
  if (out.find("127") == 0 || shell("command -v zsh", status).empty()) {
    // zsh is in dev.sh's packages; only a machine without it gets here.
    if (std::getenv("CI")) FAIL("zsh is not installed");
    WARN("zsh is not installed: the zsh script's syntax is not checked");
  } else {
    CHECK(out == "0\n");
  }
  for (const Plugin& plugin : plugins()) {
    INFO(plugin.info.name);
    CHECK_THAT(zsh, Catch::Contains("    " + plugin.info.name + ")\n"));
    CHECK_THAT(zsh, Catch::Contains("'" + plugin.info.name + ":"));
    for (const PluginOption& option : plugin.info.options) CHECK_THAT(zsh, Catch::Contains("--" + option.name + "["));
  }
  CHECK_THAT(zsh, Catch::Contains("format:(text json jsonl csv none)"));
}

// What zsh lists for `line` and a double Tab, in an interactive zsh on a
// pseudo-terminal (zsh/zpty) with the generated script in its fpath: the
// completion system run for real. Empty when zsh is not installed.
std::string zsh_listing(const std::string& line, const std::string& until) {
  int status = 0;
  if (shell("command -v zsh", status).empty()) return "";
  test::TempDir dir("zsh-completion");
  std::ofstream(dir.file("_memscope")) << script("zsh");
  std::ofstream driver(dir.file("drive.zsh"));
  driver << "zmodload zsh/zpty\n"
            "zpty z 'zsh -f -i'\n"
            "zpty -w z " << quoted("PS1='> '; fpath=(" + dir.path() + " $fpath); autoload -Uz compinit; compinit -u -D; "
                                   "path=(" + fs::path(MEMSCOPE_CLI_PATH).parent_path().string() + " $path)") << "\n"
            "zpty -w -n z " << quoted(line) << "$'\\t\\t'\n"
            "out=''\n"
            "for i in {1..100}; do\n"
            "  while zpty -r -t z chunk; do out+=$chunk; done\n"
            "  [[ $out == *" << quoted(until) << "* ]] && break\n"
            "  sleep 0.1\n"
            "done\n"
            "print -r -- \"$out\"\n"
            "zpty -d z\n";
  driver.close();
  return shell("zsh -f " + quoted(dir.file("drive.zsh")) + " 2>&1", status);
}

TEST_CASE("completion: zsh completes names and options in an interactive shell") {
  std::string names = zsh_listing("memscope linux.ps", "linux.pstree");
  if (names.empty()) {
    if (std::getenv("CI")) FAIL("zsh is not installed");
    WARN("zsh is not installed: zsh completion is not run");
    return;
  }
  INFO(names);
  for (const char* plugin : {"linux.psaux", "linux.pslist", "linux.psscan", "linux.pstree"})
    CHECK_THAT(names, Catch::Contains(plugin));
  CHECK(names.find("linux.lsmod") == std::string::npos);
  std::string options = zsh_listing("memscope linux.pslist --p", "--profile");
  INFO(options);
  CHECK_THAT(options, Catch::Contains("--pid") && Catch::Contains("--profile"));
  std::string formats = zsh_listing("memscope linux.pslist -o ", "jsonl");
  INFO(formats);
  CHECK_THAT(formats, Catch::Contains("csv") && Catch::Contains("jsonl") && Catch::Contains("none"));
}

TEST_CASE("completion: the scripts are built and installed with the package") {
  const std::string build = MEMSCOPE_BINARY_DIR;
  CHECK(read_file(build + "/completion/memscope") == script("bash"));
  CHECK(read_file(build + "/completion/_memscope") == script("zsh"));
  test::TempDir prefix("completion-install");
  int status = 0;
  std::string out = shell("cmake --install " + quoted(build) + " --prefix " + quoted(prefix.path()) + " 2>&1", status);
  INFO(out);
  REQUIRE(status == 0);
  CHECK(read_file(prefix.file("share/bash-completion/completions/memscope")) == script("bash"));
  CHECK(read_file(prefix.file("share/zsh/site-functions/_memscope")) == script("zsh"));
}
