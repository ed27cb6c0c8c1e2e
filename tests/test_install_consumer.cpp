// C programs compiled against the installed headers and library
// (tests/install_consumer/) on the real fixture: one reads, writes (into
// the overlay) and reads back; the other lists the guest's processes with
// kvm_getprocs, kvm_getargv and kvm_getenvv, and reads through offsets the
// profile gives (kvm_offsetof), on every format with both profiles.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "support/consumer_build.h"
#include "support/fixture_profiles.h"
#include "support/fixtures.h"
#include "support/temp_file.h"

using nlohmann::json;

namespace {

// Runs `command`; its stdout, and its stderr in the failure message.
std::string run(const std::string& command) {
  memscope::test::TempFile errors("consumer-stderr");
  std::string output;
  FILE* pipe = ::popen((command + " 2>'" + errors.path() + "'").c_str(), "r");
  REQUIRE(pipe);
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  int status = ::pclose(pipe);
  std::vector<uint8_t> err = errors.read();
  INFO(std::string(err.begin(), err.end()));
  REQUIRE(status == 0);
  return output;
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::string consumer(const std::string& program, const std::vector<std::string>& args) {
  std::string command = memscope::test::consumer_build_environment() + quoted(std::string(MEMSCOPE_SOURCE_DIR) + "/tests/install_consumer/run.sh") + " " +
                        quoted(MEMSCOPE_SOURCE_DIR) + " " + quoted(MEMSCOPE_BINARY_DIR) + " " + program;
  for (const std::string& a : args) command += " " + quoted(a);
  return run(command);
}

// task_struct.comm against truth's name: /proc gives kernel threads their
// full name (comm keeps 15 characters) and kworkers their workqueue after a '-'.
bool same_comm(const std::string& ours, const std::string& truth) {
  if (ours == truth.substr(0, 15)) return true;
  return ours.rfind("kworker/", 0) == 0 && truth.rfind(ours + "-", 0) == 0;
}

// libkvm's nchr: strings while they fit, NULs counted, the one that does
// not fit cut to what is left, then nothing.
std::vector<std::string> cut(const std::vector<std::string>& strings, size_t nchr) {
  std::vector<std::string> out;
  for (const std::string& s : strings) {
    if (nchr == 0) break;
    if (s.size() + 1 > nchr) {
      out.push_back(s.substr(0, nchr - 1));
      break;
    }
    out.push_back(s);
    nchr -= s.size() + 1;
  }
  return out;
}

}  // namespace

TEST_CASE("a C program built against the installed package reads / writes and reads back") {
  std::string image = memscope::test::fixture("image.elf");
  std::string profile = memscope::test::fixture_file("isf.json.xz");
  std::string output = consumer("consumer", {profile, image});
  std::string banner = memscope::test::truth()["linux_banner"];
  // linux_banner ends with its own newline; the consumer prints one more.
  CHECK(output == banner + "\n\n");
}

TEST_CASE("a C program lists truth's processes with kvm_getprocs / their argv and environment / on every format and profile") {
  memscope::test::use_build_tree_cache();
  std::vector<std::string> args, labels;
  for (const char* profile : {"isf", "btf"})
    for (const char* format : {"raw", "lime", "elf"}) {
      args.push_back(memscope::test::fixture_profile(profile));
      args.push_back(memscope::test::fixture(std::string("image.") + format));
      labels.push_back(std::string("image.") + format + " with the " + profile + " profile");
    }
  std::string output = consumer("procs", args);

  std::map<int, std::vector<json>> lines;  // run -> its lines
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line);
    lines[j.at("run").get<int>()].push_back(j);
  }
  REQUIRE(lines.size() == labels.size());

  std::map<int64_t, json> listed;
  for (const json& p : memscope::test::truth().at("processes"))
    if (p.at("in_task_list").get<bool>()) listed[p.at("pid").get<int64_t>()] = p;
  REQUIRE(!listed.empty());

  for (const auto& [index, run_lines] : lines) {
    INFO(labels.at(index));
    std::set<int64_t> pids;
    bool saw_long = false, saw_marker = false, saw_layout = false, saw_nchr = false;
    std::set<std::string> user_queries;
    for (const json& j : run_lines) {
      const std::string kind = j.at("kind");
      if (kind == "proc") {
        int64_t pid = j.at("pid");
        INFO("pid " << pid << " " << j.at("comm"));
        CHECK(pids.insert(pid).second);  // each process once: every truth process has one thread
        REQUIRE(listed.count(pid) == 1);
        const json& p = listed.at(pid);
        CHECK(j.at("tid") == pid);
        CHECK(j.at("ppid") == p.at("ppid"));
        CHECK(j.at("ruid") == p.at("uid"));
        CHECK(j.at("uid") == p.at("euid"));
        CHECK(j.at("rgid") == p.at("gid"));
        CHECK(j.at("gid") == p.at("egid"));
        CHECK(j.at("threads") == p.at("threads"));
        CHECK(j.at("kthread") == p.at("kernel_thread"));
        CHECK(same_comm(j.at("comm"), p.at("comm")));
        // /proc/PID/stat's start time is in clock ticks (USER_HZ = 100).
        CHECK(j.at("start").get<uint64_t>() / 10'000'000 == p.at("start_time_ticks").get<uint64_t>());
        if (p.at("task_struct").is_string())
          CHECK(j.at("paddr").get<uint64_t>() == std::stoull(p.at("task_struct").get<std::string>(), nullptr, 16));
        if (p.at("rig").get<bool>()) CHECK(std::string(1, j.at("stat").get<std::string>()[0]) == p.at("state"));
        if (p.at("kernel_thread").get<bool>()) {
          CHECK(j.at("argv").is_null());
          CHECK(j.at("env").is_null());
          continue;
        }
        REQUIRE(j.at("argv").is_array());
        auto argv = j.at("argv").get<std::vector<std::string>>();
        CHECK(argv == p.at("cmdline").get<std::vector<std::string>>());
        size_t bytes = 0;
        for (const std::string& a : argv) bytes += a.size() + 1;
        saw_long = saw_long || bytes > 10000;
        REQUIRE(j.at("env").is_array());
        auto env = j.at("env").get<std::vector<std::string>>();
        CHECK(env == p.at("environ").get<std::vector<std::string>>());
        if (p.at("rig").get<bool>()) {
          const std::string marker = "RIG_MARKER=" + p.at("env_marker").get<std::string>();
          CHECK(std::find(env.begin(), env.end(), marker) != env.end());
          saw_marker = true;
        }
      } else if (kind == "uid" || kind == "ruid") {
        uint64_t uid = j.at("arg");
        std::set<int64_t> expected;
        for (const auto& [pid, p] : listed)
          if (p.at(kind == "uid" ? "euid" : "uid").get<uint64_t>() == uid) expected.insert(pid);
        auto got = j.at("pids").get<std::vector<int64_t>>();
        INFO(kind << " " << uid);
        CHECK(std::set<int64_t>(got.begin(), got.end()) == expected);
        CHECK(got.size() == expected.size());
        user_queries.insert(kind + " " + std::to_string(uid));
      } else if (kind == "nchr") {
        const json& p = listed.at(j.at("pid").get<int64_t>());
        CHECK(j.at("argv").get<std::vector<std::string>>() ==
              cut(p.at("cmdline").get<std::vector<std::string>>(), j.at("nchr").get<size_t>()));
        saw_nchr = true;
      } else if (kind == "layout") {
        CHECK(j.at("comm_equal") == j.at("tasks"));
        CHECK(j.at("comm_size") == 16);
        CHECK(j.at("task_struct_size").get<int64_t>() > j.at("comm_offset").get<int64_t>());
        CHECK(j.at("missing").get<std::string>().find("no_such_member") != std::string::npos);
        saw_layout = true;
      }
    }
    std::set<int64_t> expected;
    for (const auto& [pid, p] : listed) expected.insert(pid);
    CHECK(pids == expected);
    CHECK(saw_long);  // the rig process with a command line of over 10 KB
    CHECK(saw_marker);
    CHECK(saw_nchr);
    CHECK(saw_layout);
    // Every user truth's processes run as was asked for, by effective and by real ID.
    std::set<std::string> users;
    for (const auto& [pid, p] : listed) {
      users.insert("uid " + std::to_string(p.at("euid").get<uint64_t>()));
      users.insert("ruid " + std::to_string(p.at("uid").get<uint64_t>()));
    }
    CHECK(user_queries == users);
  }
}
