// d_path (fs/d_path.c): the path of a file as /proc shows it, rebuilt from
// a `struct path` (vfsmount + dentry) by walking `d_parent` up to the root
// of the dentry's mount, then on in the parent mount from the mount point
// (`struct mount`, which embeds the vfsmount as `mnt`: `mnt_parent`,
// `mnt_mountpoint`), until the mount that is its own parent (the root of
// the mount tree). Names come from `d_name` (a qstr whose `name` points to
// the inline `d_iname` or to an external buffer). A dentry that is unhashed
// and not a root has been unlinked: " (deleted)" follows the path, as the
// kernel writes it. Dentries that the kernel names itself through
// `d_op->d_dname` (pipes, sockets, anonymous inodes) are named the same way
// when the profile has the functions' symbols: "pipe:[INODE]",
// "socket:[INODE]", "anon_inode:NAME".
//
// Also the identity /proc/PID/maps and lsof print beside a path: the
// inode number (`i_ino`) and the device (`i_sb->s_dev`, split as the
// kernel's MAJOR()/MINOR() do: 12 bits of major above 20 of minor).
//
// A forged chain is bounded: depth (kMaxDepth components), name length
// (NAME_MAX), total length, and a (mount, dentry) pair met twice is a loop.
// Each gives one warning naming the address, and the path read so far,
// prefixed with "(incomplete)" so that it cannot be taken for a whole one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/linux/kernel_view.h"
#include "core/linux/warnings.h"

namespace memscope::linux_kernel {

// The kernel's dev_t split (include/linux/kdev_t.h: MINORBITS 20).
inline uint32_t dev_major(uint32_t dev) { return dev >> 20; }
inline uint32_t dev_minor(uint32_t dev) { return dev & 0xfffff; }
// new_encode_dev(): the 32-bit form user space sees in stat's st_dev.
inline uint32_t new_encode_dev(uint32_t dev) {
  uint32_t major = dev_major(dev), minor = dev_minor(dev);
  return (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
}

// What a file is, as /proc/PID/maps and lsof show it.
struct FileInfo {
  std::string path;  // d_path; "" when unreadable (with a warning)
  bool deleted = false;   // " (deleted)" is part of `path` then
  bool complete = true;   // false: `path` starts with "(incomplete)"
  uint64_t inode = 0;     // the struct inode (kernel address)
  uint64_t inode_number = 0;
  uint32_t major = 0, minor = 0;
};

class DentryReader {
 public:
  // Components followed at most: PATH_MAX (4096) allows at most 2048
  // ("/a" each); a longer chain is a loop the pair check missed or a forgery.
  static constexpr size_t kMaxDepth = 2048;
  // Mount points crossed at most.
  static constexpr size_t kMaxMounts = 1024;
  // NAME_MAX: a longer d_name.len is cut there, with a warning.
  static constexpr uint64_t kMaxNameLength = 255;
  // The longest path returned; /proc itself stops at a page.
  static constexpr size_t kMaxPathLength = 4096;

  // Resolves dentry, qstr, vfsmount, mount, inode, super_block fields;
  // throws ProfileError naming what is missing.
  explicit DentryReader(const KernelView& kernel);

  // The path of (vfsmount, dentry), `what` naming the owner in warnings
  // ("task 0x... (pid 98 bash): vma 0x400000"). The inode fields are left
  // zero (see file()).
  FileInfo path(uint64_t vfsmount, uint64_t dentry, const std::string& what, Warnings& warnings) const;
  // A `struct file`: its f_path, and inode number and device of f_inode.
  FileInfo file(uint64_t file, const std::string& what, Warnings& warnings) const;
  // Inode number and device of a `struct inode` (throws ReadError).
  void read_inode(uint64_t inode, FileInfo& out) const;

 private:
  // The name the kernel's d_dname would give `dentry`, or nullopt when it
  // has none we know (then the chain is walked).
  std::optional<std::string> dynamic_name(uint64_t dentry, uint64_t d_op) const;
  std::string read_name(uint64_t dentry, const std::string& what, Warnings& warnings) const;

  KernelView kernel_;
  uint64_t d_parent_ = 0, d_name_len_ = 0, d_name_len_size_ = 0, d_name_name_ = 0, d_hash_pprev_ = 0;
  uint64_t d_inode_ = 0, d_op_ = 0;
  std::optional<uint64_t> d_dname_;  // dentry_operations.d_dname
  uint64_t mnt_root_ = 0;
  uint64_t mount_mnt_ = 0, mnt_parent_ = 0, mnt_mountpoint_ = 0;
  uint64_t f_path_mnt_ = 0, f_path_dentry_ = 0;
  std::optional<uint64_t> f_inode_;
  uint64_t i_ino_ = 0, i_ino_size_ = 0, i_sb_ = 0, s_dev_ = 0;
  // Run-time addresses of the d_dname functions the profile names (0: absent).
  uint64_t pipefs_dname_ = 0, sockfs_dname_ = 0, anon_inodefs_dname_ = 0;
};

}  // namespace memscope::linux_kernel
