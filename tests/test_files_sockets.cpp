// linux.lsof and linux.sockstat (core/linux/files.h, sockets.h) on
// synthetic kernels: every descriptor and socket the builder made
// (support/synthetic_files.cpp), each VMA index kind and image format, and
// damaged file tables: an absurd max_fds, a wild file pointer, a dentry
// chain that loops.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "core/linux/files.h"
#include "core/linux/sockets.h"
#include "core/plugin/plugin.h"
#include "core/util/hex.h"
#include "support/synthetic_linux.h"
#include "support/synthetic_session.h"
#include "support/table_cells.h"

using namespace memscope;
using test::cell;
using test::all_warnings;
using test::SyntheticFile;
using test::SyntheticLinux;
using test::SyntheticOptions;
using test::SyntheticProcess;

namespace {

SyntheticOptions with_files(test::VmaIndexKind vmas = test::VmaIndexKind::kMapleTree) {
  SyntheticOptions options;
  options.vmas = vmas;
  options.files = true;
  return options;
}

bool any_warning_contains(const Table& table, const std::string& text) {
  return std::any_of(table.warnings.begin(), table.warnings.end(),
                     [&](const std::string& w) { return w.find(text) != std::string::npos; });
}

// Rows of a table by (pid, fd).
std::map<std::pair<int64_t, uint64_t>, const Row*> by_descriptor(const Table& table) {
  std::map<std::pair<int64_t, uint64_t>, const Row*> out;
  for (const Row& row : table.rows) {
    auto key = std::make_pair(cell<int64_t>(table, row, "pid").value(), cell<uint64_t>(table, row, "fd").value());
    INFO("pid " << key.first << " fd " << key.second);
    CHECK(out.emplace(key, &row).second);  // each descriptor once
  }
  return out;
}

// The processes lsof should list files for: on the task list, with memory.
std::vector<const SyntheticProcess*> listed_with_files(const SyntheticLinux& kernel) {
  std::vector<const SyntheticProcess*> out;
  for (const SyntheticProcess& p : kernel.processes())
    if (!p.hidden && p.has_mm()) out.push_back(&p);
  return out;
}

// Every lsof row against the builder: each descriptor of each listed
// process once, with its path, type, mode and inode, and nothing else.
void check_lsof(const SyntheticLinux& kernel, const Table& table, const std::set<int64_t>& only = {}) {
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  auto rows = by_descriptor(table);
  size_t expected = 0;
  for (const SyntheticProcess* p : listed_with_files(kernel)) {
    if (!only.empty() && !only.count(p->pid)) continue;
    for (const SyntheticFile& f : kernel.files(p->pid)) {
      ++expected;
      INFO("pid " << p->pid << " fd " << f.fd << " (" << f.kind << ")");
      auto it = rows.find({p->pid, uint64_t(f.fd)});
      REQUIRE(it != rows.end());
      const Row& row = *it->second;
      CHECK(cell<std::string>(table, row, "comm") == p->comm.substr(0, 15));
      CHECK(cell<std::string>(table, row, "path") == f.expected_path);
      CHECK(cell<std::string>(table, row, "type") == f.expected_type);
      CHECK(cell<std::string>(table, row, "mode") == f.expected_mode);
      CHECK(cell<uint64_t>(table, row, "inode") == f.inode_number);
    }
  }
  CHECK(table.rows.size() == expected);
}

void check_sockstat(const SyntheticLinux& kernel, const Table& table) {
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  auto rows = by_descriptor(table);
  size_t expected = 0;
  std::set<std::string> families;
  for (const SyntheticProcess* p : listed_with_files(kernel)) {
    for (const SyntheticFile& f : kernel.files(p->pid)) {
      if (!f.socket) continue;
      ++expected;
      const test::SyntheticSocket& s = *f.socket;
      INFO("pid " << p->pid << " fd " << f.fd << " " << s.expected_family << " " << s.expected_local);
      auto it = rows.find({p->pid, uint64_t(f.fd)});
      REQUIRE(it != rows.end());
      const Row& row = *it->second;
      CHECK(cell<std::string>(table, row, "family") == s.expected_family);
      CHECK(cell<std::string>(table, row, "type") == s.expected_type);
      CHECK(cell<std::string>(table, row, "protocol") == s.expected_protocol);
      CHECK(cell<std::string>(table, row, "local") == s.expected_local);
      CHECK(cell<std::string>(table, row, "remote") == s.expected_remote);
      CHECK(cell<std::string>(table, row, "state") == s.expected_state);
      families.insert(s.expected_family);
    }
  }
  CHECK(table.rows.size() == expected);
  // The default image has a socket of each family sockstat reads.
  CHECK(families == std::set<std::string>{"inet", "inet6", "unix", "netlink", "packet"});
}

}  // namespace

