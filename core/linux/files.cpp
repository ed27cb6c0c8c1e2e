#include "core/linux/files.h"

#include <algorithm>
#include <cstring>

#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {
namespace {

// Offset and size of a scalar member, or a ProfileError naming it.
std::pair<uint64_t, uint64_t> scalar(const Profile& profile, std::string_view type, std::string_view path) {
  FieldRef field = profile.field(type, path);
  uint64_t size = profile.type(field.type).size;
  if (size == 0 || size > 8) profile.fail(std::string(type) + "." + std::string(path) + " is not a scalar");
  return {field.offset, size};
}

bool starts_with(const std::string& text, std::string_view prefix) { return text.rfind(prefix, 0) == 0; }

FileKind classify(const OpenFile& file, uint64_t socket_file_ops) {
  if (socket_file_ops && file.f_op == socket_file_ops) return FileKind::kSocket;
  if (file.mode) {
    switch (*file.mode & kModeTypeMask) {
      case kModeSocket: return FileKind::kSocket;
      case kModeSymlink: return FileKind::kSymlink;
      case kModeRegular: return FileKind::kRegular;
      case kModeBlock: return FileKind::kBlockDevice;
      case kModeDirectory: return FileKind::kDirectory;
      case kModeChar: return FileKind::kCharDevice;
      case kModeFifo:
        // pipe(2) makes its inodes on pipefs; a FIFO lives on a real file system.
        return file.magic == kPipefsMagic || starts_with(file.info.path, "pipe:") ? FileKind::kPipe : FileKind::kFifo;
      default: break;
    }
  }
  // Anonymous inodes (eventfd, epoll, timerfd, signalfd, bpf objects...)
  // share one inode whose mode has no file type.
  if (file.magic == kAnonInodeFsMagic || starts_with(file.info.path, "anon_inode:")) return FileKind::kAnonInode;
  if (file.magic == kSockfsMagic) return FileKind::kSocket;
  return FileKind::kUnknown;
}

}  // namespace

const char* file_kind_name(FileKind kind) {
  switch (kind) {
    case FileKind::kRegular: return "file";
    case FileKind::kDirectory: return "dir";
    case FileKind::kCharDevice: return "chr";
    case FileKind::kBlockDevice: return "blk";
    case FileKind::kFifo: return "fifo";
    case FileKind::kPipe: return "pipe";
    case FileKind::kSocket: return "socket";
    case FileKind::kSymlink: return "link";
    case FileKind::kAnonInode: return "anon_inode";
    case FileKind::kUnknown: break;
  }
  return "unknown";
}

std::string file_mode_string(uint32_t mode) {
  char type = '?';
  switch (mode & kModeTypeMask) {
    case kModeSocket: type = 's'; break;
    case kModeSymlink: type = 'l'; break;
    case kModeRegular: type = '-'; break;
    case kModeBlock: type = 'b'; break;
    case kModeDirectory: type = 'd'; break;
    case kModeChar: type = 'c'; break;
    case kModeFifo: type = 'p'; break;
    default: break;
  }
  std::string out(1, type);
  const char* letters = "rwxrwxrwx";
  for (int bit = 8; bit >= 0; --bit) out += (mode >> bit & 1) ? letters[8 - bit] : '-';
  // setuid, setgid and sticky replace the execute letters, as ls shows them.
  if (mode & 04000) out[3] = out[3] == 'x' ? 's' : 'S';
  if (mode & 02000) out[6] = out[6] == 'x' ? 's' : 'S';
  if (mode & 01000) out[9] = out[9] == 'x' ? 't' : 'T';
  return out;
}

FileReader::FileReader(const KernelView& kernel) : kernel_(kernel), dentries_(kernel) {
  const Profile& profile = kernel.profile();
  task_files_ = profile.field("task_struct", "files").offset;
  files_fdt_ = profile.field("files_struct", "fdt").offset;
  fdt_max_fds_ = profile.field("fdtable", "max_fds").offset;
  fdt_fd_ = profile.field("fdtable", "fd").offset;
  fdt_open_fds_ = profile.field("fdtable", "open_fds").offset;
  f_op_ = profile.field("file", "f_op").offset;
  f_inode_ = profile.field("file", "f_inode").offset;
  f_mode_ = profile.field("file", "f_mode").offset;
  f_flags_ = profile.field("file", "f_flags").offset;
  private_data_ = profile.field("file", "private_data").offset;
  std::tie(i_mode_, i_mode_size_) = scalar(profile, "inode", "i_mode");
  i_sb_ = profile.field("inode", "i_sb").offset;
  if (profile.has_member("super_block", "s_magic")) s_magic_ = profile.field("super_block", "s_magic").offset;
  if (auto address = profile.symbol("socket_file_ops")) socket_file_ops_ = *address + kernel.virtual_shift();
}

