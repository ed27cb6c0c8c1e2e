// Plugins from outside the tree: examples/kthreads built against the
// installed package (with its CMake package, and with pkg-config) loads,
// runs, and its rows appear in a report; libraries memscope must refuse
// (another plugin API version, not a plugin, a symbol this memscope lacks,
// a built-in plugin's name, a bad column) are refused naming the file,
// without registering anything. tests/plugin_consumer/build.sh builds them.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/plugin/loader.h"
#include "core/plugin/plugin.h"
#include "core/report/report.h"
#include "core/session/session.h"
#include "support/consumer_build.h"
#include "support/fixture_profiles.h"
#include "support/fixtures.h"
#include "support/report_schema.h"
#include "support/run_cli.h"
#include "support/temp_file.h"

using namespace memscope;
using Json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string shell_word(const std::string& s) { return "'" + s + "'"; }

// What the built libraries depend on: the library and command of this
// build, the installed headers, the example's and this test's sources.
std::string build_key() {
  Dl_info info{};
  std::string key;
  auto add = [&](const fs::path& path) {
    std::error_code ec;
    auto time = fs::last_write_time(path, ec);
    if (ec) return;
    key += path.string() + ":" + std::to_string(fs::file_size(path, ec)) + ":" +
           std::to_string(time.time_since_epoch().count()) + "\n";
  };
  if (::dladdr(reinterpret_cast<void*>(&plugin_registry), &info) && info.dli_fname) add(info.dli_fname);
  add(MEMSCOPE_CLI_PATH);
  const fs::path source(MEMSCOPE_SOURCE_DIR);
  for (const char* dir : {"core", "examples", "tests/plugin_consumer"})
    for (const auto& entry : fs::recursive_directory_iterator(source / dir))
      if (entry.is_regular_file()) add(entry.path());
  return key;
}

