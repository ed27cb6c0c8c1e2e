// The plugin API itself, without an image: columns stated once by a
// RowSchema (a mismatch cannot be written, and what can be is refused at
// registration), the one failure collector of the kernel walkers, and the
// forms of multi-value options such as --pid.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <set>
#include <stdexcept>

#include "core/linux/warnings.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "support/temp_file.h"

using namespace memscope;

namespace {

struct Record {
  Address offset{};
  std::optional<int64_t> pid{};
  std::optional<std::string> comm{};
  uint32_t uid = 0;
  bool flag = false;
  std::optional<std::vector<std::string>> argv{};
  std::optional<Address> base{};
};

const RowSchema<Record> kColumns{
    {"offset", &Record::offset, "address"},
    {"pid", &Record::pid, "process ID"},
    {"comm", &Record::comm, "command name"},
    {"uid", &Record::uid, "user ID"},
    {"flag", &Record::flag, "a flag"},
    {"argv", &Record::argv, "arguments"},
    {"base", &Record::base, "an address that may be unknown"},
};

// A field of a type no column can hold does not compile: what the
// static_assert in RowSchema::Field checks.
static_assert(!detail::ColumnOf<double>::supported);
static_assert(!detail::ColumnOf<const char*>::supported);
static_assert(!detail::ColumnOf<std::optional<float>>::supported);
static_assert(detail::ColumnOf<std::optional<uint16_t>>::type == ColumnType::UInt);
static_assert(detail::ColumnOf<int32_t>::type == ColumnType::Int);

void do_nothing(Session&, const PluginArgs&, Rows<Record>&) {}

Plugin plugin_with(std::vector<Column> columns) {
  Plugin plugin = make_plugin(PluginInfo{.name = "test.example", .description = "an example"}, kColumns, do_nothing);
  plugin.info.columns = std::move(columns);
  return plugin;
}

bool mentions(const std::vector<std::string>& problems, const std::string& text) {
  for (const std::string& p : problems)
    if (p.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("row schema: columns and their types come from the record's fields") {
  const std::vector<Column>& columns = kColumns.columns();
  REQUIRE(columns.size() == 7);
  std::vector<std::string> keys;
  for (const Column& c : columns) keys.push_back(c.key);
  CHECK(keys == std::vector<std::string>{"offset", "pid", "comm", "uid", "flag", "argv", "base"});
  CHECK(columns[0].type == ColumnType::Address);
  CHECK(columns[1].type == ColumnType::Int);
  CHECK(columns[2].type == ColumnType::String);
  CHECK(columns[3].type == ColumnType::UInt);
  CHECK(columns[4].type == ColumnType::Bool);
  CHECK(columns[5].type == ColumnType::StringList);
  CHECK(columns[6].type == ColumnType::Address);
  CHECK(columns[1].description == "process ID");
}

TEST_CASE("row schema: a record's cells are in column order / an empty optional is null") {
  Row row = kColumns.row({.offset = Address{0xffff1000}, .pid = 42, .uid = 1000, .flag = true,
                          .argv = std::vector<std::string>{"a", "b"}});
  REQUIRE(row.cells.size() == 7);
  CHECK(std::get<Address>(row.cells[0]) == Address{0xffff1000});
  CHECK(std::get<int64_t>(row.cells[1]) == 42);
  CHECK(std::holds_alternative<std::monostate>(row.cells[2]));
  CHECK(std::get<uint64_t>(row.cells[3]) == 1000u);
  CHECK(std::get<bool>(row.cells[4]) == true);
  CHECK(std::get<std::vector<std::string>>(row.cells[5]) == std::vector<std::string>{"a", "b"});
  CHECK(std::holds_alternative<std::monostate>(row.cells[6]));
  CHECK(row.children.empty());
}

TEST_CASE("row schema: make_plugin takes the columns from the schema and the rows from the run") {
  Plugin plugin = make_plugin(PluginInfo{.name = "test.example", .description = "an example"}, kColumns,
                              [](Session&, const PluginArgs&, Rows<Record>& rows) {
                                Row parent = rows.row({.pid = 1});
                                parent.children.push_back(rows.row({.pid = 2}));
                                rows.add(std::move(parent));
                                rows.add({.pid = 3});
                                rows.warnings().add("something odd at 0x10");
                              });
  CHECK(plugin.info.columns.size() == kColumns.columns().size());
  CHECK(plugin_problems(plugin).empty());
  // A session on a page of zeros: this plugin reads nothing.
  test::TempFile image("api.raw");
  image.write(std::vector<uint8_t>(4096, 0));
  SessionOptions options;
  options.image = image.path();
  Session session(options);
  Table table;
  table.columns = plugin.info.columns;
  plugin.run(session, PluginArgs{}, table);
  REQUIRE(table.rows.size() == 2);
  CHECK(std::get<int64_t>(table.rows[0].cells[table.column_index("pid")]) == 1);
  REQUIRE(table.rows[0].children.size() == 1);
  CHECK(std::get<int64_t>(table.rows[0].children[0].cells[1]) == 2);
  CHECK(table.warnings == std::vector<std::string>{"something odd at 0x10"});
}

TEST_CASE("row schema: columns given beside the schema are refused") {
  PluginInfo info{.name = "test.example", .description = "an example", .columns = {{"pid", ColumnType::Int, ""}}};
  CHECK_THROWS_WITH(make_plugin(info, kColumns, do_nothing), Catch::Contains("RowSchema"));
}

TEST_CASE("row schema: a row made by hand that does not fit the columns is refused") {
  Table table;
  table.columns = kColumns.columns();
  Warnings warnings;
  Rows<Record> rows(kColumns, table, warnings);
  Row short_row;
  short_row.cells = {Address{1}, int64_t{2}};
  CHECK_THROWS_AS(rows.add(short_row), std::logic_error);
  Row wrong_type = kColumns.row({});
  wrong_type.cells[1] = std::string("not a pid");
  CHECK_THROWS_WITH(rows.add(wrong_type), Catch::Contains("'pid'"));
  Row bad_child = kColumns.row({});
  bad_child.children.push_back(short_row);
  CHECK_THROWS_AS(rows.add(bad_child), std::logic_error);
  CHECK(table.rows.empty());
  rows.add(kColumns.row({}));
  CHECK(table.rows.size() == 1);
}

TEST_CASE("registration: bad column names are caught before any run") {
  CHECK(mentions(plugin_problems(plugin_with({{"pid", ColumnType::Int, ""}, {"pid", ColumnType::Int, ""}})),
                 "'pid' is declared twice"));
  CHECK(mentions(plugin_problems(plugin_with({{"startTime", ColumnType::UInt, ""}})), "not snake_case"));
  CHECK(mentions(plugin_problems(plugin_with({{"start time", ColumnType::UInt, ""}})), "not snake_case"));
  CHECK(mentions(plugin_problems(plugin_with({{"children", ColumnType::UInt, ""}})), "renderers"));
  CHECK(mentions(plugin_problems(plugin_with({{"depth", ColumnType::UInt, ""}})), "renderers"));
  CHECK(mentions(plugin_problems(plugin_with({})), "no columns"));
}

TEST_CASE("registration: names / descriptions and options are checked") {
  Plugin plugin = plugin_with(kColumns.columns());
  CHECK(plugin_problems(plugin).empty());
  Plugin bad_name = plugin;
  bad_name.info.name = "PsList";
  CHECK(mentions(plugin_problems(bad_name), "os.name"));
  Plugin no_description = plugin;
  no_description.info.description.clear();
  CHECK(mentions(plugin_problems(no_description), "description"));
  Plugin clash = plugin;
  clash.info.options = {pid_option(), {"output", PluginOption::Kind::String, "", false}};
  CHECK(mentions(plugin_problems(clash), "global"));
  Plugin twice = plugin;
  twice.info.options = {pid_option(), pid_option()};
  CHECK(mentions(plugin_problems(twice), "'pid' is declared twice"));
}

TEST_CASE("registration: every registered plugin passes the checks") {
  REQUIRE(!plugins().empty());
  for (const Plugin& plugin : plugins()) {
    INFO(plugin.info.name);
    CHECK(plugin_problems(plugin).empty());
  }
}

TEST_CASE("plugin args: --pid as analysts type it (repeated / space- or comma-separated / hex)") {
  PluginArgs repeated;  // --pid 98 --pid 101, and --pid 98 101 (multitoken)
  repeated.add("pid", "98");
  repeated.add("pid", "101");
  CHECK(repeated.ints("pid") == std::vector<int64_t>{98, 101});
  PluginArgs comma;
  comma.add("pid", "98,101");
  CHECK(comma.ints("pid") == std::vector<int64_t>{98, 101});
  PluginArgs spaced;
  spaced.add("pid", "98, 101,");
  spaced.add("pid", "7 8");
  CHECK(spaced.ints("pid") == std::vector<int64_t>{98, 101, 7, 8});
  PluginArgs padded;
  padded.add("pid", "010");
  padded.add("pid", "0x10");
  CHECK(padded.ints("pid") == std::vector<int64_t>{10, 16});  // zero-padded is decimal, not octal
  CHECK(PluginArgs{}.ints("pid").empty());
}

TEST_CASE("plugin args: a value that is not a number is an error naming the option and the value") {
  for (const char* bad : {"abc", "98,x", "", ",", "12abc", "+5", "0x", "0x-5", "1.5"}) {
    PluginArgs args;
    args.add("pid", bad);
    INFO("'" << bad << "'");
    CHECK_THROWS_WITH(args.ints("pid"), Catch::Contains("--pid") && Catch::Contains("is not a number"));
  }
}

TEST_CASE("warnings: an exact repeat is counted / not repeated") {
  Warnings warnings;
  warnings.add("task list: cycle at node 0x10");
  warnings.add("module list: NULL next pointer");
  warnings.add("task list: cycle at node 0x10");
  warnings.add("task list: cycle at node 0x10");
  CHECK(warnings.total() == 4);
  CHECK(warnings.lines() ==
        std::vector<std::string>{"task list: cycle at node 0x10 (3 times)", "module list: NULL next pointer"});
}

TEST_CASE("warnings: one kind beyond its share is counted in one line") {
  Warnings warnings;
  const size_t n = Warnings::kShownPerKind + 7;
  for (size_t i = 0; i < n; ++i)
    warnings.add("task: cannot read cred", "task 0x" + std::to_string(1000 + i) + ": cannot read cred: ...");
  warnings.add("something else");
  std::vector<std::string> lines = warnings.lines();
  REQUIRE(lines.size() == Warnings::kShownPerKind + 2);
  CHECK(lines.front() == "task 0x1000: cannot read cred: ...");
  CHECK(lines[Warnings::kShownPerKind] == "something else");
  CHECK(lines.back() == "task: cannot read cred: 7 more warnings like the 20 above, not shown");
  CHECK(warnings.total() == n + 1);
}

TEST_CASE("item failures: each failed step is named / one warning per item / the rest is read") {
  ItemFailures failed;
  int read = 0;
  CHECK(failed.attempt("pid", [&] { read = 1; }));
  CHECK(!failed.attempt("cred", [] { throw ReadError(0xdead000, "kernel", "cannot read 8 bytes at 0xdead000"); }));
  CHECK(!failed.attempt("comm", [] { throw ProfileError("task_struct has no member 'comm'"); }));
  CHECK(failed.attempt("mm", [&] { read = 2; }));
  CHECK(read == 2);
  CHECK(!failed.empty());
  Warnings warnings;
  failed.report(warnings, "task", "task 0xffff1000 (pid 7 bash)");
  REQUIRE(warnings.lines().size() == 1);
  CHECK(warnings.lines()[0] ==
        "task 0xffff1000 (pid 7 bash): cannot read cred: cannot read 8 bytes at 0xdead000; "
        "comm: task_struct has no member 'comm'");

  ItemFailures fine;
  CHECK(fine.attempt("pid", [] {}));
  fine.report(warnings, "task", "task 0x1");
  CHECK(warnings.lines().size() == 1);  // nothing for an item read whole
}

TEST_CASE("item failures: errors that are not the image's go through") {
  ItemFailures failed;
  CHECK_THROWS_AS(failed.attempt("x", [] { throw std::logic_error("bug"); }), std::logic_error);
  CHECK_THROWS_AS(failed.attempt("x", [] { throw std::bad_alloc(); }), std::bad_alloc);
  CHECK(failed.empty());
}

namespace {

Plugin make_bad_plugin() {
  return make_plugin(PluginInfo{.name = "test.bad", .description = "two columns named pid"},
                     RowSchema<Record>{{"pid", &Record::pid, ""}, {"pid", &Record::uid, ""}}, do_nothing);
}

}  // namespace

TEST_CASE("registration: a plugin with a bad column stops the process at load / naming plugin and column") {
  // What MEMSCOPE_REGISTER does when the plugin file is loaded; in
  // a child process, since it aborts.
  int err[2];
  REQUIRE(::pipe(err) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::dup2(err[1], 2);
    detail::register_at_load(plugin_registry(), make_bad_plugin);
    ::_exit(0);  // not reached
  }
  ::close(err[1]);
  std::string message;
  char buffer[512];
  ssize_t n;
  while ((n = ::read(err[0], buffer, sizeof buffer)) > 0) message.append(buffer, static_cast<size_t>(n));
  ::close(err[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(WIFSIGNALED(status));
  CHECK(message == "memscope: cannot register plugin test.bad: column 'pid' is declared twice\n");
  CHECK(find_plugin("test.bad") == nullptr);
}
