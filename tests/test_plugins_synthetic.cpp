// The Linux process and module plugins on synthetic kernels (see
// support/synthetic_linux.h): every column against what the builder put in,
// each field variant of old and new kernels, and damaged structures.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli/render/render.h"
#include "core/linux/tasks.h"
#include "core/linux/warnings.h"
#include "core/plugin/plugin.h"
#include "core/util/hex.h"
#include "core/session/session.h"
#include "support/synthetic_linux.h"
#include "support/table_cells.h"
#include "support/temp_file.h"

using namespace memscope;
using test::cell;
using test::all_warnings;
using test::SyntheticLinux;
using test::SyntheticOptions;
using test::SyntheticProcess;

namespace {

// One synthetic image written in one format, opened in a Session.
class SyntheticSession {
 public:
  explicit SyntheticSession(SyntheticLinux& kernel, const std::string& format = "lime") : dir_("plugins") {
    std::string profile = dir_.file("profile.json");
    kernel.write_profile(profile);
    std::string image = dir_.file("image." + format);
    if (format == "lime")
      kernel.write_lime(image);
    else if (format == "raw")
      kernel.write_raw(image);
    else
      kernel.write_elf(image);
    SessionOptions options;
    options.image = image;
    options.profile = profile;
    options.use_profile_cache = false;
    session_ = std::make_unique<Session>(options);
  }

  Session& session() { return *session_; }

  Table run(const std::string& name, const PluginArgs& args = {}) {
    const Plugin* plugin = find_plugin(name);
    REQUIRE(plugin != nullptr);
    PluginResult result = run_plugin(*plugin, *session_, args);
    INFO(result.error);
    REQUIRE(result.ok);
    return std::move(result.table);
  }

 private:
  test::TempDir dir_;
  std::unique_ptr<Session> session_;
};

int64_t pid_of(const Table& table, const Row& row) { return cell<int64_t>(table, row, "pid").value(); }

const Row& row_of_pid(const Table& table, int64_t pid) {
  for (const Row& row : table.rows)
    if (cell<int64_t>(table, row, "pid") == pid) return row;
  FAIL("no row for pid " << pid);
  throw std::logic_error("unreachable");
}

std::set<int64_t> pids(const Table& table) {
  std::set<int64_t> out;
  for (const Row& row : table.rows) out.insert(pid_of(table, row));
  return out;
}

std::set<int64_t> visible_pids(const SyntheticLinux& kernel) {
  std::set<int64_t> out;
  for (const SyntheticProcess& p : kernel.processes())
    if (!p.hidden) out.insert(p.pid);
  return out;
}

bool any_warning_contains(const Table& table, const std::string& text) {
  return std::any_of(table.warnings.begin(), table.warnings.end(),
                     [&](const std::string& w) { return w.find(text) != std::string::npos; });
}

// Every pslist column of every process against the builder's input.
void check_pslist(SyntheticLinux& kernel, const Table& table) {
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  CHECK(pids(table) == visible_pids(kernel));
  CHECK(table.rows.size() == visible_pids(kernel).size());
  for (const Row& row : table.rows) {
    const SyntheticProcess& p = kernel.process(static_cast<int>(pid_of(table, row)));
    INFO("pid " << p.pid);
    CHECK(cell<Address>(table, row, "offset") == Address{kernel.task_address(p.pid)});
    CHECK(cell<int64_t>(table, row, "tid") == p.pid);
    CHECK(cell<int64_t>(table, row, "ppid") == p.ppid);
    CHECK(cell<std::string>(table, row, "comm") == p.comm.substr(0, 15));
    CHECK(cell<uint64_t>(table, row, "uid") == p.uid);
    CHECK(cell<uint64_t>(table, row, "gid") == p.gid);
    CHECK(cell<uint64_t>(table, row, "euid") == p.euid);
    CHECK(cell<uint64_t>(table, row, "start_time") == p.start_time_ns);
    CHECK(cell<uint64_t>(table, row, "threads") == 1 + p.extra_threads.size());
    CHECK(cell<bool>(table, row, "kernel_thread") == p.kernel_thread);
    CHECK(cell<std::string>(table, row, "state") == std::string(1, p.state_letter()));
  }
}

std::vector<std::string> argv_of(const Table& table, int64_t pid) {
  return cell<std::vector<std::string>>(table, row_of_pid(table, pid), "args").value();
}

}  // namespace