TEST_CASE("lsof: every descriptor of every process as built / in each image format") {
  const std::string format = GENERATE(as<std::string>{}, "lime", "raw", "elf");
  INFO(format);
  SyntheticLinux kernel(with_files());
  test::SyntheticSession s(kernel, format);
  check_lsof(kernel, s.run("linux.lsof").table);
}

TEST_CASE("lsof and sockstat: with the rbtree and mmap-list kernels too") {
  const auto vmas = GENERATE(test::VmaIndexKind::kRbTree, test::VmaIndexKind::kMmapList);
  SyntheticLinux kernel(with_files(vmas));
  test::SyntheticSession s(kernel);
  check_lsof(kernel, s.run("linux.lsof").table);
  check_sockstat(kernel, s.run("linux.sockstat").table);
}

TEST_CASE("lsof: the kinds of files are told apart") {
  SyntheticLinux kernel(with_files());
  test::SyntheticSession s(kernel);
  Table table = s.run("linux.lsof").table;
  std::set<std::string> types;
  for (const Row& row : table.rows) types.insert(cell<std::string>(table, row, "type").value());
  CHECK(types == std::set<std::string>{"chr", "pipe", "file", "dir", "anon_inode", "socket"});
  // sshd's descriptor 130 lies past the embedded table of 64: its own fdtable was read.
  auto rows = by_descriptor(table);
  CHECK(rows.count({200, 130}) == 1);
  CHECK(kernel.fdtable_address(200) != kernel.files_struct_address(200) + kernel.offset_of("files_struct", "fdtab"));
}

TEST_CASE("sockstat: every socket of every process as built") {
  const std::string format = GENERATE(as<std::string>{}, "lime", "elf");
  SyntheticLinux kernel(with_files());
  test::SyntheticSession s(kernel, format);
  check_sockstat(kernel, s.run("linux.sockstat").table);
}

TEST_CASE("lsof and sockstat: --pid keeps the processes asked for / and names a PID that matched nothing") {
  SyntheticLinux kernel(with_files());
  test::SyntheticSession s(kernel);
  PluginArgs args;
  args.add("pid", "200,202");
  check_lsof(kernel, s.run("linux.lsof", args).table, {200, 202});
  Table sockets = s.run("linux.sockstat", args).table;
  std::set<int64_t> pids;
  for (const Row& row : sockets.rows) pids.insert(cell<int64_t>(sockets, row, "pid").value());
  CHECK(pids == std::set<int64_t>{200, 202});
  for (const char* plugin : {"linux.lsof", "linux.sockstat"}) {
    PluginArgs none;
    none.add("pid", "4242");
    Table table = s.run(plugin, none).table;
    CHECK(table.rows.empty());
    REQUIRE(table.warnings.size() == 1);
    CHECK(table.warnings[0] == "--pid 4242: no process with this PID on the task list");
  }
}

TEST_CASE("bad input: an fdtable with an absurd max_fds is cut / warned about / and the rest is intact") {
  SyntheticLinux kernel(with_files());
  kernel.set_max_fds(201, 0xfffffff0u);
  test::SyntheticSession s(kernel);
  Table table = s.run("linux.lsof").table;
  const std::string fdtable = hex_address(kernel.fdtable_address(201));
  INFO(all_warnings(table));
  CHECK(any_warning_contains(table, "fdtable " + fdtable + " claims max_fds 4294967280"));
  CHECK(any_warning_contains(table, "only descriptors below " + std::to_string(linux_kernel::FileReader::kMaxFds)));
  auto rows = by_descriptor(table);
  // Every real descriptor of every process is still there, 201's included.
  for (const SyntheticProcess* p : listed_with_files(kernel))
    for (const SyntheticFile& f : kernel.files(p->pid)) {
      INFO("pid " << p->pid << " fd " << f.fd);
      REQUIRE(rows.count({p->pid, uint64_t(f.fd)}) == 1);
      CHECK(cell<std::string>(table, *rows.at({p->pid, uint64_t(f.fd)}), "path") == f.expected_path);
    }
  // Whatever lies past the real table is read as far as the cut, no further.
  for (const auto& [key, row] : rows) CHECK(key.second < linux_kernel::FileReader::kMaxFds);
}

