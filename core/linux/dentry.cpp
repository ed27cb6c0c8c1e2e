#include "core/linux/dentry.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {
namespace {

uint64_t load(const std::vector<uint8_t>& bytes, uint64_t offset, uint64_t size = 8) {
  uint64_t value = 0;
  std::memcpy(&value, bytes.data() + offset, std::min<uint64_t>(size, 8));  // little-endian host, as the kernel
  return value;
}

// Offset and size of a scalar member.
std::pair<uint64_t, uint64_t> scalar(const Profile& profile, std::string_view type, std::string_view path) {
  FieldRef field = profile.field(type, path);
  uint64_t size = profile.type(field.type).size;
  if (size == 0 || size > 8) profile.fail(std::string(type) + "." + std::string(path) + " is not a scalar");
  return {field.offset, size};
}

}  // namespace

DentryReader::DentryReader(const KernelView& kernel) : kernel_(kernel) {
  const Profile& profile = kernel.profile();
  d_parent_ = profile.field("dentry", "d_parent").offset;
  std::tie(d_name_len_, d_name_len_size_) = scalar(profile, "dentry", "d_name.len");
  d_name_name_ = profile.field("dentry", "d_name.name").offset;
  d_hash_pprev_ = profile.field("dentry", "d_hash.pprev").offset;
  d_inode_ = profile.field("dentry", "d_inode").offset;
  d_op_ = profile.field("dentry", "d_op").offset;
  if (profile.has_member("dentry_operations", "d_dname"))
    d_dname_ = profile.field("dentry_operations", "d_dname").offset;
  mnt_root_ = profile.field("vfsmount", "mnt_root").offset;
  mount_mnt_ = profile.field("mount", "mnt").offset;
  mnt_parent_ = profile.field("mount", "mnt_parent").offset;
  mnt_mountpoint_ = profile.field("mount", "mnt_mountpoint").offset;
  f_path_mnt_ = profile.field("file", "f_path.mnt").offset;
  f_path_dentry_ = profile.field("file", "f_path.dentry").offset;
  // f_inode is 3.9+; before, the inode is the dentry's.
  if (profile.has_member("file", "f_inode")) f_inode_ = profile.field("file", "f_inode").offset;
  std::tie(i_ino_, i_ino_size_) = scalar(profile, "inode", "i_ino");
  i_sb_ = profile.field("inode", "i_sb").offset;
  s_dev_ = profile.field("super_block", "s_dev").offset;
  auto function = [&](const char* name) -> uint64_t {
    auto address = profile.symbol(name);
    return address ? *address + kernel.virtual_shift() : 0;
  };
  pipefs_dname_ = function("pipefs_dname");
  sockfs_dname_ = function("sockfs_dname");
  anon_inodefs_dname_ = function("anon_inodefs_dname");
}

void DentryReader::read_inode(uint64_t inode, FileInfo& out) const {
  X86_64Paging& kernel = kernel_.kernel();
  uint64_t number = 0, sb = 0;
  uint32_t dev = 0;
  kernel.read_exact(inode + i_ino_, &number, i_ino_size_);
  kernel.read_exact(inode + i_sb_, &sb, 8);
  if (sb == 0) throw Error("inode " + hex_address(inode) + " has no super_block");
  kernel.read_exact(sb + s_dev_, &dev, sizeof dev);
  out.inode = inode;
  out.inode_number = number;
  out.major = dev_major(dev);
  out.minor = dev_minor(dev);
}

std::optional<std::string> DentryReader::dynamic_name(uint64_t dentry, uint64_t d_op) const {
  if (!d_dname_ || d_op == 0 || !(pipefs_dname_ || sockfs_dname_ || anon_inodefs_dname_)) return std::nullopt;
  X86_64Paging& kernel = kernel_.kernel();
  uint64_t function = 0;
  if (!kernel.read(d_op + *d_dname_, &function, 8).ok() || function == 0) return std::nullopt;
  if (function == pipefs_dname_ || function == sockfs_dname_) {
    uint64_t inode = 0;
    kernel.read_exact(dentry + d_inode_, &inode, 8);
    FileInfo info;
    read_inode(inode, info);
    return std::string(function == pipefs_dname_ ? "pipe:[" : "socket:[") + std::to_string(info.inode_number) + "]";
  }
  return std::nullopt;  // anon_inode: its name is the dentry's own (below)
}

