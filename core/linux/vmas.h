// A process's memory map: its `vm_area_struct`s in address order, each
// described as /proc/PID/maps shows it (fs/proc/task_mmu.c, show_map_vma):
// range, permissions, file offset, device, inode and name.
//
// Where the VMAs are found depends on the kernel, and the profile says
// which it is: the maple tree `mm->mm_mt` (6.1+, maple_tree.h), the rbtree
// `mm->mm_rb` (through `vm_rb`, before 6.1; walked by rbtree.h), or the `mm->mmap` list
// (through `vm_next`) when the profile has no rbtree.
//
// Names follow the kernel's order: a file's path (d_path, dentry.h); the
// name of a vm_special_mapping ([vdso], [vvar], [uprobes]: `vm_ops` is the
// kernel's special_mapping_vmops and `vm_private_data` the mapping, whose
// `name` is read); else, without those symbols, [vdso] at
// `mm->context.vdso` and [vvar] just below it; [heap] for the VMA that
// overlaps [start_brk, brk]; [stack] for the one holding `start_stack`;
// `[anon:NAME]` for an anonymous VMA named by prctl (`anon_name`, 5.17+).
//
// Bounded: at most `limit` VMAs (far more than vm.max_map_count allows a
// real process), every tree or list walk cycle-safe; a VMA that cannot be
// read, or whose range is impossible, is left out with one warning naming
// its address, the others are kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/linux/dentry.h"
#include "core/linux/kernel_view.h"
#include "core/linux/maple_tree.h"
#include "core/linux/warnings.h"

namespace memscope::linux_kernel {

// vm_flags bits (include/linux/mm.h; unchanged since 2.6).
inline constexpr uint64_t kVmRead = 0x1;
inline constexpr uint64_t kVmWrite = 0x2;
inline constexpr uint64_t kVmExec = 0x4;
inline constexpr uint64_t kVmShared = 0x8;
inline constexpr uint64_t kVmMayRead = 0x10;
inline constexpr uint64_t kVmMayWrite = 0x20;
inline constexpr uint64_t kVmMayExec = 0x40;
inline constexpr uint64_t kVmMayShare = 0x80;
inline constexpr uint64_t kVmGrowsDown = 0x100;
inline constexpr uint64_t kVmPfnMap = 0x400;
inline constexpr uint64_t kVmIo = 0x4000;
inline constexpr uint64_t kVmDontExpand = 0x40000;

// "r-xp", "rw-s": what /proc/PID/maps prints for these flags (the last
// letter is 's' for VM_MAYSHARE, as show_map_vma decides).
std::string vma_permissions(uint64_t flags);

// The size of a page (x86_64), for vm_pgoff.
inline constexpr uint64_t kVmaPageSize = 4096;

struct Vma {
  uint64_t address = 0;  // the vm_area_struct
  uint64_t start = 0, end = 0;  // [start, end)
  uint64_t flags = 0;           // vm_flags
  uint64_t pgoff = 0;           // vm_pgoff: the offset in the file, in pages
  uint64_t file = 0;            // struct file *, 0 for anonymous memory
  uint64_t vm_ops = 0;
  // What /proc/PID/maps shows after the inode: the file's path (with
  // " (deleted)"), "[heap]", "[stack]", "[vdso]", "[vvar]", "[anon:x]", or
  // "" for other anonymous memory.
  std::string name;
  // Set when the name comes from a vm_special_mapping (or the vdso
  // fallback): memory the kernel itself installed.
  bool special = false;
  std::optional<FileInfo> file_info;  // file-backed VMAs whose file could be read

  bool file_backed() const { return file != 0; }
  std::string permissions() const { return vma_permissions(flags); }
  // What /proc prints as the offset: vm_pgoff in bytes for a file, else 0.
  uint64_t file_offset() const { return file ? pgoff * kVmaPageSize : 0; }
};

struct VmaWalkOptions {
  // Real processes are capped by vm.max_map_count (65530 by default, raised
  // to a few million at most): more is a forgery or a loop.
  size_t limit = 4u << 20;
  // Resolve names (d_path, special mappings): plugins that only need ranges
  // and flags skip it.
  bool names = true;
};

class VmaReader {
 public:
  enum class Index { kMapleTree, kRbTree, kMmapList };

  // Resolves the fields once and decides the index; throws ProfileError
  // naming what is missing (vm_area_struct, an mm_struct without mm_mt,
  // mm_rb or mmap, ...).
  explicit VmaReader(const KernelView& kernel);

  Index index() const { return index_; }

  // The VMAs of the mm_struct at `mm`, in address order. `owner` names the
  // process in warnings (Task::label()). Never throws for bad memory.
  std::vector<Vma> vmas(uint64_t mm, const std::string& owner, Warnings& warnings, VmaWalkOptions options = {}) const;

 private:
  struct MmInfo;
  std::vector<uint64_t> from_maple_tree(uint64_t mm, const std::string& what, Warnings& warnings,
                                        const VmaWalkOptions& options,
                                        std::vector<std::pair<uint64_t, uint64_t>>& ranges) const;
  std::vector<uint64_t> from_rbtree(uint64_t mm, const std::string& what, Warnings& warnings,
                                    const VmaWalkOptions& options) const;
  std::vector<uint64_t> from_list(uint64_t mm, const std::string& what, Warnings& warnings,
                                  const VmaWalkOptions& options) const;
  void name_anonymous(Vma& vma, const MmInfo& mm, uint64_t private_data, uint64_t anon_name, const std::string& what,
                      Warnings& warnings) const;

  KernelView kernel_;
  Index index_ = Index::kMapleTree;
  std::optional<MapleTreeReader> maple_;
  std::optional<DentryReader> dentries_;
  uint64_t vma_size_ = 0;
  uint64_t vm_start_ = 0, vm_end_ = 0, vm_flags_ = 0, vm_pgoff_ = 0, vm_file_ = 0, vm_ops_ = 0;
  uint64_t vm_private_data_ = 0;
  std::optional<uint64_t> anon_name_;       // vm_area_struct.anon_name (5.17+)
  uint64_t anon_vma_name_name_ = 0;         // anon_vma_name.name
  std::optional<uint64_t> vm_next_;         // mmap list
  std::optional<uint64_t> vm_rb_;           // rbtree node in the VMA (rbtree.h walks the tree)
  TypeRef mm_rb_type_;
  // mm_struct
  uint64_t mm_index_ = 0;  // mm_mt, mm_rb or mmap
  std::optional<uint64_t> map_count_, start_brk_, brk_, start_stack_, context_vdso_;
  // vm_special_mapping.name and the vm_ops that mark special mappings
  // (run-time addresses; 0 when the profile lacks them).
  std::optional<uint64_t> special_name_;
  uint64_t special_mapping_vmops_ = 0, legacy_special_mapping_vmops_ = 0;
};

}  // namespace memscope::linux_kernel