TEST_CASE("bad input: a wild file pointer costs its descriptor only / named by address") {
  SyntheticLinux kernel(with_files());
  kernel.wild_file_pointer(202, 2);
  test::SyntheticSession s(kernel);
  Table table = s.run("linux.lsof").table;
  INFO(all_warnings(table));
  REQUIRE(table.warnings.size() == 1);
  CHECK(table.warnings[0].find("pid 202") != std::string::npos);
  CHECK(table.warnings[0].find("fd 2") != std::string::npos);
  CHECK(table.warnings[0].find(hex_address(SyntheticLinux::kUnmappedKernelAddress)) != std::string::npos);
  auto rows = by_descriptor(table);
  CHECK(rows.count({202, 2}) == 0);
  for (const SyntheticProcess* p : listed_with_files(kernel))
    for (const SyntheticFile& f : kernel.files(p->pid))
      if (!(p->pid == 202 && f.fd == 2)) CHECK(rows.count({p->pid, uint64_t(f.fd)}) == 1);
}

TEST_CASE("bad input: a file whose dentry chain loops gives a partial path / a warning / the rest intact") {
  // bash's fd 9 is the only file under /tmp: looping /tmp back to it costs that descriptor only.
  SyntheticLinux kernel(with_files());
  kernel.file_dentry_loop(201, 9);
  test::SyntheticSession s(kernel);
  Table table = s.run("linux.lsof").table;
  INFO(all_warnings(table));
  REQUIRE(table.warnings.size() == 1);
  CHECK(table.warnings[0].find("pid 201") != std::string::npos);
  CHECK(table.warnings[0].find("fd 9") != std::string::npos);
  CHECK(table.warnings[0].find("loops at dentry") != std::string::npos);
  auto rows = by_descriptor(table);
  const Row& looped = *rows.at({201, 9});
  CHECK(cell<std::string>(table, looped, "path").value().rfind("(incomplete)", 0) == 0);
  CHECK(cell<std::string>(table, looped, "type") == "file");
  for (const SyntheticProcess* p : listed_with_files(kernel))
    for (const SyntheticFile& f : kernel.files(p->pid))
      if (!(p->pid == 201 && f.fd == 9))
        CHECK(cell<std::string>(table, *rows.at({p->pid, uint64_t(f.fd)}), "path") == f.expected_path);
}

TEST_CASE("files: modes as ls prints them / socket names") {
  using namespace linux_kernel;
  CHECK(file_mode_string(0100644) == "-rw-r--r--");
  CHECK(file_mode_string(0140777) == "srwxrwxrwx");
  CHECK(file_mode_string(0104755) == "-rwsr-xr-x");
  CHECK(file_mode_string(0041777) == "drwxrwxrwt");
  CHECK(file_mode_string(0600) == "?rw-------");
  CHECK(socket_family_name(99) == "AF_99");
  CHECK(socket_type_name(5) == "SEQPACKET");
  CHECK(socket_protocol_name(kAfInet, 6) == "TCP");
  CHECK(socket_protocol_name(kAfNetlink, 15) == "KOBJECT_UEVENT");
  CHECK(socket_protocol_name(kAfPacket, 0xdd86) == "IPV6");  // ETH_P_IPV6 in network order
  CHECK(socket_protocol_name(kAfPacket, 0x3412) == "0x1234");
  CHECK(socket_state_name(kAfInet, 10) == "LISTEN");
  CHECK(socket_state_name(kAfUnix, 1) == "ESTABLISHED");
  CHECK(socket_state_name(kAfPacket, 1) == "");
}