TEST_CASE("synthetic: the builder's profile hides nothing a plugin could hard-code") {
  SyntheticLinux kernel;
  // list_head with prev first, and fields far from any real kernel's.
  CHECK(kernel.offset_of("list_head", "next") == 8);
  CHECK(kernel.offset_of("task_struct", "pid") != 2416);
  CHECK(kernel.offset_of("mm_struct", "arg_start") != 312);
  // More than a page of arguments for one process.
  size_t longest = 0;
  for (const SyntheticProcess& p : kernel.processes()) {
    size_t bytes = 0;
    for (const std::string& a : p.argv) bytes += a.size() + 1;
    longest = std::max(longest, bytes);
  }
  CHECK(longest > 4096);
}

TEST_CASE("pslist: every column of every listed process / in each image format") {
  SyntheticLinux kernel;
  for (const char* format : {"lime", "raw", "elf"}) {
    SECTION(format) {
      SyntheticSession s(kernel, format);
      Table table = s.run("linux.pslist");
      check_pslist(kernel, table);
      // The hidden process is off the list, and init_task (pid 0) anchors it.
      CHECK(pids(table).count(300) == 0);
      CHECK(pids(table).count(0) == 0);
    }
  }
}

TEST_CASE("pslist: old-kernel field variants (state / real_start_time / thread_group / plain uid)") {
  SyntheticOptions options;
  options.task_state = test::TaskStateField::kState;
  options.start_time = test::StartTimeField::kRealStartTime;
  options.thread_list = test::ThreadListKind::kThreadGroup;
  options.plain_uid = true;
  options.anonymous_mm_fields = false;
  options.module_layout = test::ModuleLayoutKind::kCoreLayout;
  SyntheticLinux kernel(options);
  SyntheticSession s(kernel);
  check_pslist(kernel, s.run("linux.pslist"));
}

TEST_CASE("pslist: KASLR with a physical shift as well") {
  SyntheticOptions options;
  options.virtual_shift = 0x2be00000;
  options.physical_shift = 0x1000000;
  SyntheticLinux kernel(options);
  SyntheticSession s(kernel, "raw");
  check_pslist(kernel, s.run("linux.pslist"));
}

TEST_CASE("pslist: --threads gives one row per thread / --pid filters") {
  SyntheticLinux kernel;
  SyntheticSession s(kernel);
  PluginArgs args;
  args.set_flag("threads");
  args.add("pid", "202");
  args.add("pid", "201");
  Table table = s.run("linux.pslist", args);
  std::multiset<int64_t> pid_column;
  std::set<int64_t> tids;
  for (const Row& row : table.rows) {
    pid_column.insert(pid_of(table, row));
    tids.insert(cell<int64_t>(table, row, "tid").value());
    int64_t tid = cell<int64_t>(table, row, "tid").value();
    CHECK(cell<Address>(table, row, "offset") == Address{kernel.task_address(static_cast<int>(tid))});
  }
  CHECK(pid_column == std::multiset<int64_t>{201, 202, 202, 202});
  CHECK(tids == std::set<int64_t>{201, 202, 203, 204});
  // The leader comes first among its threads.
  CHECK(cell<int64_t>(table, table.rows.at(1), "tid") == 202);

  PluginArgs only;
  only.add("pid", "205");
  Table one = s.run("linux.pslist", only);
  REQUIRE(one.rows.size() == 1);
  CHECK(pid_of(one, one.rows[0]) == 205);
}

