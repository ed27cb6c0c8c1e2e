// linux.maps, linux.malfind, linux.proc_dump and linux.elfs, and the
// helpers under them (core/linux/vmas.h, dentry.h, elf_notes.h), on
// synthetic kernels whose processes have memory maps
// (support/synthetic_memory.cpp): every column against what the builder
// put in, for VMAs indexed by a maple tree, an rbtree or the mmap list;
// and damaged structures: a maple tree with a cycle or a wild node, a
// dentry chain that loops, a VMA list that loops or is longer than the
// limit. Also: the dump folder (core/util/dump_dir.h) never writes outside
// itself, and the --pid forms analysts type on the command line reach
// these plugins, linux.psaux and linux.envars alike.
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/linux/dentry.h"
#include "core/linux/vmas.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "core/util/dump_dir.h"
#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/util/sha256.h"
#include "support/run_cli.h"
#include "support/synthetic_linux.h"
#include "support/table_cells.h"
#include "support/temp_file.h"

using namespace memscope;
using test::cell;
using test::all_warnings;
using test::SyntheticLinux;
using test::SyntheticMapping;
using test::SyntheticOptions;
using test::VmaIndexKind;
namespace fs = std::filesystem;

namespace {

SyntheticOptions with_vmas(VmaIndexKind kind) {
  SyntheticOptions options;
  options.vmas = kind;
  return options;
}

// The image written as LiME and opened in a Session.
class Opened {
 public:
  explicit Opened(SyntheticLinux& kernel) : dir_("procmem") {
    kernel.write_profile(dir_.file("profile.json"));
    kernel.write_lime(dir_.file("image.lime"));
    SessionOptions options;
    options.image = dir_.file("image.lime");
    options.profile = dir_.file("profile.json");
    options.use_profile_cache = false;
    session_ = std::make_unique<Session>(options);
  }
  Session& session() { return *session_; }
  linux_kernel::KernelView view() { return linux_kernel::kernel_view(*session_); }
  PluginResult result(const std::string& name, const PluginArgs& args = {}) {
    const Plugin* plugin = find_plugin(name);
    REQUIRE(plugin != nullptr);
    return run_plugin(*plugin, *session_, args);
  }
  Table run(const std::string& name, const PluginArgs& args = {}) {
    PluginResult r = result(name, args);
    INFO(r.error);
    REQUIRE(r.ok);
    return std::move(r.table);
  }

