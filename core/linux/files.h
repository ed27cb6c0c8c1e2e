// A task's open files: `task->files` (struct files_struct), its current
// table `files->fdt` (struct fdtable: `max_fds`, the `fd` array of struct
// file pointers, the `open_fds` bitmap), and for each open descriptor what
// lsof shows: the path (d_path through dentry.h, or the name the kernel
// gives pseudo files: "pipe:[N]", "socket:[N]", "anon_inode:[eventpoll]"),
// the kind of file, the inode's mode and number.
//
// The kind comes from the inode's mode (S_IFMT), then from what the file
// is without one: the file's operations (`f_op` is `socket_file_ops` for a
// socket), the super block's magic number (pipefs, anon_inodefs, sockfs:
// include/uapi/linux/magic.h) and the name d_path gave.
//
// Bounded against a forged table: at most kMaxFds descriptors are looked
// at (a larger `max_fds` is warned about, naming the fdtable, and cut
// there), the bitmap is read page by page and a page that cannot be read
// ends the walk with a warning; a file that cannot be read costs its row
// only. Each problem is one warning naming the task and the address.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/linux/dentry.h"
#include "core/linux/kernel_view.h"
#include "core/linux/warnings.h"

namespace memscope::linux_kernel {

// What an open file is.
enum class FileKind { kRegular, kDirectory, kCharDevice, kBlockDevice, kFifo, kPipe, kSocket, kSymlink, kAnonInode, kUnknown };

// "file", "dir", "chr", "blk", "fifo", "pipe", "socket", "link",
// "anon_inode", "unknown": the `type` column of linux.lsof.
const char* file_kind_name(FileKind kind);

// The mode as `ls -l` prints it ("-rw-r--r--", "srwxrwxrwx", "prw-------";
// '?' for a mode without a file type, as anonymous inodes have).
std::string file_mode_string(uint32_t mode);

// File type bits of i_mode (include/uapi/linux/stat.h; ABI since Unix).
inline constexpr uint32_t kModeTypeMask = 0170000;
inline constexpr uint32_t kModeSocket = 0140000;
inline constexpr uint32_t kModeSymlink = 0120000;
inline constexpr uint32_t kModeRegular = 0100000;
inline constexpr uint32_t kModeBlock = 0060000;
inline constexpr uint32_t kModeDirectory = 0040000;
inline constexpr uint32_t kModeChar = 0020000;
inline constexpr uint32_t kModeFifo = 0010000;

// Super block magic numbers of the pseudo file systems (include/uapi/linux/magic.h).
inline constexpr uint64_t kPipefsMagic = 0x50495045;
inline constexpr uint64_t kSockfsMagic = 0x534F434B;
inline constexpr uint64_t kAnonInodeFsMagic = 0x09041934;

// One open file descriptor.
struct OpenFile {
  uint32_t fd = 0;
  uint64_t file = 0;  // struct file
  // Path, inode (address and number), device; the path is empty when it
  // could not be read (a warning says why).
  FileInfo info;
  std::optional<uint32_t> mode;  // the inode's i_mode
  uint64_t f_op = 0;             // struct file_operations *
  uint64_t private_data = 0;     // the socket of a socket, the pipe of a pipe, ...
  uint32_t f_mode = 0;           // FMODE_READ 0x1, FMODE_WRITE 0x2, ...
  uint32_t f_flags = 0;          // the open(2) flags
  uint64_t magic = 0;            // the super block's s_magic, 0 if unknown
  FileKind kind = FileKind::kUnknown;
};

struct FileWalkOptions {
  // Resolve paths (d_path): sockstat only needs the sockets.
  bool paths = true;
};

class FileReader {
 public:
  // Descriptors looked at, at most: the kernel's default fs.nr_open (NR_OPEN,
  // 1024 * 1024). A larger max_fds is possible only with a raised
  // fs.nr_open; it is warned about and cut here.
  static constexpr uint64_t kMaxFds = 1u << 20;

  // Resolves task_struct.files, files_struct.fdt, fdtable, file and inode
  // fields; throws ProfileError naming what is missing.
  explicit FileReader(const KernelView& kernel);

  // The open files of the task at `task`, by ascending descriptor. `owner`
  // names it in warnings (Task::label()). A task without files (exited, or
  // a kernel thread that dropped them) has none. Never throws for bad memory.
  std::vector<OpenFile> open_files(uint64_t task, const std::string& owner, Warnings& warnings,
                                   FileWalkOptions options = {}) const;

  // One struct file as descriptor `fd` (throws ReadError when the file
  // itself cannot be read; an unreadable path or inode is a warning).
  OpenFile read_file(uint64_t file, uint32_t fd, const std::string& owner, Warnings& warnings,
                     FileWalkOptions options = {}) const;

  const KernelView& kernel() const { return kernel_; }
  // Run-time address of socket_file_ops (0 if the profile lacks it).
  uint64_t socket_file_ops() const { return socket_file_ops_; }

 private:
  std::vector<uint32_t> open_descriptors(uint64_t fdtable, uint64_t open_fds, uint64_t max_fds,
                                         const std::string& owner, Warnings& warnings) const;

  const KernelView& kernel_;
  DentryReader dentries_;
  uint64_t task_files_ = 0;
  uint64_t files_fdt_ = 0;
  uint64_t fdt_max_fds_ = 0, fdt_fd_ = 0, fdt_open_fds_ = 0;
  uint64_t f_op_ = 0, f_inode_ = 0, f_mode_ = 0, f_flags_ = 0, private_data_ = 0;
  uint64_t i_mode_ = 0, i_mode_size_ = 0, i_sb_ = 0;
  std::optional<uint64_t> s_magic_;
  uint64_t socket_file_ops_ = 0;
};

}  // namespace memscope::linux_kernel