TEST_CASE("pslist: --threads with the thread_group list of old kernels") {
  SyntheticOptions options;
  options.thread_list = test::ThreadListKind::kThreadGroup;
  SyntheticLinux kernel(options);
  SyntheticSession s(kernel);
  PluginArgs args;
  args.set_flag("threads");
  args.add("pid", "202");
  Table table = s.run("linux.pslist", args);
  std::set<int64_t> tids;
  for (const Row& row : table.rows) tids.insert(cell<int64_t>(table, row, "tid").value());
  CHECK(tids == std::set<int64_t>{202, 203, 204});
  CHECK(table.rows.size() == 3);
}

TEST_CASE("psaux: argv from each process's own memory / [comm] for kernel threads and zombies") {
  SyntheticLinux kernel;
  SyntheticSession s(kernel);
  Table table = s.run("linux.psaux");
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  CHECK(pids(table) == visible_pids(kernel));
  for (const SyntheticProcess& p : kernel.processes()) {
    if (p.hidden) continue;
    INFO("pid " << p.pid);
    const Row& row = row_of_pid(table, p.pid);
    CHECK(cell<int64_t>(table, row, "ppid") == p.ppid);
    if (p.has_mm()) {
      CHECK(argv_of(table, p.pid) == p.argv);
    } else {
      CHECK(argv_of(table, p.pid) == std::vector<std::string>{"[" + p.comm + "]"});
    }
  }
  // The long command line crosses pages mapped to scattered physical pages.
  size_t bytes = 0;
  for (const std::string& a : argv_of(table, 205)) bytes += a.size() + 1;
  CHECK(bytes > 4096);
}

TEST_CASE("psaux: works on the old-kernel layout too (mm fields not in an anonymous struct)") {
  SyntheticOptions options;
  options.anonymous_mm_fields = false;
  options.task_state = test::TaskStateField::kState;
  SyntheticLinux kernel(options);
  SyntheticSession s(kernel, "elf");
  Table table = s.run("linux.psaux");
  CHECK(table.warnings.empty());
  CHECK(argv_of(table, 205) == kernel.process(205).argv);
  CHECK(argv_of(table, 1) == kernel.process(1).argv);
}

TEST_CASE("envars: every variable of every user process / split at the first '='") {
  SyntheticLinux kernel;
  SyntheticSession s(kernel);
  Table table = s.run("linux.envars");
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  std::map<int64_t, std::vector<std::string>> seen;
  for (const Row& row : table.rows)
    seen[pid_of(table, row)].push_back(cell<std::string>(table, row, "key").value() + "=" +
                                       cell<std::string>(table, row, "value").value());
  for (const SyntheticProcess& p : kernel.processes()) {
    if (p.hidden || !p.has_mm()) {
      CHECK(seen.count(p.pid) == 0);
      continue;
    }
    INFO("pid " << p.pid);
    CHECK(seen[p.pid] == p.envp);
    bool marker = std::any_of(p.envp.begin(), p.envp.end(),
                              [](const std::string& e) { return e.rfind("RIG_MARKER=", 0) == 0; });
    CHECK(marker);
  }
  // "EMPTY=" is a key with an empty value, not a missing one.
  bool empty_value = false;
  for (const Row& row : table.rows)
    if (cell<std::string>(table, row, "key") == "EMPTY") empty_value = cell<std::string>(table, row, "value") == "";
  CHECK(empty_value);
}