std::vector<uint32_t> FileReader::open_descriptors(uint64_t fdtable, uint64_t open_fds, uint64_t max_fds,
                                                   const std::string& owner, Warnings& warnings) const {
  X86_64Paging& space = kernel_.kernel();
  std::vector<uint32_t> out;
  // The bitmap is an array of unsigned longs; read it a page at a time so
  // that a forged length costs what is really there.
  const uint64_t bytes = (max_fds + 63) / 64 * 8;
  std::vector<uint64_t> words(512);
  for (uint64_t done = 0; done < bytes;) {
    uint64_t at = open_fds + done;
    size_t take = static_cast<size_t>(std::min<uint64_t>(bytes - done, 4096 - (at & 4095)));
    take &= ~size_t{7};
    if (take == 0) take = 8;  // an unaligned bitmap: one word at a time
    IoResult io = space.read(at, words.data(), take);
    if (!io.ok()) {
      warnings.add("fdtable", owner + ": cannot read the open_fds bitmap of fdtable " + hex_address(fdtable) + ": " +
                                  io.fault->message() + "; descriptors from " + std::to_string(done * 8) +
                                  " on are not listed");
      break;
    }
    for (size_t w = 0; w < take / 8; ++w) {
      uint64_t word = words[w];
      while (word) {
        uint64_t fd = (done + w * 8) * 8 + static_cast<uint64_t>(__builtin_ctzll(word));
        word &= word - 1;
        if (fd < max_fds) out.push_back(static_cast<uint32_t>(fd));
      }
    }
    done += take;
  }
  return out;
}

std::vector<OpenFile> FileReader::open_files(uint64_t task, const std::string& owner, Warnings& warnings,
                                             FileWalkOptions options) const {
  X86_64Paging& space = kernel_.kernel();
  std::vector<OpenFile> out;
  uint64_t files = 0, fdtable = 0, fd_array = 0, open_fds = 0;
  uint32_t max_fds = 0;
  try {
    space.read_exact(task + task_files_, &files, 8);
    if (files == 0) return out;  // exited, or never had any
    space.read_exact(files + files_fdt_, &fdtable, 8);
    if (fdtable == 0) throw Error("files_struct " + hex_address(files) + " has no fdtable");
    space.read_exact(fdtable + fdt_max_fds_, &max_fds, sizeof max_fds);
    space.read_exact(fdtable + fdt_fd_, &fd_array, 8);
    space.read_exact(fdtable + fdt_open_fds_, &open_fds, 8);
  } catch (const Error& e) {
    warnings.add("files", owner + ": cannot read its file table: " + e.what());
    return out;
  }
  uint64_t limit = max_fds;
  if (limit > kMaxFds) {
    warnings.add("fdtable", owner + ": fdtable " + hex_address(fdtable) + " claims max_fds " + std::to_string(max_fds) +
                                ", more than fs.nr_open allows by default; only descriptors below " +
                                std::to_string(kMaxFds) + " are listed");
    limit = kMaxFds;
  }
  if (limit == 0) return out;
  if (fd_array == 0 || open_fds == 0) {
    warnings.add("fdtable", owner + ": fdtable " + hex_address(fdtable) + " has a NULL " +
                                (fd_array == 0 ? "fd array" : "open_fds bitmap"));
    return out;
  }
  for (uint32_t fd : open_descriptors(fdtable, open_fds, limit, owner, warnings)) {
    uint64_t file = 0;
    uint64_t slot = fd_array + uint64_t{fd} * 8;
    IoResult io = space.read(slot, &file, 8);
    if (!io.ok()) {
      warnings.add("fd", owner + ": cannot read descriptor " + std::to_string(fd) + " of fdtable " +
                             hex_address(fdtable) + ": " + io.fault->message());
      continue;
    }
    // Open in the bitmap but not installed yet (between get_unused_fd and
    // fd_install): no file to show.
    if (file == 0) continue;
    try {
      out.push_back(read_file(file, fd, owner, warnings, options));
    } catch (const Error& e) {
      warnings.add("fd", owner + ": fd " + std::to_string(fd) + ": cannot read struct file " + hex_address(file) +
                             ": " + e.what());
    }
  }
  return out;
}

OpenFile FileReader::read_file(uint64_t file, uint32_t fd, const std::string& owner, Warnings& warnings,
                               FileWalkOptions options) const {
  X86_64Paging& space = kernel_.kernel();
  OpenFile out;
  out.fd = fd;
  out.file = file;
  uint64_t inode = 0;
  space.read_exact(file + f_op_, &out.f_op, 8);
  space.read_exact(file + f_inode_, &inode, 8);
  space.read_exact(file + f_mode_, &out.f_mode, sizeof out.f_mode);
  space.read_exact(file + f_flags_, &out.f_flags, sizeof out.f_flags);
  space.read_exact(file + private_data_, &out.private_data, 8);
  const std::string what = owner + ": fd " + std::to_string(fd);
  if (options.paths) {
    out.info = dentries_.file(file, what, warnings);
  } else if (inode) {
    try {
      dentries_.read_inode(inode, out.info);
    } catch (const Error& e) {
      warnings.add("path", what + ": cannot read inode " + hex_address(inode) + ": " + e.what());
    }
  }
  if (inode) {
    ItemFailures failed;
    failed.attempt("i_mode", [&] {
      uint64_t mode = 0;
      space.read_exact(inode + i_mode_, &mode, i_mode_size_);
      out.mode = static_cast<uint32_t>(mode);
    });
    if (s_magic_) {
      failed.attempt("s_magic", [&] {
        uint64_t sb = 0;
        space.read_exact(inode + i_sb_, &sb, 8);
        if (sb) space.read_exact(sb + *s_magic_, &out.magic, 8);
      });
    }
    failed.report(warnings, "inode", what + " inode " + hex_address(inode));
  }
  out.kind = classify(out, socket_file_ops_);
  return out;
}

}  // namespace memscope::linux_kernel
