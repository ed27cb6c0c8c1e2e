// Open files for the synthetic kernel (SyntheticOptions::files): each
// user process's files_struct and fdtable (the embedded one of 64
// descriptors, or a larger one of its own), and behind the descriptors
// files of every kind lsof tells apart: a character device, a pipe
// (support/synthetic_memory.cpp's pipefs), regular files (one unlinked),
// the process's own program (the struct file its mapping uses), a
// directory, an anonymous inode, and sockets of each family sockstat reads
// (inet and inet6 TCP and UDP, unix with paths, abstract names and peers,
// netlink, packet) on a sockfs whose dentries are named by sockfs_dname.
//
// As elsewhere in the builder, offsets are unlike a real kernel's:
// fdtable keeps `fd` before `max_fds`, sock_common keeps skc_rcv_saddr
// before skc_daddr and skc_num before skc_dport (both inside anonymous
// members, as in the kernel), socket_alloc puts the inode before the
// socket, and the families' structs place their fields where no kernel
// does.
#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "support/synthetic_layout.h"

namespace memscope::test {
namespace {

using namespace synthetic;

// Kernel-image offsets (from _text) of this file's objects, clear of the
// other builders' (synthetic_linux, _memory, _rootkit, _hooks).
constexpr uint64_t kFilesDataOffset = 0x520000;
constexpr uint64_t kSocketFileOpsOffset = kFilesDataOffset;          // socket_file_ops
constexpr uint64_t kPipeFileOpsOffset = kFilesDataOffset + 0x100;    // pipefifo_fops
constexpr uint64_t kOtherFileOpsOffset = kFilesDataOffset + 0x200;   // regular files, devices, epoll
constexpr uint64_t kSockfsDentryOpsOffset = kFilesDataOffset + 0x300;
constexpr uint64_t kAnonDentryOpsOffset = kFilesDataOffset + 0x400;
constexpr uint64_t kTaskFilesOffset = 0xb48;  // task_struct.files

constexpr uint32_t kIfSock = 0140000, kIfReg = 0100000, kIfDir = 0040000, kIfChr = 0020000, kIfIfo = 0010000;
constexpr uint64_t kExt4Magic = 0xEF53, kPipefsMagic = 0x50495045, kSockfsMagic = 0x534F434B,
                   kAnonInodeMagic = 0x09041934;
constexpr uint32_t kFmodeRead = 0x1, kFmodeWrite = 0x2;
constexpr unsigned kEmbeddedFds = 64;  // NR_OPEN_DEFAULT: files_struct's own fdtable

constexpr uint32_t mkdev(uint32_t major, uint32_t minor) { return major << 20 | minor; }

std::string mode_string(uint32_t mode) {
  char type = '?';
  switch (mode & 0170000) {
    case kIfSock: type = 's'; break;
    case kIfReg: type = '-'; break;
    case kIfDir: type = 'd'; break;
    case kIfChr: type = 'c'; break;
    case kIfIfo: type = 'p'; break;
    default: break;
  }
  std::string out(1, type);
  for (int bit = 8; bit >= 0; --bit) out += (mode >> bit & 1) ? "rwxrwxrwx"[8 - bit] : '-';
  return out;
}

}  // namespace

struct SyntheticLinux::FilesState {
  struct Mount {
    uint64_t mount = 0, root = 0, sb = 0;
  };
  Mount root_fs, sockfs, anonfs;
  uint64_t anon_inode = 0;
  std::map<std::string, uint64_t> dentries;  // path on root_fs -> dentry
  std::map<uint64_t, uint64_t> inodes;       // dentry -> its inode
  std::map<int, std::vector<SyntheticFile>> files;
  std::map<int, uint64_t> files_structs, fdtables;
  std::map<std::pair<int, int>, uint64_t> struct_files;
  std::map<std::pair<int, int>, std::string> file_paths;  // "file" descriptors: their path
  uint64_t next_inode = 70000;
};

// --- What each process opens -------------------------------------------------

std::vector<SyntheticFile> SyntheticLinux::default_files(const SyntheticProcess& p) const {
  std::vector<SyntheticFile> out;
  auto add = [&](int fd, const char* kind, std::string path = {}, uint32_t permissions = 0644) -> SyntheticFile& {
    SyntheticFile f;
    f.fd = fd;
    f.kind = kind;
    f.path = std::move(path);
    f.permissions = permissions;
    out.push_back(std::move(f));
    return out.back();
  };
  auto socket = [&](int fd, SyntheticSocket s) { add(fd, "socket", "", 0777).socket = std::move(s); };
  auto inet = [](uint16_t family, uint16_t type, uint16_t protocol, uint8_t state, std::string local,
                 uint16_t local_port, std::string remote, uint16_t remote_port, std::string expected_state) {
    SyntheticSocket s;
    s.family = family;
    s.type = type;
    s.protocol = protocol;
    s.state = state;
    s.local_address = local;
    s.local_port = local_port;
    s.remote_address = remote;
    s.remote_port = remote_port;
    bool v6 = family == 10;
    auto shown = [&](const std::string& a, uint16_t port) {
      return (v6 ? "[" + a + "]" : a) + ":" + std::to_string(port);
    };
    s.expected_family = v6 ? "inet6" : "inet";
    s.expected_type = type == 1 ? "STREAM" : "DGRAM";
    s.expected_protocol = protocol == 6 ? "TCP" : "UDP";
    s.expected_local = shown(local, local_port);
    s.expected_remote = shown(remote, remote_port);
    s.expected_state = std::move(expected_state);
    return s;
  };
  auto unix_socket = [](uint16_t type, uint8_t state, std::string local, std::string remote,
                        std::string expected_state) {
    SyntheticSocket s;
    s.family = 1;
    s.type = type;
    s.protocol = 0;
    s.state = state;
    s.local_address = local;
    s.remote_address = remote;
    s.expected_family = "unix";
    s.expected_type = type == 1 ? "STREAM" : type == 2 ? "DGRAM" : "SEQPACKET";
    s.expected_protocol = "0";
    s.expected_local = std::move(local);
    s.expected_remote = std::move(remote);
    s.expected_state = std::move(expected_state);
    return s;
  };

  add(0, "chr", "/dev/null", 0666);
  add(1, "pipe", "", 0600);
  add(2, "file", "/var/log/synthetic-" + std::to_string(p.pid) + ".log", 0640);
  add(3, "program", "", 0755);
  add(4, "dir", "/var/lib/synthetic", 0755);
  add(5, "anon_inode", "[eventpoll]", 0600);
  if (p.pid == 200) {
    socket(6, inet(2, 1, 6, 10, "0.0.0.0", 22, "0.0.0.0", 0, "LISTEN"));
    socket(7, inet(10, 1, 6, 10, "::", 22, "::", 0, "LISTEN"));
    socket(8, inet(2, 1, 6, 1, "10.0.2.15", 22, "10.0.2.2", 51234, "ESTABLISHED"));
    socket(9, unix_socket(1, 10, "/run/sshd.sock", "", "LISTEN"));
    // Above the embedded table's 64: sshd has an fdtable of its own.
    socket(130, inet(10, 1, 6, 1, "fe80::5054:ff:fe12:3456", 22, "fe80::1", 40000, "ESTABLISHED"));
  } else if (p.pid == 201) {
    socket(6, unix_socket(1, 1, "", "/run/sshd.sock", "ESTABLISHED"));
    socket(7, unix_socket(2, 7, "@/tmp/.X11-unix/X0", "", "CLOSE"));
    SyntheticSocket route;
    route.family = 16;
    route.type = 3;
    route.protocol = 0;  // NETLINK_ROUTE
    route.state = 0;
    route.local_port = 201;
    route.expected_family = "netlink";
    route.expected_type = "RAW";
    route.expected_protocol = "ROUTE";
    route.expected_local = "201";
    route.expected_remote = "0";
    route.expected_state = "UNCONNECTED";
    socket(8, route);
    add(9, "file", "/tmp/.payload", 0755).deleted = true;
  } else if (p.pid == 202) {
    socket(6, inet(2, 2, 17, 7, "0.0.0.0", 68, "0.0.0.0", 0, "CLOSE"));
    socket(7, inet(10, 2, 17, 1, "fe80::1", 546, "fe80::2", 547, "ESTABLISHED"));
    SyntheticSocket packet;
    packet.family = 17;
    packet.type = 3;
    packet.protocol = htons(0x0003);  // ETH_P_ALL, kept in network order
    packet.state = 0;
    packet.local_port = 2;  // ifindex
    packet.expected_family = "packet";
    packet.expected_type = "RAW";
    packet.expected_protocol = "ALL";
    packet.expected_local = "2";
    packet.expected_remote = "";
    packet.expected_state = "";
    socket(8, packet);
    SyntheticSocket audit;
    audit.family = 16;
    audit.type = 3;
    audit.protocol = 9;  // NETLINK_AUDIT
    audit.state = 1;
    audit.local_port = 202;
    audit.remote_port = 0;
    audit.remote_group = 1;
    audit.expected_family = "netlink";
    audit.expected_type = "RAW";
    audit.expected_protocol = "AUDIT";
    audit.expected_local = "202";
    audit.expected_remote = "0/1";
    audit.expected_state = "CONNECTED";
    socket(9, audit);
  }
  return out;
}

// --- Accessors and damage -------------------------------------------------------

const std::vector<SyntheticFile>& SyntheticLinux::files(int pid) const { return files_->files.at(pid); }
uint64_t SyntheticLinux::files_struct_address(int pid) const { return files_->files_structs.at(pid); }
uint64_t SyntheticLinux::fdtable_address(int pid) const { return files_->fdtables.at(pid); }
uint64_t SyntheticLinux::struct_file_address(int pid, int fd) const { return files_->struct_files.at({pid, fd}); }

void SyntheticLinux::set_max_fds(int pid, uint32_t max_fds) {
  put_field(fdtable_address(pid), "fdtable", "max_fds", max_fds);
}

void SyntheticLinux::wild_file_pointer(int pid, int fd) {
  uint64_t array = 0;
  space_->read(kernel_physical(fdtable_address(pid) + offset_of("fdtable", "fd")), &array, 8);
  put_kernel_u64(array + 8 * uint64_t(fd), kUnmappedKernelAddress);
}

void SyntheticLinux::file_dentry_loop(int pid, int fd) {
  const std::string& path = files_->file_paths.at({pid, fd});
  std::string top = path.substr(0, path.find('/', 1));
  put_field(files_->dentries.at(top), "dentry", "d_parent", files_->dentries.at(path));
}

// --- Building ---------------------------------------------------------------------

void SyntheticLinux::build_files() {
  if (!options_.files) return;
  if (options_.vmas == VmaIndexKind::kNone)
    throw std::logic_error("SyntheticLinux: SyntheticOptions::files needs vmas (the file and dentry types)");
  files_ = std::make_shared<FilesState>();
  FilesState& F = *files_;
  Layout& L = *layout_;

  // --- Types, added to the profile already made.
  L.base("short unsigned int", 2, "int", false);
  const json u8 = base_t("unsigned char"), u16 = base_t("short unsigned int"), u32 = base_t("unsigned int");
  const json i32 = base_t("int"), ulong = base_t("long unsigned int"), voidp = ptr_t(base_t("void"));
  L.extend("task_struct", {{"files", kTaskFilesOffset, ptr_t(struct_t("files_struct"))}});
  L.extend("file", {{"f_flags", 0x44, u32},
                    {"f_op", 0x58, ptr_t(struct_t("file_operations"))},
                    {"private_data", 0xb0, voidp}});
  L.extend("super_block", {{"s_magic", 0x30, ulong}});
  L.record("file_operations", 0x100, {{"owner", 0x0, voidp}, {"read", 0x10, voidp}});
  L.record("fdtable", 0x38, {{"fd", 0x0, ptr_t(ptr_t(struct_t("file")))},
                             {"max_fds", 0x10, u32},
                             {"open_fds", 0x18, ptr_t(ulong)},
                             {"close_on_exec", 0x20, ptr_t(ulong)},
                             {"full_fds_bits", 0x28, ptr_t(ulong)}});
  L.record("files_struct", 0x2c0, {{"count", 0x0, struct_t("atomic_t")},
                                   {"fdt", 0x48, ptr_t(struct_t("fdtable"))},
                                   {"fdtab", 0x50, struct_t("fdtable")},
                                   {"next_fd", 0x88, u32},
                                   {"open_fds_init", 0x90, array_t(ulong, 1)},
                                   {"fd_array", 0xa0, array_t(ptr_t(struct_t("file")), kEmbeddedFds)}});
  L.record("in6_addr", 0x10, {{"u6_addr8", 0x0, array_t(u8, 16)}});
  L.record("unnamed_skc_addrpair_3e71", 0x8, {{"skc_rcv_saddr", 0x0, u32}, {"skc_daddr", 0x4, u32}});
  L.record("unnamed_skc_portpair_9d04", 0x4, {{"skc_num", 0x0, u16}, {"skc_dport", 0x2, u16}});
  L.record("sock_common", 0x90, {{"unnamed_field_0", 0x8, struct_t("unnamed_skc_addrpair_3e71"), true},
                                 {"skc_family", 0x14, u16},
                                 {"skc_state", 0x17, u8},
                                 {"unnamed_field_1", 0x18, struct_t("unnamed_skc_portpair_9d04"), true},
                                 {"skc_v6_daddr", 0x40, struct_t("in6_addr")},
                                 {"skc_v6_rcv_saddr", 0x50, struct_t("in6_addr")}});
  L.record("sock", 0x300, {{"__sk_common", 0x0, struct_t("sock_common")},
                           {"sk_protocol", 0x1f0, u16},
                           {"sk_type", 0x1f2, u16},
                           {"sk_socket", 0x210, ptr_t(struct_t("socket"))}});
  L.record("socket", 0x80, {{"state", 0x0, i32},
                            {"type", 0x4, base_t("short int")},
                            {"flags", 0x8, ulong},
                            {"file", 0x18, ptr_t(struct_t("file"))},
                            {"sk", 0x28, ptr_t(struct_t("sock"))},
                            {"ops", 0x30, voidp}});
  L.record("socket_alloc", 0x180, {{"vfs_inode", 0x0, struct_t("inode")}, {"socket", 0x100, struct_t("socket")}});
  L.record("sockaddr_un", 110, {{"sun_family", 0x0, u16}, {"sun_path", 0x2, array_t(base_t("char"), 108)}});
  L.record("unix_address", 0x10, {{"refcnt", 0x0, u32},
                                  {"len", 0x4, i32},
                                  {"hash", 0x8, u32},
                                  {"name", 0xc, array_t(struct_t("sockaddr_un"), 0)}});
  L.record("unix_sock", 0x400, {{"sk", 0x0, struct_t("sock")},
                                {"addr", 0x320, ptr_t(struct_t("unix_address"))},
                                {"path", 0x330, struct_t("path")},
                                {"peer", 0x360, ptr_t(struct_t("sock"))}});
  L.record("netlink_sock", 0x400,
           {{"sk", 0x0, struct_t("sock")}, {"portid", 0x318, u32}, {"dst_portid", 0x31c, u32}, {"dst_group", 0x320, u32}});
  L.record("packet_sock", 0x600, {{"sk", 0x0, struct_t("sock")}, {"ifindex", 0x500, i32}, {"num", 0x504, u16}});
  json types = L.to_json_types();
  profile_["base_types"] = types["base_types"];
  profile_["user_types"] = types["user_types"];
  profile_["enums"] = types["enums"];
  auto symbol = [&](const char* name, uint64_t offset, const char* type) {
    profile_["symbols"][name] = {{"address", kLinkText + offset}, {"type", struct_t(type)}};
  };
  symbol("socket_file_ops", kSocketFileOpsOffset, "file_operations");
  symbol("pipefifo_fops", kPipeFileOpsOffset, "file_operations");

  // --- Kernel objects: the dentry operations that name pseudo files, and
  // the mounts the files live on.
  const uint64_t run_time = kLinkText + options_.virtual_shift;
  put_field(run_time + kSockfsDentryOpsOffset, "dentry_operations", "d_dname", symbol_address("sockfs_dname"));
  put_field(run_time + kAnonDentryOpsOffset, "dentry_operations", "d_dname", symbol_address("anon_inodefs_dname"));
  auto make_mount = [&](uint32_t dev, uint64_t magic) {
    FilesState::Mount m;
    m.sb = slab_alloc(L.record_size("super_block"));
    put_field(m.sb, "super_block", "s_dev", dev);
    put_field(m.sb, "super_block", "s_magic", magic);
    m.root = slab_alloc(L.record_size("dentry"));
    put_field(m.root, "dentry", "d_parent", m.root);
    put_field(m.root, "dentry", "d_name.len", 1);
    put_kernel(m.root + offset_of("dentry", "d_iname"), "/", 2);
    put_field(m.root, "dentry", "d_name.name", m.root + offset_of("dentry", "d_iname"));
    put_field(m.root, "dentry", "d_sb", m.sb);
    m.mount = slab_alloc(L.record_size("mount"));
    put_field(m.mount, "mount", "mnt_parent", m.mount);  // each is the root of its own mount tree
    put_field(m.mount, "mount", "mnt_mountpoint", m.root);
    put_field(m.mount, "mount", "mnt.mnt_root", m.root);
    put_field(m.mount, "mount", "mnt.mnt_sb", m.sb);
    return m;
  };
  F.root_fs = make_mount(mkdev(8, 2), kExt4Magic);
  F.sockfs = make_mount(mkdev(0, 8), kSockfsMagic);
  F.anonfs = make_mount(mkdev(0, 14), kAnonInodeMagic);
  F.dentries[""] = F.root_fs.root;

  auto new_inode = [&](uint64_t sb, uint32_t mode, uint64_t at = 0) {
    uint64_t inode = at ? at : slab_alloc(L.record_size("inode"));
    put_field(inode, "inode", "i_mode", mode);
    put_field(inode, "inode", "i_ino", F.next_inode++);
    put_field(inode, "inode", "i_sb", sb);
    return inode;
  };
  auto set_name = [&](uint64_t dentry, const std::string& name) {
    put_field(dentry, "dentry", "d_name.len", name.size());
    uint64_t at = dentry + offset_of("dentry", "d_iname");
    if (name.size() >= 32) at = slab_alloc(name.size() + 1);  // an external name
    put_kernel(at, name.c_str(), name.size() + 1);
    put_field(dentry, "dentry", "d_name.name", at);
  };
  // The dentry of `path` on root_fs (with its parents, made once).
  auto dentry_of = [&](const std::string& path, bool deleted) {
    uint64_t parent = F.root_fs.root;
    std::string so_far;
    for (size_t from = 1; from <= path.size();) {
      size_t slash = std::min(path.find('/', from), path.size());
      std::string name = path.substr(from, slash - from);
      from = slash + 1;
      so_far += "/" + name;
      auto it = F.dentries.find(so_far);
      if (it == F.dentries.end()) {
        uint64_t child = slab_alloc(L.record_size("dentry"));
        put_field(child, "dentry", "d_parent", parent);
        put_field(child, "dentry", "d_sb", F.root_fs.sb);
        set_name(child, name);
        bool last = from > path.size();
        // Hashed dentries have d_hash.pprev set; an unlinked file's is NULL.
        put_field(child, "dentry", "d_hash.pprev", last && deleted ? 0 : child + 0x8);
        it = F.dentries.emplace(so_far, child).first;
      }
      parent = it->second;
    }
    return parent;
  };
  // A dentry of a pseudo file system (d_alloc_pseudo): its own parent, not its mount's root.
  auto pseudo_dentry = [&](const FilesState::Mount& mount, uint64_t ops, const std::string& name, uint64_t inode) {
    uint64_t dentry = slab_alloc(L.record_size("dentry"));
    put_field(dentry, "dentry", "d_parent", dentry);
    put_field(dentry, "dentry", "d_sb", mount.sb);
    put_field(dentry, "dentry", "d_op", ops);
    put_field(dentry, "dentry", "d_inode", inode);
    set_name(dentry, name);
    return dentry;
  };
  auto new_file = [&](const FilesState::Mount& mount, uint64_t dentry, uint64_t inode, uint64_t f_op,
                      uint64_t private_data, uint32_t f_mode) {
    uint64_t file = slab_alloc(L.record_size("file"));
    put_field(file, "file", "f_path.mnt", mount.mount + offset_of("mount", "mnt"));
    put_field(file, "file", "f_path.dentry", dentry);
    put_field(file, "file", "f_inode", inode);
    put_field(file, "file", "f_op", f_op);
    put_field(file, "file", "private_data", private_data);
    put_field(file, "file", "f_mode", f_mode);
    put_field(file, "file", "f_flags", 02);  // O_RDWR
    return file;
  };
  auto read_u64 = [&](uint64_t vaddr) {
    uint64_t value = 0;
    space_->read(kernel_physical(vaddr), &value, 8);
    return value;
  };
  F.anon_inode = new_inode(F.anonfs.sb, 0600);  // anon_inode_inode: a mode without a file type

  // A bound unix address: sun_path with its NUL (or a leading NUL for the
  // abstract namespace, "@name"), len counting sun_family.
  auto unix_address = [&](const std::string& path) -> uint64_t {
    if (path.empty()) return 0;
    std::string bytes = path[0] == '@' ? std::string(1, '\0') + path.substr(1) : path + '\0';
    uint64_t address = slab_alloc(L.record_size("unix_address") + 110);
    put_field(address, "unix_address", "refcnt", 1);
    put_field(address, "unix_address", "len", 2 + bytes.size());
    uint64_t name = address + offset_of("unix_address", "name");
    put_field(name, "sockaddr_un", "sun_family", 1);
    put_kernel(name + offset_of("sockaddr_un", "sun_path"), bytes.data(), bytes.size());
    return address;
  };
  auto put_bytes_field = [&](uint64_t object, const char* type, const std::string& path, const void* bytes, size_t n) {
    put_kernel(object + offset_of(type, path), bytes, n);
  };
  auto build_socket = [&](const SyntheticSocket& s, uint64_t socket_address) -> uint64_t {
    const char* record = s.family == 1 ? "unix_sock" : s.family == 16 ? "netlink_sock" : s.family == 17 ? "packet_sock" : "sock";
    uint64_t sock = slab_alloc(L.record_size(record));
    put_field(sock, "sock", "__sk_common.skc_family", s.family);
    put_field(sock, "sock", "__sk_common.skc_state", s.state);
    put_field(sock, "sock", "sk_type", s.type);
    put_field(sock, "sock", "sk_protocol", s.protocol);
    put_field(sock, "sock", "sk_socket", socket_address);
    if (s.family == 2 || s.family == 10) {
      put_field(sock, "sock", "__sk_common.skc_num", s.local_port);
      put_field(sock, "sock", "__sk_common.skc_dport", htons(s.remote_port));
      if (s.family == 2) {
        in_addr local{}, remote{};
        if (::inet_pton(AF_INET, s.local_address.c_str(), &local) != 1 ||
            ::inet_pton(AF_INET, s.remote_address.c_str(), &remote) != 1)
          throw std::logic_error("SyntheticLinux: bad IPv4 address in a socket");
        put_bytes_field(sock, "sock", "__sk_common.skc_rcv_saddr", &local, 4);
        put_bytes_field(sock, "sock", "__sk_common.skc_daddr", &remote, 4);
      } else {
        in6_addr local{}, remote{};
        if (::inet_pton(AF_INET6, s.local_address.c_str(), &local) != 1 ||
            ::inet_pton(AF_INET6, s.remote_address.c_str(), &remote) != 1)
          throw std::logic_error("SyntheticLinux: bad IPv6 address in a socket");
        put_bytes_field(sock, "sock", "__sk_common.skc_v6_rcv_saddr", &local, 16);
        put_bytes_field(sock, "sock", "__sk_common.skc_v6_daddr", &remote, 16);
      }
    } else if (s.family == 1) {
      put_field(sock, "unix_sock", "addr", unix_address(s.local_address));
      if (!s.remote_address.empty()) {
        // The peer: another unix socket, bound to the remote path.
        uint64_t peer = slab_alloc(L.record_size("unix_sock"));
        put_field(peer, "sock", "__sk_common.skc_family", 1);
        put_field(peer, "sock", "__sk_common.skc_state", s.state);
        put_field(peer, "unix_sock", "addr", unix_address(s.remote_address));
        put_field(peer, "unix_sock", "peer", sock);
        put_field(sock, "unix_sock", "peer", peer);
      }
    } else if (s.family == 16) {
      put_field(sock, "netlink_sock", "portid", s.local_port);
      put_field(sock, "netlink_sock", "dst_portid", s.remote_port);
      put_field(sock, "netlink_sock", "dst_group", s.remote_group);
    } else if (s.family == 17) {
      put_field(sock, "packet_sock", "ifindex", s.local_port);
      put_field(sock, "packet_sock", "num", s.protocol);
    }
    return sock;
  };

  for (const SyntheticProcess& p : options_.processes) {
    if (!p.has_mm()) continue;  // kernel threads and zombies: no file table of their own
    std::vector<SyntheticFile> files = p.files.empty() ? default_files(p) : p.files;
    std::sort(files.begin(), files.end(), [](const SyntheticFile& a, const SyntheticFile& b) { return a.fd < b.fd; });
    for (SyntheticFile& f : files) {
      uint64_t file = 0;
      if (f.kind == "chr" || f.kind == "file" || f.kind == "dir") {
        uint32_t type = f.kind == "chr" ? kIfChr : f.kind == "dir" ? kIfDir : kIfReg;
        uint64_t dentry = dentry_of(f.path, f.deleted);
        auto [it, made] = F.inodes.try_emplace(dentry, 0);
        if (made) {
          it->second = new_inode(F.root_fs.sb, type | f.permissions);
          put_field(dentry, "dentry", "d_inode", it->second);
        }
        file = new_file(F.root_fs, dentry, it->second, run_time + kOtherFileOpsOffset, 0, kFmodeRead | kFmodeWrite);
        f.expected_path = f.path + (f.deleted ? " (deleted)" : "");
        f.expected_type = f.kind;
        f.expected_mode = mode_string(type | f.permissions);
        f.inode_number = read_u64(it->second + offset_of("inode", "i_ino"));
        if (f.kind == "file") F.file_paths[{p.pid, f.fd}] = f.path;
      } else if (f.kind == "pipe") {
        uint64_t number = 30000 + uint64_t(p.pid) * 10 + uint64_t(f.fd);
        file = build_pipe_file(number);
        uint64_t inode = read_u64(file + offset_of("file", "f_inode"));
        put_field(inode, "inode", "i_mode", kIfIfo | f.permissions);
        put_field(read_u64(inode + offset_of("inode", "i_sb")), "super_block", "s_magic", kPipefsMagic);
        put_field(file, "file", "f_op", run_time + kPipeFileOpsOffset);
        put_field(file, "file", "f_mode", kFmodeWrite);
        f.expected_path = "pipe:[" + std::to_string(number) + "]";
        f.expected_type = "pipe";
        f.expected_mode = mode_string(kIfIfo | f.permissions);
        f.inode_number = number;
      } else if (f.kind == "program") {
        const std::string program = "/usr/bin/" + p.comm;
        file = file_address(p.pid, program);
        uint64_t inode = read_u64(file + offset_of("file", "f_inode"));
        put_field(inode, "inode", "i_mode", kIfReg | f.permissions);
        put_field(file, "file", "f_op", run_time + kOtherFileOpsOffset);
        put_field(file, "file", "f_mode", kFmodeRead);
        f.expected_path = program;
        f.expected_type = "file";
        f.expected_mode = mode_string(kIfReg | f.permissions);
        f.inode_number = read_u64(inode + offset_of("inode", "i_ino"));
      } else if (f.kind == "anon_inode") {
        uint64_t dentry = pseudo_dentry(F.anonfs, run_time + kAnonDentryOpsOffset, f.path, F.anon_inode);
        file = new_file(F.anonfs, dentry, F.anon_inode, run_time + kOtherFileOpsOffset, 0, kFmodeRead | kFmodeWrite);
        f.expected_path = "anon_inode:" + f.path;
        f.expected_type = "anon_inode";
        f.expected_mode = mode_string(0600);
        f.inode_number = read_u64(F.anon_inode + offset_of("inode", "i_ino"));
      } else if (f.kind == "socket") {
        if (!f.socket) throw std::logic_error("SyntheticLinux: a socket descriptor without a SyntheticSocket");
        uint64_t alloc = slab_alloc(L.record_size("socket_alloc"));
        uint64_t inode = new_inode(F.sockfs.sb, kIfSock | f.permissions, alloc + offset_of("socket_alloc", "vfs_inode"));
        uint64_t socket = alloc + offset_of("socket_alloc", "socket");
        uint64_t dentry = pseudo_dentry(F.sockfs, run_time + kSockfsDentryOpsOffset, "", inode);
        file = new_file(F.sockfs, dentry, inode, symbol_address("socket_file_ops"), socket, kFmodeRead | kFmodeWrite);
        uint64_t sock = build_socket(*f.socket, socket);
        put_field(socket, "socket", "state", f.socket->state == 1 ? 3 : 1);  // SS_CONNECTED / SS_UNCONNECTED
        put_field(socket, "socket", "type", f.socket->type);
        put_field(socket, "socket", "file", file);
        put_field(socket, "socket", "sk", sock);
        f.inode_number = read_u64(inode + offset_of("inode", "i_ino"));
        f.expected_path = "socket:[" + std::to_string(f.inode_number) + "]";
        f.expected_type = "socket";
        f.expected_mode = mode_string(kIfSock | f.permissions);
      } else {
        throw std::logic_error("SyntheticLinux: unknown file kind " + f.kind);
      }
      F.struct_files[{p.pid, f.fd}] = file;
    }

    // The file table: the one files_struct embeds when every descriptor is
    // below 64, else one of its own with room for twice the highest.
    uint64_t files_struct = slab_alloc(L.record_size("files_struct"));
    put_field(files_struct, "files_struct", "count.counter", 1);
    const int highest = files.empty() ? 0 : files.back().fd;
    uint64_t fdtable = 0, fd_array = 0, open_fds = 0, max_fds = kEmbeddedFds;
    if (highest < int(kEmbeddedFds)) {
      fdtable = files_struct + offset_of("files_struct", "fdtab");
      fd_array = files_struct + offset_of("files_struct", "fd_array");
      open_fds = files_struct + offset_of("files_struct", "open_fds_init");
    } else {
      max_fds = (uint64_t(highest) + 64) / 64 * 64 * 2;
      fdtable = slab_alloc(L.record_size("fdtable"));
      fd_array = slab_alloc(8 * max_fds);
      open_fds = slab_alloc(max_fds / 8);
    }
    put_field(fdtable, "fdtable", "max_fds", max_fds);
    put_field(fdtable, "fdtable", "fd", fd_array);
    put_field(fdtable, "fdtable", "open_fds", open_fds);
    put_field(files_struct, "files_struct", "fdt", fdtable);
    std::vector<uint64_t> bitmap(max_fds / 64, 0);
    for (const SyntheticFile& f : files) {
      put_kernel_u64(fd_array + 8 * uint64_t(f.fd), F.struct_files.at({p.pid, f.fd}));
      bitmap[f.fd / 64] |= uint64_t{1} << (f.fd % 64);
    }
    put_kernel(open_fds, bitmap.data(), bitmap.size() * 8);
    // Every thread of the process shares the table (CLONE_FILES).
    put_field(task_address(p.pid), "task_struct", "files", files_struct);
    for (int tid : p.extra_threads) put_field(task_address(tid), "task_struct", "files", files_struct);
    F.files_structs[p.pid] = files_struct;
    F.fdtables[p.pid] = fdtable;
    F.files[p.pid] = std::move(files);
  }
}

}  // namespace memscope::test