TEST_CASE("lsmod: names / /proc/modules sizes / refcounts / states and bases / for each struct module layout") {
  for (auto layout : {test::ModuleLayoutKind::kMemArray, test::ModuleLayoutKind::kCoreLayout,
                      test::ModuleLayoutKind::kModuleCore}) {
    SyntheticOptions options;
    options.module_layout = layout;
    SyntheticLinux kernel(options);
    SyntheticSession s(kernel);
    Table table = s.run("linux.lsmod");
    INFO("layout " << static_cast<int>(layout) << "\n" << all_warnings(table));
    CHECK(table.warnings.empty());
    std::vector<std::string> expected_names, names;
    for (const auto& m : kernel.modules())
      if (!m.hidden) expected_names.push_back(m.name);
    for (const Row& row : table.rows) names.push_back(cell<std::string>(table, row, "name").value());
    CHECK(names == expected_names);  // list order
    for (const Row& row : table.rows) {
      std::string name = cell<std::string>(table, row, "name").value();
      const auto& m = *std::find_if(kernel.modules().begin(), kernel.modules().end(),
                                    [&](const auto& x) { return x.name == name; });
      INFO(name);
      CHECK(cell<Address>(table, row, "offset") == Address{kernel.module_address(name)});
      CHECK(cell<uint64_t>(table, row, "size") == m.proc_size());
      CHECK(cell<int64_t>(table, row, "refcount") == m.refcount);
      CHECK(cell<std::string>(table, row, "state") ==
            (m.state == "MODULE_STATE_LIVE" ? std::string("Live") : std::string("Loading")));
      CHECK(cell<Address>(table, row, "base") == Address{kernel.module_base(name)});
    }
  }
}

TEST_CASE("pstree: parents hold their children / roots are the children of init_task") {
  SyntheticLinux kernel;
  SyntheticSession s(kernel);
  Table table = s.run("linux.pstree");
  CHECK(table.warnings.empty());
  std::vector<int64_t> roots;
  for (const Row& r : table.rows) roots.push_back(pid_of(table, r));
  CHECK(roots == std::vector<int64_t>{1, 2});
  // Every listed process appears exactly once, under its parent.
  std::map<int64_t, int64_t> parent_of;
  size_t count = 0;
  std::function<void(const Row&, int64_t)> visit = [&](const Row& row, int64_t parent) {
    ++count;
    parent_of[pid_of(table, row)] = parent;
    for (const Row& child : row.children) visit(child, pid_of(table, row));
  };
  for (const Row& r : table.rows) visit(r, 0);
  CHECK(count == visible_pids(kernel).size());
  for (const SyntheticProcess& p : kernel.processes())
    if (!p.hidden) CHECK(parent_of.at(p.pid) == p.ppid);

  // JSON nests children; --pid keeps one subtree.
  PluginArgs args;
  args.add("pid", "201");
  Table subtree = s.run("linux.pstree", args);
  std::ostringstream out;
  render_json(subtree, out);
  nlohmann::json json = nlohmann::json::parse(out.str());
  REQUIRE(json.size() == 1);
  CHECK(json.at(0).at("pid") == 201);
  std::set<int64_t> children;
  for (const auto& c : json.at(0).at("children")) children.insert(c.at("pid").get<int64_t>());
  CHECK(children == std::set<int64_t>{202, 205, 206, 207});
}

TEST_CASE("renderers: pslist JSON has snake_case keys / hex addresses and numbers") {
  SyntheticLinux kernel;
  SyntheticSession s(kernel);
  Table table = s.run("linux.pslist");
  std::ostringstream out;
  render_json(table, out);
  nlohmann::json json = nlohmann::json::parse(out.str());
  REQUIRE(json.size() == table.rows.size());
  const auto& first = json.at(0);
  CHECK(first.at("offset").is_string());
  CHECK(first.at("offset").get<std::string>().rfind("0x", 0) == 0);
  CHECK(first.at("pid").is_number_integer());
  CHECK(first.at("threads").is_number_integer());
  CHECK(first.at("kernel_thread").is_boolean());
  for (const auto& [key, value] : first.items()) {
    (void)value;
    CHECK(std::all_of(key.begin(), key.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; }));
  }
  Table aux = s.run("linux.psaux");
  std::ostringstream aux_out;
  render_json(aux, aux_out);
  nlohmann::json aux_json = nlohmann::json::parse(aux_out.str());
  CHECK(aux_json.at(0).at("args").is_array());
}

// --- Damaged structures --------------------------------------------------------

