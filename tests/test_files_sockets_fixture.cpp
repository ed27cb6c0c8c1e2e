// linux.lsof and linux.sockstat on the real fixture, in each format (raw,
// LiME, ELF core) with the fixture's ISF and with a profile generated from
// its BTF. truth.json does not list the guest's file descriptors, so the
// checks are what the image itself must agree with: a clean run (no
// warning about the walk), rows only for processes truth lists on the task
// list, every descriptor with a path, a kind, a mode and an inode, sockets
// exactly where lsof found socket descriptors, and the same answer from
// every format and profile.
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <tuple>

#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "support/fixture_profiles.h"
#include "support/fixtures.h"
#include "support/table_cells.h"

using namespace memscope;
using test::cell;
using test::all_warnings;

namespace {

Table run(Session& session, const std::string& name) {
  PluginResult result = run_plugin(*find_plugin(name), session, {});
  INFO(result.error);
  REQUIRE(result.ok);
  return std::move(result.table);
}

// What lsof gives, comparable across runs.
using LsofEntry = std::tuple<std::string, std::string, std::string, uint64_t>;  // path, type, mode, inode
using Descriptor = std::pair<int64_t, uint64_t>;

std::map<Descriptor, LsofEntry> lsof_entries(Session& session) {
  Table table = run(session, "linux.lsof");
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  std::set<int64_t> listed;
  for (const auto& p : test::truth().at("processes"))
    if (p.at("in_task_list").get<bool>()) listed.insert(p.at("pid").get<int64_t>());
  std::map<Descriptor, LsofEntry> out;
  for (const Row& row : table.rows) {
    int64_t pid = cell<int64_t>(table, row, "pid").value();
    uint64_t fd = cell<uint64_t>(table, row, "fd").value();
    INFO("pid " << pid << " fd " << fd);
    CHECK(listed.count(pid) == 1);
    auto path = cell<std::string>(table, row, "path");
    auto type = cell<std::string>(table, row, "type");
    auto mode = cell<std::string>(table, row, "mode");
    auto inode = cell<uint64_t>(table, row, "inode");
    REQUIRE(path);
    REQUIRE(type);
    REQUIRE(mode);
    REQUIRE(inode);
    CHECK(*type != "unknown");
    CHECK(*inode != 0);
    CHECK(mode->size() == 10);
    if (*type == "file" || *type == "dir" || *type == "chr" || *type == "blk") CHECK(path->front() == '/');
    if (*type == "socket") CHECK(*path == "socket:[" + std::to_string(*inode) + "]");
    if (*type == "pipe") CHECK(*path == "pipe:[" + std::to_string(*inode) + "]");
    CHECK(out.emplace(Descriptor{pid, fd}, LsofEntry{*path, *type, *mode, *inode}).second);
  }
  return out;
}

}  // namespace

TEST_CASE("fixture: lsof and sockstat run cleanly / agree / and give one answer in every format and profile") {
  test::use_build_tree_cache();
  std::map<Descriptor, LsofEntry> reference;
  bool first = true;
  for (const char* profile : {"isf", "btf"}) {
    for (const char* format : {"raw", "lime", "elf"}) {
      INFO("image." << format << " with the " << profile << " profile");
      SessionOptions options;
      options.image = test::fixture(std::string("image.") + format);
      options.profile = test::fixture_profile(profile);
      Session session(options);
      std::map<Descriptor, LsofEntry> entries = lsof_entries(session);
      // The guest's processes have files open (at least its init's).
      CHECK(!entries.empty());
      Table sockets = run(session, "linux.sockstat");
      INFO(all_warnings(sockets));
      CHECK(sockets.warnings.empty());
      std::set<Descriptor> socket_rows, socket_descriptors;
      for (const Row& row : sockets.rows) {
        socket_rows.insert({cell<int64_t>(sockets, row, "pid").value(), cell<uint64_t>(sockets, row, "fd").value()});
        CHECK(cell<std::string>(sockets, row, "family"));
      }
      for (const auto& [descriptor, entry] : entries)
        if (std::get<1>(entry) == "socket") socket_descriptors.insert(descriptor);
      CHECK(socket_rows == socket_descriptors);
      if (first) {
        reference = entries;
        first = false;
      } else {
        CHECK(entries == reference);
      }
    }
  }
}
