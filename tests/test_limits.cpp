// The named limits (core/util/limits.h, docs/limits.md): each one stops what
// an image could make unbounded, each is raised by its option, and each
// warning it causes names the limit and the option. Limits come from a
// session's options and are active while a plugin runs (run_plugin).
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "core/linux/tasks.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "core/types/object.h"
#include "core/util/error.h"
#include "core/util/limits.h"
#include "support/buffer_space.h"
#include "support/run_cli.h"
#include "support/synthetic_linux.h"
#include "support/table_cells.h"
#include "support/temp_file.h"

using namespace memscope;
using test::all_warnings;
using memscope::test::SyntheticLinux;

namespace {

// The synthetic image and its profile, written once per test.
struct Written {
  test::TempDir dir{"limits"};
  std::string image = dir.file("image.lime");
  std::string profile = dir.file("profile.json");
  explicit Written(SyntheticLinux& kernel) {
    kernel.write_lime(image);
    kernel.write_profile(profile);
  }
  PluginResult run(const std::string& plugin, const Limits& limits, const PluginArgs& args = {}) const {
    SessionOptions options;
    options.image = image;
    options.profile = profile;
    options.limits = limits;
    Session session(options);
    return run_plugin(*find_plugin(plugin), session, args);
  }
};

// A profile with a char pointer type, for strings read through pointers.
std::shared_ptr<const Profile> char_pointer_profile() {
  ProfileBuilder builder("limits-test");
  TypeRef chr = builder.named(TypeKind::kBase, "char");
  builder.define_base(chr, 1, BaseKind::kChar, true);
  TypeRef holder = builder.named(TypeKind::kStruct, "holder");
  builder.define_record(holder, TypeKind::kStruct, 8);
  builder.add_member(holder, "name", 0, builder.pointer_to(chr), false);
  return builder.finish();
}

}  // namespace

TEST_CASE("limits: defaults / a scope makes a session's limits active on its thread and nests") {
  const Limits defaults;
  CHECK(active_limits() == defaults);
  CHECK(defaults.max_list == 4u << 20);
  Limits small;
  small.max_list = 10;
  {
    ScopedLimits outer(small);
    CHECK(active_limits().max_list == 10);
    CHECK(WalkOptions{}.limit == 10);
    Limits smaller = small;
    smaller.max_list = 5;
    {
      ScopedLimits inner(smaller);
      CHECK(active_limits().max_list == 5);
    }
    CHECK(active_limits().max_list == 10);
  }
  CHECK(active_limits() == defaults);
  CHECK(limit_hint("max_list", 7, kMaxListOption) == "the max_list limit of 7 (raise it with --max-list N)");
}

TEST_CASE("limits: max_list stops a list walk with a warning naming it / raising it gives the whole list") {
  SyntheticLinux kernel;
  Written files(kernel);
  Limits limits;
  limits.max_list = 3;
  PluginResult cut = files.run("linux.pslist", limits);
  REQUIRE(cut.ok);
  INFO(all_warnings(cut.table));
  CHECK(cut.table.rows.size() == 3);
  CHECK_THAT(all_warnings(cut.table), Catch::Contains("max_list limit of 3") && Catch::Contains("--max-list N"));
  PluginResult whole = files.run("linux.pslist", Limits{});
  REQUIRE(whole.ok);
  CHECK(whole.table.rows.size() > 3);
  CHECK_THAT(all_warnings(whole.table), !Catch::Contains("max_list"));
}

TEST_CASE("limits: max_string refuses a string without NUL within it naming the limit / raised it reads the string") {
  auto profile = char_pointer_profile();
  test::BufferSpace space;
  space.put_u64(0x1000, 0x2000);
  const std::string long_name(5000, 'A');
  space.put(0x2000, long_name.data(), long_name.size());  // no NUL after it: the next page is zeros
  space.map(0x2000 + 5000, 0x1000);
  Object name = Object(*profile, space, "holder", 0x1000)["name"];
  CHECK_THROWS_AS(name.as_string(), LimitError);
  CHECK_THROWS_WITH(name.as_string(), Catch::Contains("0x2000") && Catch::Contains("max_string limit of 4096") &&
                                          Catch::Contains("--max-string N"));
  // A caller's own bound cuts quietly, as before.
  CHECK(name.as_string(64) == long_name.substr(0, 64));
  Limits raised;
  raised.max_string = 8192;
  ScopedLimits scope(raised);
  CHECK(name.as_string() == long_name);
}