TEST_CASE("bad input: a cycle in the task list stops the walk / and the rest is recovered backward") {
  SyntheticLinux kernel;
  kernel.link_tasks_cycle(205, 200);  // 205 -> 200 -> 201 -> ... -> 205 -> 200 ...
  SyntheticSession s(kernel);
  Table table = s.run("linux.pslist");
  INFO(all_warnings(table));
  CHECK(any_warning_contains(table, "cycle"));
  CHECK(any_warning_contains(table, "recovered"));
  CHECK(pids(table) == visible_pids(kernel));  // no duplicates either
  CHECK(table.rows.size() == visible_pids(kernel).size());
}

TEST_CASE("bad input: a wild pointer in the middle of the task list") {
  SyntheticLinux kernel;
  kernel.wild_task_next(201);
  for (const char* plugin : {"linux.pslist", "linux.psaux", "linux.pstree", "linux.envars"}) {
    SECTION(plugin) {
      SyntheticSession s(kernel);
      Table table = s.run(plugin);
      INFO(all_warnings(table));
      CHECK(any_warning_contains(table, "0xffffc90012345000"));
      if (std::string(plugin) == "linux.pslist" || std::string(plugin) == "linux.psaux")
        CHECK(pids(table) == visible_pids(kernel));
    }
  }
}

TEST_CASE("bad input: broken links both ways keep the entries before the first break") {
  SyntheticLinux kernel;
  kernel.wild_task_next(5);  // forward stops after pid 5
  // ... and backward, pid 207's prev is wild too: the walk back from the
  // head recovers 208 and 207 only.
  kernel.set_task_pointer(207, "tasks.prev", SyntheticLinux::kUnmappedKernelAddress + 0x1000);
  SyntheticSession s(kernel);
  Table table = s.run("linux.pslist");
  INFO(all_warnings(table));
  std::set<int64_t> expected{1, 2, 3, 4, 5, 207, 208};
  CHECK(pids(table) == expected);
  CHECK(any_warning_contains(table, "walking backward"));
}

TEST_CASE("bad input: an absurd arg_end is bounded / warned about / and costs no other process") {
  SyntheticLinux kernel;
  kernel.set_arg_end(201, 0x7fffffffffffull);  // ~128 TiB past its start
  kernel.set_arg_end(206, 0x1000);             // below arg_start
  SyntheticSession s(kernel);
  Table table = s.run("linux.psaux");
  INFO(all_warnings(table));
  // Bounded: the block is cut at the kernel's own limit, which the warning
  // names, so at most that much was read (not ~128 TiB).
  CHECK(any_warning_contains(table, "exceed the " + std::to_string(linux_kernel::kMaxStringBlockBytes >> 20) + " MiB"));
  size_t argv_bytes = 0;
  for (const std::string& arg : argv_of(table, 201)) argv_bytes += arg.size() + 1;
  CHECK(argv_bytes <= linux_kernel::kMaxStringBlockBytes);
  CHECK(any_warning_contains(table, "is below start"));
  CHECK(pids(table) == visible_pids(kernel));
  // 201's real arguments are still there (its block is followed by its
  // environment and then unmapped memory, where the read stops).
  std::vector<std::string> argv = argv_of(table, 201);
  REQUIRE(!argv.empty());
  CHECK(argv[0] == "-bash");
  CHECK(argv_of(table, 206).empty());
  CHECK(argv_of(table, 205) == kernel.process(205).argv);
}