FileInfo DentryReader::path(uint64_t vfsmount, uint64_t dentry, const std::string& what, Warnings& warnings) const {
  FileInfo out;
  X86_64Paging& kernel = kernel_.kernel();
  auto warn = [&](const std::string& message) { warnings.add("path", what + ": " + message); };
  if (vfsmount == 0 || dentry == 0) {
    warn("path has no " + std::string(vfsmount == 0 ? "vfsmount" : "dentry"));
    return out;
  }
  std::vector<uint8_t> bytes(std::max({d_parent_, d_name_len_, d_name_name_, d_hash_pprev_, d_op_}) + 8);
  std::vector<std::string> names;  // from the file up
  size_t length = 0;
  bool complete = true;
  uint64_t mount = vfsmount - mount_mnt_;
  std::set<std::pair<uint64_t, uint64_t>> seen;  // (mount, dentry)
  size_t mounts = 0;
  bool leaf = true;
  try {
    while (true) {
      if (!seen.insert({mount, dentry}).second) {
        warn("the dentry chain loops at dentry " + hex_address(dentry) + " (mount " + hex_address(mount) +
             "); path kept as far as read");
        complete = false;
        break;
      }
      if (names.size() >= kMaxDepth) {
        warn("more than " + std::to_string(kMaxDepth) + " path components above dentry " + hex_address(dentry) +
             "; path kept as far as read");
        complete = false;
        break;
      }
      kernel.read_exact(dentry, bytes.data(), bytes.size());
      uint64_t parent = load(bytes, d_parent_);
      uint64_t root = 0;
      kernel.read_exact(mount + mount_mnt_ + mnt_root_, &root, 8);
      if (leaf) {
        leaf = false;
        uint64_t d_op = load(bytes, d_op_);
        if (parent != dentry || dentry != root) {
          if (auto name = dynamic_name(dentry, d_op)) {
            out.path = *name;
            return out;
          }
          if (d_op && anon_inodefs_dname_ && d_dname_) {
            uint64_t function = 0;
            if (kernel.read(d_op + *d_dname_, &function, 8).ok() && function == anon_inodefs_dname_) {
              out.path = "anon_inode:" + read_name(dentry, what, warnings);
              return out;
            }
          }
        }
        // d_unlinked(): unhashed (d_hash.pprev NULL) and not a root.
        out.deleted = load(bytes, d_hash_pprev_) == 0 && parent != dentry;
      }
      if (dentry == root || parent == dentry) {
        // A root that is not its mount's root is a disconnected dentry:
        // the kernel's walk ends there too.
        if (dentry != root) break;
        uint64_t parent_mount = 0;
        kernel.read_exact(mount + mnt_parent_, &parent_mount, 8);
        if (parent_mount == mount || parent_mount == 0) break;  // the root of the mount tree
        if (++mounts > kMaxMounts) {
          warn("more than " + std::to_string(kMaxMounts) + " mounts crossed at mount " + hex_address(mount) +
               "; path kept as far as read");
          complete = false;
          break;
        }
        kernel.read_exact(mount + mnt_mountpoint_, &dentry, 8);
        mount = parent_mount;
        continue;
      }
      std::string name = read_name(dentry, what, warnings);
      length += name.size() + 1;
      if (length > kMaxPathLength) {
        warn("path longer than " + std::to_string(kMaxPathLength) + " bytes at dentry " + hex_address(dentry) +
             "; path kept as far as read");
        complete = false;
        break;
      }
      names.push_back(std::move(name));
      dentry = parent;
    }
  } catch (const Error& e) {
    warn(std::string("cannot follow the path: ") + e.what() + "; path kept as far as read");
    complete = false;
  }
  std::string path = complete ? "" : "(incomplete)";
  for (auto it = names.rbegin(); it != names.rend(); ++it) path += "/" + *it;
  if (names.empty()) path += "/";
  if (out.deleted) path += " (deleted)";
  out.path = std::move(path);
  out.complete = complete;
  return out;
}

std::string DentryReader::read_name(uint64_t dentry, const std::string& what, Warnings& warnings) const {
  X86_64Paging& kernel = kernel_.kernel();
  uint64_t length = 0, name = 0;
  kernel.read_exact(dentry + d_name_len_, &length, d_name_len_size_);
  kernel.read_exact(dentry + d_name_name_, &name, 8);
  if (name == 0) throw Error("dentry " + hex_address(dentry) + " has a NULL name");
  if (length > kMaxNameLength) {
    warnings.add("path", what + ": dentry " + hex_address(dentry) + " claims a name of " + std::to_string(length) +
                             " bytes; kept the first " + std::to_string(kMaxNameLength));
    length = kMaxNameLength;
  }
  std::string out(length, '\0');
  kernel.read_exact(name, out.data(), length);
  // A name ends at its first NUL, whatever its length says.
  out.resize(std::strlen(out.c_str()));
  return out;
}

FileInfo DentryReader::file(uint64_t file, const std::string& what, Warnings& warnings) const {
  X86_64Paging& kernel = kernel_.kernel();
  uint64_t mnt = 0, dentry = 0, inode = 0;
  try {
    kernel.read_exact(file + f_path_mnt_, &mnt, 8);
    kernel.read_exact(file + f_path_dentry_, &dentry, 8);
    if (f_inode_) kernel.read_exact(file + *f_inode_, &inode, 8);
    if (inode == 0 && dentry != 0) kernel.read_exact(dentry + d_inode_, &inode, 8);
  } catch (const Error& e) {
    warnings.add("path", what + ": cannot read struct file " + hex_address(file) + ": " + e.what());
    return {};
  }
  FileInfo out = path(mnt, dentry, what, warnings);
  if (inode == 0) return out;
  try {
    read_inode(inode, out);
  } catch (const Error& e) {
    warnings.add("path", what + ": cannot read inode " + hex_address(inode) + ": " + e.what());
  }
  return out;
}

}  // namespace memscope::linux_kernel