 private:
  test::TempDir dir_;
  std::unique_ptr<Session> session_;
};

std::string joined(const Warnings& warnings) {
  std::string out;
  for (const std::string& line : warnings.lines()) out += line + "\n";
  return out;
}
bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string permissions(uint64_t flags) {
  std::string out = "----";
  if (flags & 1) out[0] = 'r';
  if (flags & 2) out[1] = 'w';
  if (flags & 4) out[2] = 'x';
  out[3] = flags & 0x80 ? 's' : 'p';
  return out;
}

// The processes whose maps were built and that the task list shows.
std::vector<int> mapped_pids(const SyntheticLinux& kernel) {
  std::vector<int> out;
  for (const auto& p : kernel.processes())
    if (p.has_mm() && !p.hidden) out.push_back(p.pid);
  return out;
}

std::map<int64_t, std::vector<const Row*>> rows_by_pid(const Table& table) {
  std::map<int64_t, std::vector<const Row*>> out;
  for (const Row& row : table.rows) out[cell<int64_t>(table, row, "pid").value()].push_back(&row);
  return out;
}

void check_maps(SyntheticLinux& kernel, Opened& image) {
  Table table = image.run("linux.maps");
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  auto by_pid = rows_by_pid(table);
  std::set<std::string> names;
  for (int pid : mapped_pids(kernel)) {
    INFO("pid " << pid);
    const auto& expected = kernel.maps(pid);
    const auto& rows = by_pid[pid];
    REQUIRE(rows.size() == expected.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& row = *rows[i];
      const SyntheticMapping& m = expected[i];
      INFO(hex(m.start) << " " << m.expected_name);
      CHECK(cell<Address>(table, row, "start")->value == m.start);
      CHECK(cell<Address>(table, row, "end")->value == m.end);
      CHECK(cell<std::string>(table, row, "flags") == permissions(m.flags));
      CHECK(cell<uint64_t>(table, row, "pgoff") == (m.path.empty() ? 0 : m.pgoff * 4096));
      CHECK(cell<uint64_t>(table, row, "major") == m.major);
      CHECK(cell<uint64_t>(table, row, "minor") == m.minor);
      CHECK(cell<uint64_t>(table, row, "inode") == m.inode_number);
      CHECK(cell<std::string>(table, row, "path") == m.expected_name);
      names.insert(m.expected_name);
    }
  }
  // What the maps are built to show.
  for (const char* name : {"[heap]", "[stack]", "[vdso]", "[vvar]", "[anon:synthetic-arena]",
                           "/mnt/data/lib/libsynthetic.so.1", "/dev/shm/segment",
                           "/tmp/.cache/payload-with-a-name-longer-than-32-chars.bin (deleted)"})
    CHECK(names.count(name) == 1);
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("maps: every VMA of every process as built / maple tree / rbtree / mmap list") {
  const VmaIndexKind kind = GENERATE(VmaIndexKind::kMapleTree, VmaIndexKind::kRbTree, VmaIndexKind::kMmapList);
  SyntheticLinux kernel(with_vmas(kind));
  Opened image(kernel);
  linux_kernel::VmaReader reader(image.view());
  CHECK(reader.index() == (kind == VmaIndexKind::kMapleTree ? linux_kernel::VmaReader::Index::kMapleTree
                           : kind == VmaIndexKind::kRbTree  ? linux_kernel::VmaReader::Index::kRbTree
                                                            : linux_kernel::VmaReader::Index::kMmapList));
  check_maps(kernel, image);
}

TEST_CASE("maps: [vdso] and [vvar] from mm->context.vdso when the profile lacks special_mapping_vmops") {
  SyntheticOptions options = with_vmas(VmaIndexKind::kMapleTree);
  options.special_mapping_symbols = false;
  SyntheticLinux kernel(options);
  Opened image(kernel);
  check_maps(kernel, image);
}

TEST_CASE("maps: --pid as a list / a PID that matches nothing") {
  SyntheticLinux kernel(with_vmas(VmaIndexKind::kMapleTree));
  Opened image(kernel);
  PluginArgs args;
  args.add("pid", "200,202");
  args.add("pid", "4242");
  Table table = image.run("linux.maps", args);
  auto by_pid = rows_by_pid(table);
  CHECK(by_pid.size() == 2);
  CHECK(by_pid[200].size() == kernel.maps(200).size());
  CHECK(by_pid[202].size() == kernel.maps(202).size());
  CHECK(contains(all_warnings(table), "--pid 4242: no process with this PID"));
}

TEST_CASE("maps: a cycle in a process's maple tree costs that subtree with a warning naming the node") {
  SyntheticLinux kernel(with_vmas(VmaIndexKind::kMapleTree));
  const uint64_t tree = kernel.mm_address(201) + kernel.offset_of("mm_struct", "mm_mt");
  auto nodes = kernel.maple_nodes(tree);
  REQUIRE(nodes.size() > 2);  // a root over leaves
  const uint64_t root = nodes[0];
  // The root's second child becomes the root itself; its third a wild pointer.
  kernel.poke_kernel_u64(kernel.maple_slot_address(root, 1), kernel.maple_enode(root));
  const uint64_t wild = SyntheticLinux::kUnmappedKernelAddress;
  kernel.poke_kernel_u64(kernel.maple_slot_address(root, 2), wild | (kernel.maple_enode(nodes[3]) & 0xff));
  Opened image(kernel);
  Table table = image.run("linux.maps");
  std::string text = all_warnings(table);
  INFO(text);
  CHECK(contains(text, "pid 201 bash): VMA tree: node " + hex_address(root) + " is reached twice"));
  CHECK(contains(text, "cannot read node " + hex_address(wild)));
  CHECK(contains(text, "mm->map_count says " + std::to_string(kernel.maps(201).size()) + " VMAs"));
  auto by_pid = rows_by_pid(table);
  // Process 201 keeps the VMAs of its first leaf and of the leaves after
  // the damaged slots; the other processes are whole.
  CHECK(!by_pid[201].empty());
  CHECK(by_pid[201].size() < kernel.maps(201).size());
  CHECK(cell<Address>(table, *by_pid[201].front(), "start")->value == kernel.maps(201).front().start);
  for (int pid : mapped_pids(kernel))
    if (pid != 201) CHECK(by_pid[pid].size() == kernel.maps(pid).size());
}

TEST_CASE("maps: a dentry chain that loops gives a warning and a partial path and no hang") {
  SyntheticLinux kernel(with_vmas(VmaIndexKind::kMapleTree));
  const std::string library = "/mnt/data/lib/libsynthetic.so.1";
  kernel.set_dentry_parent("/mnt/data/lib", library);
  Opened image(kernel);
  Table table = image.run("linux.maps", [] {
    PluginArgs args;
    args.add("pid", "200");
    return args;
  }());
  std::string text = all_warnings(table);
  INFO(text);
  CHECK(contains(text, "the dentry chain loops at dentry " + hex_address(kernel.dentry_address(library))));
  size_t partial = 0;
  for (const Row& row : table.rows) {
    std::string path = cell<std::string>(table, row, "path").value();
    if (path == "(incomplete)/lib/libsynthetic.so.1") ++partial;
    CHECK(path != library);
  }
  CHECK(partial == 3);  // the library's three file-backed VMAs
  CHECK(table.rows.size() == kernel.maps(200).size());
}

TEST_CASE("vmas: a VMA list that loops or is longer than the limit is cut with a warning") {
  const VmaIndexKind kind = GENERATE(VmaIndexKind::kMmapList, VmaIndexKind::kRbTree);
  SyntheticLinux kernel(with_vmas(kind));
  if (kind == VmaIndexKind::kMmapList) {
    kernel.vma_list_cycle(200);
  } else {
    // The rightmost node's right child: the tree's root.
    const uint64_t rb = kernel.offset_of("vm_area_struct", "vm_rb");
    const auto& maps = kernel.maps(200);
    uint64_t last = kernel.vma_address(200, maps.back().start) + rb;
    uint64_t root = kernel.vma_address(200, maps[maps.size() / 2].start) + rb;
    kernel.poke_kernel_u64(last + kernel.offset_of("rb_node", "rb_right"), root);
  }
  Opened image(kernel);
  linux_kernel::VmaReader reader(image.view());
  const uint64_t mm = kernel.mm_address(200);
  Warnings warnings;
  auto vmas = reader.vmas(mm, "pid 200", warnings);
  INFO(joined(warnings));
  CHECK(contains(joined(warnings), "is reached twice (a cycle"));
  CHECK(vmas.size() == kernel.maps(200).size());
  Warnings limited;
  auto cut = reader.vmas(mm, "pid 200", limited, {.limit = 5});
  INFO(joined(limited));
  CHECK(cut.size() == 5);
  CHECK(contains(joined(limited), kind == VmaIndexKind::kMmapList ? "more than 5 VMAs" : "limit of 5 nodes reached"));
}

TEST_CASE("dentry: a pipe is named as the kernel's d_dname names it") {
  SyntheticLinux kernel(with_vmas(VmaIndexKind::kMapleTree));
  uint64_t file = kernel.build_pipe_file(4242);
  Opened image(kernel);
  linux_kernel::KernelView view = image.view();
  linux_kernel::DentryReader dentries(view);
  Warnings warnings;
  linux_kernel::FileInfo info = dentries.file(file, "pipe", warnings);
  INFO(joined(warnings));
  CHECK(warnings.empty());
  CHECK(info.path == "pipe:[4242]");
  CHECK(info.inode_number == 4242);
  CHECK(info.major == 0);
  CHECK(info.minor == 12);
  CHECK(linux_kernel::new_encode_dev((259u << 20) | 300u) == ((300u & 0xff) | (259u << 8) | ((300u & ~0xffu) << 12)));
}

TEST_CASE("malfind: the rwx region and the anonymous r-x region and nothing the kernel or a file maps") {
  SyntheticLinux kernel(with_vmas(VmaIndexKind::kMapleTree));
  Opened image(kernel);
  Table table = image.run("linux.malfind");
  REQUIRE(table.rows.size() == 2);
  const Row& rwx = table.rows[0];
  const Row& rx = table.rows[1];
  CHECK(cell<int64_t>(table, rwx, "pid") == 202);
  CHECK(cell<Address>(table, rwx, "start")->value == SyntheticLinux::kRwxAddress);
  CHECK(cell<std::string>(table, rwx, "flags") == "rwxp");
  CHECK(cell<std::string>(table, rwx, "path") == "");
  std::string dump = cell<std::string>(table, rwx, "hexdump").value();
  // "SYNT" as hex, and the marker as text.
  CHECK(dump.rfind("53 59 4e 54 ", 0) == 0);
  CHECK(contains(dump, "  " + std::string(SyntheticLinux::kRwxMarker)));
  CHECK(cell<Address>(table, rx, "start")->value == 0x7f3e00000000);
  CHECK(cell<std::string>(table, rx, "flags") == "r-xp");
  auto disasm = cell<std::string>(table, rx, "disasm");
  if (disasm) {
    CHECK(disasm->rfind("push rbp; mov rbp, rsp; xor eax, eax; pop rbp; ret", 0) == 0);
  } else {
    CHECK(contains(all_warnings(table), "built without libcapstone"));
  }
}

TEST_CASE("proc_dump: one file per VMA with pages not in the image as zeros and the sha256 of the file") {
  SyntheticLinux kernel(with_vmas(VmaIndexKind::kMapleTree));
  Opened image(kernel);
  test::TempDir out("dump");
  PluginArgs args;
  args.add("pid", "200");
  args.add("dump-dir", out.path());
  Table table = image.run("linux.proc_dump", args);
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  const auto& maps = kernel.maps(200);
  REQUIRE(table.rows.size() == maps.size());
  for (size_t i = 0; i < maps.size(); ++i) {
    const Row& row = table.rows[i];
    const SyntheticMapping& m = maps[i];
    std::string name = "pid.200." + hex(m.start) + "-" + hex(m.end) + ".dmp";
    CHECK(cell<std::string>(table, row, "file") == name);
    std::string bytes = file_bytes(out.file(name));
    CHECK(bytes.size() == m.end - m.start);
    CHECK(cell<uint64_t>(table, row, "bytes") == bytes.size());
    CHECK(cell<std::string>(table, row, "sha256") == Sha256::to_hex(Sha256::of(bytes.data(), bytes.size())));
    // Pages that hold contents are in memory; the others are zeros (the
    // stack also holds the argument pages synthetic_linux.cpp maps).
    uint64_t pages = (m.end - m.start) / 4096, present = (m.contents.size() + 4095) / 4096;
    if (m.expected_name == "[stack]")
      CHECK(cell<uint64_t>(table, row, "zero_pages").value() < pages);
    else
      CHECK(cell<uint64_t>(table, row, "zero_pages") == pages - std::min(pages, present));
    CHECK(bytes.compare(0, m.contents.size(), m.contents) == 0);
  }
  // The data page holds the process's string at its address.
  std::string data = file_bytes(out.file("pid.200." + hex(SyntheticLinux::kProgramBase + 0x3000) + "-" +
                                         hex(SyntheticLinux::kProgramBase + 0x4000) + ".dmp"));
  std::string wanted = SyntheticLinux::user_string(200);
  CHECK(data.compare(SyntheticLinux::kUserStringOffset - 0x3000, wanted.size(), wanted) == 0);
  // Only our names, and no temporary file left behind.
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(out.path())) {
    CHECK(entry.path().filename().string().rfind("pid.200.0x", 0) == 0);
    ++files;
  }
  CHECK(files == maps.size());
}

TEST_CASE("proc_dump: --address / --range / existing files and --force / required options") {
  SyntheticLinux kernel(with_vmas(VmaIndexKind::kMapleTree));
  Opened image(kernel);
  test::TempDir out("dump");
  auto args = [&](std::vector<std::pair<std::string, std::string>> values, bool force = false) {
    PluginArgs a;
    for (auto& [k, v] : values) a.add(k, v);
    if (force) a.set_flag("force");
    return a;
  };
  const std::string rwx = hex(SyntheticLinux::kRwxAddress);
  Table one = image.run("linux.proc_dump", args({{"pid", "202"}, {"dump-dir", out.path()},
                                                 {"address", hex(SyntheticLinux::kRwxAddress + 0x1234)}}));
  REQUIRE(one.rows.size() == 1);
  CHECK(cell<std::string>(one, one.rows[0], "file") == "pid.202." + rwx + "-" + hex(SyntheticLinux::kRwxAddress + 0x2000) + ".dmp");
  CHECK(cell<uint64_t>(one, one.rows[0], "zero_pages") == 1);

  // A range inside a VMA: only that part.
  Table part = image.run("linux.proc_dump", args({{"pid", "202"}, {"dump-dir", out.path()},
                                                  {"range", hex(SyntheticLinux::kRwxAddress + 0x100) + ":" +
                                                                hex(SyntheticLinux::kRwxAddress + 0x200)}}));
  REQUIRE(part.rows.size() == 1);
  std::string bytes = file_bytes(out.file("pid.202." + hex(SyntheticLinux::kRwxAddress + 0x100) + "-" +
                                          hex(SyntheticLinux::kRwxAddress + 0x200) + ".dmp"));
  CHECK(bytes.size() == 0x100);
  CHECK(bytes.rfind("\x90\x90\x90\x90\xb8\x37\x13", 0) == 0);

  // Again without --force: nothing replaced, each refusal a warning.
  const std::string path = out.file("pid.202." + rwx + "-" + hex(SyntheticLinux::kRwxAddress + 0x2000) + ".dmp");
  ::chmod(path.c_str(), 0600);
  fs::last_write_time(path, fs::file_time_type::clock::now() - std::chrono::hours(1));
  auto before = fs::last_write_time(path);
  Table again = image.run("linux.proc_dump", args({{"pid", "202"}, {"dump-dir", out.path()}, {"address", rwx}}));
  CHECK(again.rows.empty());
  CHECK(contains(all_warnings(again), "exists; use --force to overwrite it"));
  CHECK(fs::last_write_time(path) == before);
  Table forced = image.run("linux.proc_dump", args({{"pid", "202"}, {"dump-dir", out.path()}, {"address", rwx}}, true));
  CHECK(forced.rows.size() == 1);
  CHECK(fs::last_write_time(path) != before);

  // An address no VMA holds.
  Table none = image.run("linux.proc_dump", args({{"pid", "202"}, {"dump-dir", out.path()}, {"address", "0x10"}}));
  CHECK(none.rows.empty());
  CHECK(contains(all_warnings(none), "no VMA holds 0x10"));

  // Required options and a folder that is not one.
  CHECK_FALSE(image.result("linux.proc_dump", args({{"dump-dir", out.path()}})).ok);
  CHECK_FALSE(image.result("linux.proc_dump", args({{"pid", "202"}})).ok);
  PluginResult missing = image.result("linux.proc_dump", args({{"pid", "202"}, {"dump-dir", out.file("nowhere")}}));
  CHECK_FALSE(missing.ok);
  CHECK(contains(missing.error, "cannot open the folder"));
}

TEST_CASE("elfs: the program and the library of each process with their build ids and the rebuilt files") {
  SyntheticLinux kernel(with_vmas(VmaIndexKind::kMapleTree));
  Opened image(kernel);
  test::TempDir out("elfs");
  PluginArgs args;
  args.add("pid", "200");
  args.add("dump-dir", out.path());
  Table table = image.run("linux.elfs", args);
  // The second text page of each image is not in memory.
  CHECK(contains(all_warnings(table), "1 pages of its loaded segments are not in the image"));
  REQUIRE(table.rows.size() == 2);
  const std::string program = "/usr/bin/" + kernel.process(200).comm;
  const std::string library = "/mnt/data/lib/libsynthetic.so.1";
  struct Expected {
    std::string path;
    uint64_t start;
  };
  for (const Expected& e : {Expected{program, SyntheticLinux::kProgramBase}, Expected{library, 0x7f3a00000000}}) {
    INFO(e.path);
    const Row* row = nullptr;
    for (const Row& r : table.rows)
      if (cell<std::string>(table, r, "path") == e.path) row = &r;
    REQUIRE(row);
    CHECK(cell<Address>(table, *row, "start")->value == e.start);
    CHECK(cell<Address>(table, *row, "end")->value == e.start + 0x4000);  // header, text, data (bss not a file's)
    CHECK(cell<std::string>(table, *row, "build_id") == SyntheticLinux::build_id_hex(e.path));
    std::string file = file_bytes(out.file("pid.200." + hex(e.start) + ".elf"));
    CHECK(file == kernel.elf_file(e.path));
  }
}

TEST_CASE("elfs: every user process lists its program") {
  SyntheticLinux kernel(with_vmas(VmaIndexKind::kRbTree));
  Opened image(kernel);
  Table table = image.run("linux.elfs");
  std::map<int64_t, std::set<std::string>> paths;
  for (const Row& row : table.rows) paths[cell<int64_t>(table, row, "pid").value()].insert(*cell<std::string>(table, row, "path"));
  for (int pid : mapped_pids(kernel)) CHECK(paths[pid].count("/usr/bin/" + kernel.process(pid).comm) == 1);
}

TEST_CASE("elfs: --force without --dump-dir is an error, not an option silently unused") {
  SyntheticLinux kernel(with_vmas(VmaIndexKind::kMapleTree));
  Opened image(kernel);
  PluginArgs args;
  args.set_flag("force");
  PluginResult result = image.result("linux.elfs", args);
  CHECK_FALSE(result.ok);
  CHECK(contains(result.error, "--dump-dir"));
}

// --- The dump folder: nothing is written outside it ------------------------------

namespace {

std::set<std::string> names_in(const std::string& folder) {
  std::set<std::string> out;
  for (const auto& entry : fs::directory_iterator(folder)) out.insert(entry.path().filename().string());
  return out;
}

}  // namespace

TEST_CASE("dump folder: names that are not plain file names are refused / nothing is written") {
  test::TempDir root("dumpdir");
  fs::create_directory(root.file("out"));
  DumpDir dir(root.file("out"), true);
  const std::vector<std::string> bad = {"../escaped", "sub/file", ".", "..", "", std::string("a\0b", 3), "/etc/passwd"};
  for (const std::string& name : bad) {
    INFO("name '" << name << "'");
    try {
      dir.create(name);
      FAIL("created");
    } catch (const Error& e) {
      INFO(e.what());
      CHECK(contains(e.what(), "is not a plain file name"));
    }
  }
  // A NUL in a name is shown, not allowed to cut the message short.
  CHECK_THROWS_WITH(dir.create(std::string("a\0b", 3)), "'a\\x00b' is not a plain file name");
  CHECK(names_in(root.path()) == std::set<std::string>{"out"});
  CHECK(names_in(root.file("out")).empty());
}

TEST_CASE("dump folder: a symbolic link at the name is never followed / refused without force / replaced with it") {
  test::TempDir root("dumpdir");
  fs::create_directory(root.file("out"));
  std::ofstream(root.file("outside")) << "evidence";
  fs::create_symlink(root.file("outside"), root.file("out/pid.1.0x1000-0x2000.dmp"));
  {
    DumpDir dir(root.file("out"), false);
    try {
      dir.create("pid.1.0x1000-0x2000.dmp");
      FAIL("created over the link without --force");
    } catch (const Error& e) {
      CHECK(contains(e.what(), "exists; use --force to overwrite it"));
    }
  }
  DumpDir forced(root.file("out"), true);
  DumpFile out = forced.create("pid.1.0x1000-0x2000.dmp");
  out.write("dumped", 6);
  out.skip(4096);
  out.commit();
  // The link itself was replaced by the file; what it pointed at is intact.
  CHECK(file_bytes(root.file("outside")) == "evidence");
  CHECK(fs::is_regular_file(fs::symlink_status(root.file("out/pid.1.0x1000-0x2000.dmp"))));
  CHECK(fs::file_size(root.file("out/pid.1.0x1000-0x2000.dmp")) == 6 + 4096);
  CHECK(names_in(root.file("out")) == std::set<std::string>{"pid.1.0x1000-0x2000.dmp"});
}

TEST_CASE("dump folder: a file not committed leaves nothing behind / the folder must exist and be a folder") {
  test::TempDir root("dumpdir");
  {
    DumpDir dir(root.path(), false);
    DumpFile out = dir.create("pid.2.0x0-0x1000.dmp");
    out.write("partial", 7);
  }  // an error before commit: the temporary file goes
  CHECK(names_in(root.path()).empty());
  std::ofstream(root.file("plain")) << "x";
  CHECK_THROWS_WITH(DumpDir(root.file("plain"), false), Catch::Contains("cannot open the folder"));
  CHECK_THROWS_WITH(DumpDir(root.file("absent"), false), Catch::Contains("cannot open the folder"));
  CHECK_THROWS_WITH(DumpDir("", false), Catch::Contains("no folder"));
}

// --- --pid as analysts type it, through the command -------------------------------

TEST_CASE("pid list forms on the command line: psaux / envars and the process memory and file plugins") {
  SyntheticOptions options = with_vmas(VmaIndexKind::kMapleTree);
  options.files = true;
  SyntheticLinux kernel(options);
  test::TempDir dir("pid-forms");
  kernel.write_lime(dir.file("image.lime"));
  kernel.write_profile(dir.file("profile.json"));
  fs::create_directory(dir.file("dump"));
  // Two processes with memory, open files and sockets (support/synthetic_files.cpp).
  const std::vector<int> mapped = mapped_pids(kernel);
  REQUIRE(std::count(mapped.begin(), mapped.end(), 200) == 1);
  REQUIRE(std::count(mapped.begin(), mapped.end(), 202) == 1);
  const std::string a = "200", b = "202";
  const std::set<int64_t> wanted{200, 202};
  struct Case {
    std::string plugin;
    std::vector<std::string> extra;
  };
  const std::vector<Case> cases = {
      {"linux.psaux", {}},
      {"linux.envars", {}},
      {"linux.maps", {}},
      {"linux.elfs", {}},
      {"linux.lsof", {}},
      {"linux.sockstat", {}},
      {"linux.yarascan", {"--yara-string", "SYNTHETIC_USER_STRING:pid="}},
      {"linux.proc_dump", {"--dump-dir", dir.file("dump"), "--force"}},
  };
  const std::vector<std::vector<std::string>> forms = {
      {"--pid", a, b}, {"--pid", a, "--pid", b}, {"--pid", a + "," + b}, {"--pid=" + a + "," + b}};
  for (const Case& c : cases) {
    for (const auto& form : forms) {
      std::vector<std::string> args{c.plugin, "-f", dir.file("image.lime"), "-p", dir.file("profile.json"), "-o",
                                    "json"};
      args.insert(args.end(), form.begin(), form.end());
      args.insert(args.end(), c.extra.begin(), c.extra.end());
      std::string shown;
      for (const std::string& arg : args) shown += arg + " ";
      INFO(shown);
      test::CliRun run = test::run_cli(args);
      INFO(run.err);
      REQUIRE(run.status == 0);
      CHECK(run.err.empty());
      std::set<int64_t> pids;
      for (const auto& row : nlohmann::json::parse(run.out)) pids.insert(row.at("pid").get<int64_t>());
      // Both processes have rows in every one of these plugins, and no other does.
      CHECK(pids == wanted);
    }
  }
}