TEST_CASE("bad input: an unreadable cred or mm costs only that value") {
  SyntheticLinux kernel;
  kernel.set_task_pointer(201, "cred", SyntheticLinux::kUnmappedKernelAddress);
  kernel.set_task_pointer(202, "mm", SyntheticLinux::kUnmappedKernelAddress);
  SyntheticSession s(kernel);

  Table list = s.run("linux.pslist");
  CHECK(pids(list) == visible_pids(kernel));
  const Row& bash = row_of_pid(list, 201);
  CHECK(!cell<uint64_t>(list, bash, "uid"));
  CHECK(cell<std::string>(list, bash, "comm") == "bash");
  CHECK(any_warning_contains(list, "pid 201 bash"));
  CHECK(cell<uint64_t>(list, row_of_pid(list, 206), "uid") == 1000u);

  Table aux = s.run("linux.psaux");
  CHECK(pids(aux) == visible_pids(kernel));
  CHECK(!cell<std::vector<std::string>>(aux, row_of_pid(aux, 202), "args"));
  CHECK(any_warning_contains(aux, "pid 202 worker"));
  CHECK(argv_of(aux, 205) == kernel.process(205).argv);
}

TEST_CASE("bad input: a cycle in the modules list") {
  SyntheticLinux kernel;
  // ext4.list.next -> e1000.list
  uint64_t list_offset = kernel.offset_of("module", "list");
  uint64_t next_offset = kernel.offset_of("list_head", "next");
  uint64_t ext4_next = kernel.module_address("ext4") + list_offset + next_offset;
  uint64_t target = kernel.module_address("e1000") + list_offset;
  kernel.space().put_u64(kernel.kernel_physical(ext4_next), target);
  SyntheticSession s(kernel);
  Table table = s.run("linux.lsmod");
  INFO(all_warnings(table));
  CHECK(any_warning_contains(table, "cycle"));
  std::set<std::string> names;
  for (const Row& row : table.rows) names.insert(cell<std::string>(table, row, "name").value());
  CHECK(names == std::set<std::string>{"e1000", "ext4", "loading_mod"});
}

// --- The --pid filter ----------------------------------------------------------

TEST_CASE("pid filter: a filter that matches nothing says so / in every process plugin") {
  SyntheticLinux kernel;
  SyntheticSession s(kernel);
  for (const char* plugin : {"linux.pslist", "linux.psaux", "linux.envars", "linux.pstree"}) {
    INFO(plugin);
    PluginArgs args;
    args.add("pid", "99999");
    Table table = s.run(plugin, args);
    CHECK(table.rows.empty());
    REQUIRE(table.warnings.size() == 1);
    CHECK(table.warnings[0] == "--pid 99999: no process with this PID on the task list");
  }
}

TEST_CASE("pid filter: only the PIDs that matched nothing are named") {
  SyntheticLinux kernel;
  SyntheticSession s(kernel);
  PluginArgs args;
  args.add("pid", "201,99999");
  args.add("pid", "300");  // the hidden process is not on the list either
  Table table = s.run("linux.pslist", args);
  CHECK(pids(table) == std::set<int64_t>{201});
  REQUIRE(table.warnings.size() == 1);
  CHECK(table.warnings[0] == "--pid 300, 99999: no process with these PIDs on the task list");
}

TEST_CASE("pid filter: pstree keeps the topmost chosen subtree / and a PID inside it is no miss") {
  SyntheticLinux kernel;
  SyntheticSession s(kernel);
  PluginArgs args;
  args.add("pid", "201");
  args.add("pid", "202");  // under 201
  args.add("pid", "2");
  Table table = s.run("linux.pstree", args);
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  std::vector<int64_t> roots;
  for (const Row& r : table.rows) roots.push_back(pid_of(table, r));
  CHECK(roots == std::vector<int64_t>{2, 201});
}

namespace {

// Runs the memscope command; stdout and stderr apart.
struct CommandOutput {
  int status = -1;
  std::string out, err;
};

CommandOutput run_memscope(const std::string& arguments, const test::TempDir& dir) {
  std::string err_file = dir.file("stderr.txt");
  std::string command = std::string(MEMSCOPE_CLI_PATH) + " " + arguments + " 2>" + err_file;
  CommandOutput result;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe);
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) result.out.append(buffer, n);
  result.status = ::pclose(pipe);
  std::ifstream in(err_file);
  result.err.assign(std::istreambuf_iterator<char>(in), {});
  return result;
}