TEST_CASE("limits: max_object caps a block the image sizes / the warning names the limit") {
  test::BufferSpace space;
  std::string block;
  for (int i = 0; i < 1000; ++i) block += "argument" + std::to_string(i) + '\0';
  space.put(0x10000, block.data(), block.size());
  Limits limits;
  limits.max_object = 4096;
  ScopedLimits scope(limits);
  Warnings warnings;
  std::vector<std::string> strings = linux_kernel::TaskReader::read_strings(space, 0x10000, 0x10000 + block.size(),
                                                                            "argv", warnings);
  size_t bytes = 0;
  for (const std::string& s : strings) bytes += s.size() + 1;
  CHECK(bytes <= 4096 + 1);
  std::string lines;
  for (const std::string& w : warnings.lines()) lines += w;
  CHECK_THAT(lines, Catch::Contains("max_object limit of 4096") && Catch::Contains("--max-object N"));
}

TEST_CASE("limits: max_candidates bounds a carve with a warning naming the limit") {
  SyntheticLinux kernel;
  Written files(kernel);
  Limits limits;
  limits.max_candidates = 1;
  PluginResult result = files.run("linux.psscan", limits);
  REQUIRE(result.ok);
  INFO(all_warnings(result.table));
  CHECK_THAT(all_warnings(result.table), Catch::Contains("max_candidates limit of 1") &&
                                             Catch::Contains("--max-candidates N"));
  // The task list and the other views still count.
  CHECK(result.table.rows.size() >= 12);
}

TEST_CASE("limits: each limit is documented in docs/limits.md with its option") {
  std::ifstream in(std::string(MEMSCOPE_SOURCE_DIR) + "/docs/limits.md");
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  for (const char* name : {"max_list", "max_string", "max_object", "max_candidates", kMaxListOption,
                           kMaxStringOption, kMaxObjectOption, kMaxCandidatesOption})
    CHECK_THAT(text.str(), Catch::Contains(name));
}

TEST_CASE("limits: the global options raise and lower them on the command line / -q never hides the warning") {
  test::CliRun cut = test::run_cli({"linux.pslist", "-f", test::sample_image(), "-p", test::sample_profile(),
                                    "--max-list", "3", "-q", "-o", "jsonl"});
  INFO(cut.err);
  CHECK(cut.status == 0);
  size_t lines = 0;
  for (char c : cut.out) lines += c == '\n';
  CHECK(lines == 3);
  CHECK_THAT(cut.err, Catch::Contains("max_list limit of 3") && Catch::Contains("--max-list N"));
  test::CliRun strict = test::run_cli({"linux.pslist", "-f", test::sample_image(), "-p", test::sample_profile(),
                                       "--max-list", "3", "--strict", "-o", "jsonl"});
  CHECK(strict.status == 3);
  test::CliRun whole = test::run_cli({"-f", test::sample_image(), "-p", test::sample_profile(), "--max-list",
                                      "100", "linux.pslist", "-o", "jsonl"});
  CHECK(whole.status == 0);
  CHECK_THAT(whole.err, !Catch::Contains("max_list"));
  test::CliRun bad = test::run_cli({"linux.pslist", "-f", test::sample_image(), "--max-list", "many"});
  CHECK(bad.status == 2);
  test::CliRun help = test::run_cli({"--help"});
  for (const char* option : {kMaxListOption, kMaxStringOption, kMaxObjectOption, kMaxCandidatesOption})
    CHECK_THAT(help.out, Catch::Contains(option));
}