// Installs memscope into a prefix in the build tree and builds the
// libraries against it; test processes share it (a lock), and it is built
// again only when what it depends on changed.
const std::string& built() {
  static const std::string out = [] {
    const std::string dir = std::string(MEMSCOPE_BINARY_DIR) + "/plugin-consumer";
    int lock = ::open((dir + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    REQUIRE(lock >= 0);
    REQUIRE(::flock(lock, LOCK_EX) == 0);
    const std::string key = build_key();
    std::ifstream old(dir + "/key");
    std::stringstream old_key;
    old_key << old.rdbuf();
    if (old_key.str() != key || key.empty()) {
      std::error_code ec;
      fs::remove_all(dir, ec);
      fs::create_directories(dir);
      std::string log = dir + "/build.log";
      std::string command = test::consumer_build_environment() + shell_word(std::string(MEMSCOPE_SOURCE_DIR) + "/tests/plugin_consumer/build.sh") + " " +
                            shell_word(MEMSCOPE_SOURCE_DIR) + " " + shell_word(MEMSCOPE_BINARY_DIR) + " " +
                            shell_word(dir) + " > " + shell_word(log) + " 2>&1";
      int status = std::system(command.c_str());
      std::ifstream in(log);
      std::stringstream text;
      text << in.rdbuf();
      INFO(text.str());
      if (status != 0) ::close(lock);
      REQUIRE(status == 0);
      std::ofstream(dir + "/key") << key;
    }
    ::close(lock);
    return dir;
  }();
  return out;
}

std::string example() { return built() + "/plugins/linux_kthreads.so"; }
std::string bad(const std::string& name) { return built() + "/bad/" + name + ".so"; }

test::CliOptions hermetic(const test::TempDir& dir) { return {.env = {"XDG_DATA_HOME=" + dir.file("data")}}; }

std::string refusal_of(const std::string& path) {
  size_t before = plugins().size();
  PluginLoadResult result = load_plugin_library(path);
  CHECK(result.loaded.empty());
  CHECK(plugins().size() == before);
  REQUIRE(result.refused.size() == 1);
  // One line that starts with the file.
  CHECK(result.refused[0].rfind(path + ": ", 0) == 0);
  CHECK(result.refused[0].find('\n') == std::string::npos);
  return result.refused[0];
}

}  // namespace

TEST_CASE("plugin loading: the out-of-tree example loads and says where it comes from and runs") {
  PluginLoadResult result = load_plugin_library(example());
  INFO((result.refused.empty() ? "" : result.refused[0]));
  REQUIRE(result.loaded.size() == 1);
  CHECK(result.loaded[0].path == example());
  CHECK(result.loaded[0].plugins == std::vector<std::string>{"linux.kthreads"});
  const Plugin* kthreads = find_plugin("linux.kthreads");
  REQUIRE(kthreads);
  CHECK(plugin_origin("linux.kthreads") == example());
  CHECK(plugin_origin("linux.pslist") == "built-in");

  // On the sample, through a report like any built-in plugin.
  ReportOptions options;
  options.profile = test::sample_profile();
  options.plugin_names = {"linux.kthreads", "linux.pslist"};
  ImageReport report = build_image_report(test::sample_image(), select_plugins(options.plugin_names), options);
  REQUIRE(!report.failed());
  REQUIRE(report.plugins.size() == 2);
  const PluginReport& rows = report.plugins[0];
  CHECK(rows.name == "linux.kthreads");
  CHECK(rows.origin == example());
  INFO(rows.reason);
  CHECK(rows.status == PluginStatus::Ok);
  // Its rows are the kernel threads pslist shows.
  const Table& pslist = report.plugins[1].table;
  size_t kernel_threads = 0;
  size_t flag = pslist.column_index("kernel_thread");
  for (const Row& row : pslist.rows) kernel_threads += row.cells[flag] == Value{true};
  CHECK(rows.table.rows.size() == kernel_threads);

  // Loading the same library twice is refused: its plugin is registered.
  std::string again = refusal_of(example());
  CHECK_THAT(again, Catch::Contains("already registered") && Catch::Contains(example()));
}

TEST_CASE("plugin loading: the example built with pkg-config loads too") {
  std::string path = built() + "/pkgconfig/linux_kthreads.so";
  PluginLoadResult result = load_plugin_library(path);
  INFO((result.refused.empty() ? "" : result.refused[0]));
  REQUIRE(result.loaded.size() == 1);
  CHECK(plugin_origin("linux.kthreads") == path);
}

TEST_CASE("plugin loading: a library built for another plugin API version is refused cleanly") {
  std::string why = refusal_of(bad("other_api"));
  CHECK_THAT(why, Catch::Contains("plugin API version " + std::to_string(kPluginApiVersion - 1)) &&
                      Catch::Contains("this memscope has " + std::to_string(kPluginApiVersion)));
}

TEST_CASE("plugin loading: libraries that are not plugins or cannot be linked are refused naming the file") {
  CHECK_THAT(refusal_of(bad("not_a_plugin")), Catch::Contains("not a memscope plugin library"));
  CHECK_THAT(refusal_of(bad("missing_symbol")),
             Catch::Contains("cannot load") && Catch::Contains("function_of_a_newer_memscope"));
  std::string dup = refusal_of(bad("duplicate_name"));
  CHECK_THAT(dup, Catch::Contains("linux.pslist") && Catch::Contains("already registered (built-in)"));
  CHECK(plugin_origin("linux.pslist") == "built-in");
  // Refused whole: the library's good plugin is not registered either.
  std::string columns = refusal_of(bad("bad_columns"));
  CHECK_THAT(columns, Catch::Contains("linux.half_bad") && Catch::Contains("snake_case"));
  CHECK(find_plugin("linux.half_good") == nullptr);
  // A missing file, and a folder.
  CHECK_THAT(refusal_of(built() + "/no-such.so"), Catch::Contains("cannot load"));
  PluginLoadResult folder = load_plugin_dirs({built() + "/no-such-folder"});
  REQUIRE(folder.refused.size() == 1);
  CHECK_THAT(folder.refused[0], Catch::Contains("no-such-folder"));
  // The user's default folder may be absent: nothing to say.
  CHECK(load_plugin_dirs({built() + "/no-such-folder"}, false).refused.empty());
}

TEST_CASE("plugin loading: a folder loads every library it holds and refuses the bad ones") {
  PluginLoadResult result = load_plugin_dirs({built() + "/bad", built() + "/plugins"});
  CHECK(result.refused.size() == 5);
  REQUIRE(result.loaded.size() == 1);
  CHECK(result.loaded[0].plugins == std::vector<std::string>{"linux.kthreads"});
}

TEST_CASE("plugin loading: memscope --plugin-dir lists the plugin with its origin and reports its rows") {
  test::TempDir dir("plugin-cli");
  test::CliRun list = test::run_cli({"--plugin-dir", built() + "/plugins", "plugins", "-o", "json"}, hermetic(dir));
  INFO(list.err);
  REQUIRE(list.status == 0);
  Json listed = Json::parse(list.out);
  bool found = false;
  for (const Json& row : listed) {
    if (row["name"] == "linux.kthreads") {
      found = true;
      CHECK(row["origin"] == example());
    } else {
      CHECK(row["origin"] == "built-in");
    }
  }
  CHECK(found);

  test::CliRun run = test::run_cli({"report", "--plugin-dir", built() + "/plugins", "-f", test::sample_image(), "-p",
                                    test::sample_profile(), "--plugins", "linux.kthreads", "--out-dir", dir.path()},
                                   hermetic(dir));
  INFO(run.err);
  REQUIRE(run.status == 0);
  CHECK(test::report_schema_errors({dir.file("sample.lime.json")}) == "");
  std::ifstream in(dir.file("sample.lime.json"));
  Json doc = Json::parse(in);
  CHECK(doc["plugins"]["linux.kthreads"]["status"] == "ok");
  CHECK(doc["plugins"]["linux.kthreads"]["origin"] == example());

  // Refused libraries: one line each on stderr, and memscope works on.
  test::CliRun refused = test::run_cli({"--plugin-dir", built() + "/bad", "plugins"}, hermetic(dir));
  CHECK(refused.status == 0);
  for (const char* name : {"other_api", "not_a_plugin", "missing_symbol", "duplicate_name", "bad_columns"})
    CHECK_THAT(refused.err, Catch::Contains(bad(name) + ": "));
}

TEST_CASE("plugin loading: the user's plugin folder is searched without --plugin-dir") {
  test::TempDir dir("plugin-user-folder");
  std::string folder = dir.file("data/memscope/plugins");
  fs::create_directories(folder);
  fs::copy_file(example(), folder + "/linux_kthreads.so");
  test::CliRun list = test::run_cli({"plugins"}, hermetic(dir));
  INFO(list.err);
  REQUIRE(list.status == 0);
  CHECK_THAT(list.out, Catch::Contains("linux.kthreads") && Catch::Contains(folder + "/linux_kthreads.so"));
}

TEST_CASE("plugin loading: linux.kthreads on the fixture names each kernel thread's function") {
  const std::string profile = test::fixture_isf_profile();
  const std::string image = test::fixture("image.lime");
  REQUIRE(load_plugin_library(example()).loaded.size() == 1);
  SessionOptions options;
  options.image = image;
  options.profile = profile;
  Session session(options);
  PluginResult result = run_plugin(*find_plugin("linux.kthreads"), session, {});
  INFO(result.error);
  REQUIRE(result.ok);
  const Table& table = result.table;
  size_t comm = table.column_index("comm"), function = table.column_index("function"),
         pid = table.column_index("pid"), full_name = table.column_index("full_name");
  // The names /proc gave (whole, where comm keeps 15 characters).
  std::map<int64_t, std::string> truth_names;
  for (const auto& p : test::truth()["processes"]) truth_names[p["pid"].get<int64_t>()] = p["comm"];
  // The kernel threads the guest reported in its task list.
  size_t expected = 0;
  for (const auto& p : test::truth()["processes"])
    expected += p["kernel_thread"] == true && p.value("hidden", false) == false;
  CHECK(table.rows.size() == expected);
  size_t named = 0, kworkers = 0, long_names = 0;
  for (const Row& row : table.rows) {
    const auto* name = std::get_if<std::string>(&row.cells[comm]);
    const auto* fn = std::get_if<std::string>(&row.cells[function]);
    REQUIRE(name);
    INFO(*name);
    named += fn != nullptr;
    // What kernel/workqueue.c and kernel/smpboot.c start, on every kernel
    // that has these threads.
    if (name->rfind("kworker/", 0) == 0) {
      ++kworkers;
      CHECK((fn && *fn == "worker_thread"));
    }
    if (name->rfind("ksoftirqd/", 0) == 0) CHECK((fn && *fn == "smpboot_thread_fn"));
    // kthreadd is started by kernel_thread(), not kthread_create(): no function.
    if (row.cells[pid] == Value{int64_t{2}}) CHECK(fn == nullptr);
    // A name longer than comm is kept whole in struct kthread, and /proc
    // shows it (kworkers excepted: /proc adds their workqueue to the name;
    // workqueue rescuers: /proc shows comm, the kernel keeps the whole).
    const std::string& proc_name = truth_names[std::get<int64_t>(row.cells[pid])];
    const auto* full = std::get_if<std::string>(&row.cells[full_name]);
    if (full) CHECK((full->size() > 15 && full->rfind(*name, 0) == 0));
    if (proc_name.size() > 15 && name->rfind("kworker/", 0) != 0) {
      ++long_names;
      CHECK((full && *full == proc_name));
    }
  }
  CHECK(kworkers > 0);
  CHECK(long_names > 0);
  CHECK(named + 1 >= table.rows.size());
  // Every struct kthread was read.
  CHECK(result.table.warnings.empty());
}