std::set<int64_t> json_pids(const std::string& text) {
  std::set<int64_t> out;
  for (const auto& row : nlohmann::json::parse(text)) out.insert(row.at("pid").get<int64_t>());
  return out;
}

}  // namespace

TEST_CASE("pid filter on the command line: repeated / several after one --pid / comma-separated") {
  SyntheticLinux kernel;
  test::TempDir dir("pid-forms");
  kernel.write_lime(dir.file("image.lime"));
  kernel.write_profile(dir.file("profile.json"));
  const std::string image = "-f " + dir.file("image.lime") + " -p " + dir.file("profile.json") + " -o json";
  for (const char* form : {"--pid 201 205", "--pid 201 --pid 205", "--pid 201,205", "--pid=201,205",
                           "--pid 205 -q --pid 201"}) {
    INFO(form);
    CommandOutput r = run_memscope("linux.pslist " + std::string(form) + " " + image, dir);
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(json_pids(r.out) == std::set<int64_t>{201, 205});
    CHECK(r.err.empty());
  }
  // Global options before the subcommand, --pid values last.
  CommandOutput psaux = run_memscope(image + " linux.psaux --pid 1 208", dir);
  CHECK(json_pids(psaux.out) == std::set<int64_t>{1, 208});

  CommandOutput none = run_memscope("linux.pslist --pid 4242 " + image, dir);
  CHECK(none.status == 0);
  CHECK(nlohmann::json::parse(none.out).empty());
  CHECK(none.err == "warning: --pid 4242: no process with this PID on the task list\n");

  CommandOutput bad = run_memscope("linux.pslist --pid 12x " + image, dir);
  CHECK(bad.status != 0);
  CHECK(bad.err == "memscope: --pid: '12x' is not a number\n");
}

// --- Warnings of many items ----------------------------------------------------

TEST_CASE("bad input: many tasks failing the same way give a bounded number of warnings") {
  SyntheticOptions options;
  options.processes = SyntheticLinux::default_processes();
  const int extra = static_cast<int>(Warnings::kShownPerKind) + 13;
  for (int i = 0; i < extra; ++i) {
    SyntheticProcess p;
    p.pid = 400 + i;
    p.ppid = 2;
    p.comm = "kworker/u:" + std::to_string(i);
    p.kernel_thread = true;
    options.processes.push_back(p);
  }
  SyntheticLinux kernel(options);
  for (int i = 0; i < extra; ++i) kernel.set_task_pointer(400 + i, "cred", SyntheticLinux::kUnmappedKernelAddress);
  SyntheticSession s(kernel);
  Table table = s.run("linux.pslist");
  INFO(all_warnings(table));
  CHECK(pids(table) == visible_pids(kernel));  // every task is still listed
  REQUIRE(table.warnings.size() == Warnings::kShownPerKind + 1);
  CHECK(any_warning_contains(table, "task " + hex_address(kernel.task_address(400)) + " (pid 400 kworker/u:0)"));
  // ... and the address that could not be read (a field of the wild cred).
  CHECK(any_warning_contains(table, "cannot read cred: kernel: cannot read 0xffffc9001234"));
  CHECK(table.warnings.back() == "task: cannot read cred: 13 more warnings like the 20 above, not shown");
}

TEST_CASE("renderers: JSON keys follow the column order / children come last") {
  SyntheticLinux kernel;
  SyntheticSession s(kernel);
  for (const char* plugin : {"linux.pslist", "linux.pstree", "linux.lsmod"}) {
    INFO(plugin);
    Table table = s.run(plugin);
    std::ostringstream out;
    render_json(table, out);
    nlohmann::ordered_json json = nlohmann::ordered_json::parse(out.str());
    REQUIRE(!json.empty());
    std::vector<std::string> keys, columns;
    for (const auto& [key, value] : json.at(0).items()) keys.push_back(key);
    for (const Column& c : table.columns) columns.push_back(c.key);
    if (!table.rows[0].children.empty()) columns.push_back("children");
    CHECK(keys == columns);
  }
}
