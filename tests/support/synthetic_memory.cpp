// Memory maps for the synthetic kernel (SyntheticOptions::vmas): each user
// process's vm_area_structs indexed by a maple tree (6.1+), an rbtree with
// the mmap list beside it (before 6.1) or the list alone; the files they
// map (struct file, path, dentry chains with inline and external names,
// inodes, super blocks) on three mounts; vm_special_mappings for [vdso] and
// [vvar]; and the pages of the mappings that have contents, among them
// small ELF images with build-id notes.
//
// As in synthetic_linux.cpp, every offset is deliberately unlike a real
// kernel's (struct path keeps `dentry` before `mnt`, rb_node has rb_right
// first), maple nodes have 8 leaf slots and 6 internal ones (real: 16 and
// 10) so that a few VMAs make a tree of three levels, and enum maple_type
// has other values than the kernel's: a walker that assumes any of them
// fails here.
#include <elf.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <stdexcept>

#include "core/util/hex.h"
#include "core/util/sha256.h"
#include "support/synthetic_layout.h"

namespace memscope::test {
namespace {

using namespace synthetic;

constexpr uint64_t kPage = 4096;

// Kernel-image offsets (from _text) of what this file adds, clear of
// synthetic_linux.cpp's objects.
constexpr uint64_t kMemoryDataOffset = 0x4a0000;
constexpr uint64_t kSpecialVmopsOffset = kMemoryDataOffset;             // vm_operations_struct
constexpr uint64_t kLegacySpecialVmopsOffset = kMemoryDataOffset + 0x100;
constexpr uint64_t kOtherVmopsOffset = kMemoryDataOffset + 0x200;       // file mappings' vm_ops
constexpr uint64_t kPipefsDentryOpsOffset = kMemoryDataOffset + 0x300;  // dentry_operations
constexpr uint64_t kFunctionsOffset = 0x1a0000;                         // "functions" in the text

// vm_flags (include/linux/mm.h).
constexpr uint64_t kRead = 0x1, kWrite = 0x2, kExec = 0x4, kShared = 0x8;
constexpr uint64_t kMayRead = 0x10, kMayWrite = 0x20, kMayExec = 0x40, kMayShare = 0x80;
constexpr uint64_t kGrowsDown = 0x100, kPfnMap = 0x400, kIo = 0x4000, kDontExpand = 0x40000;

// Maple nodes: fewer slots than the kernel's, enum values of our own.
constexpr unsigned kLeafSlots = 8, kLeafPivots = 7, kArangeSlots = 6, kArangePivots = 5, kDenseSlots = 31;
constexpr int64_t kMapleDense = 4, kMapleLeaf = 5, kMapleRange = 6, kMapleArange = 7;
constexpr uint64_t kMapleNodeSize = 0x100;

// Devices, as the kernel keeps them (MKDEV: major << 20 | minor).
constexpr uint32_t mkdev(uint32_t major, uint32_t minor) { return major << 20 | minor; }

struct MountSpec {
  const char* point;
  uint32_t dev;
};
// The root file system, a second disk with a major and a minor above 255,
// and a tmpfs.
const MountSpec kMounts[] = {{"/", mkdev(8, 1)}, {"/mnt/data", mkdev(259, 300)}, {"/dev/shm", mkdev(0, 25)}};

const char* kLibraryPath = "/mnt/data/lib/libsynthetic.so.1";
const char* kDeletedPath = "/tmp/.cache/payload-with-a-name-longer-than-32-chars.bin";
const char* kSharedPath = "/dev/shm/segment";

// ELF file layout of the images the builder maps (see make_elf).
constexpr uint64_t kElfTextOffset = 0x1000, kElfTextSize = 0x2000;
constexpr uint64_t kElfDataOffset = 0x3000, kElfDataFileSize = 0x800, kElfDataMemSize = 0x1800;
constexpr uint64_t kElfNoteOffset = 0x200;
constexpr uint64_t kElfFileSize = kElfDataOffset + kElfDataFileSize;  // where the section headers would start

std::string build_id_bytes(const std::string& path) {
  Sha256Digest digest = Sha256::of(path.data(), path.size());
  return std::string(reinterpret_cast<const char*>(digest.data()), 20);
}

// A small ELF image: header, program headers (three PT_LOADs and a
// PT_NOTE holding a GNU build-id), text and data, and section header
// fields that point past what is loaded (as in real files).
std::string make_elf(const std::string& path, bool shared_object, uint64_t base) {
  std::string file(kElfFileSize, '\0');
  const uint64_t vbase = shared_object ? 0 : base;
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = shared_object ? ET_DYN : ET_EXEC;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_entry = vbase + kElfTextOffset;
  eh.e_phoff = sizeof(Elf64_Ehdr);
  eh.e_shoff = kElfFileSize;
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = 4;
  eh.e_shentsize = sizeof(Elf64_Shdr);
  eh.e_shnum = 5;
  eh.e_shstrndx = 4;
  std::memcpy(file.data(), &eh, sizeof eh);
  auto phdr = [&](int index, uint32_t type, uint32_t flags, uint64_t offset, uint64_t filesz, uint64_t memsz) {
    Elf64_Phdr ph{};
    ph.p_type = type;
    ph.p_flags = flags;
    ph.p_offset = offset;
    ph.p_vaddr = ph.p_paddr = vbase + offset;
    ph.p_filesz = filesz;
    ph.p_memsz = memsz;
    ph.p_align = type == PT_LOAD ? kPage : 4;
    std::memcpy(file.data() + sizeof(Elf64_Ehdr) + index * sizeof(Elf64_Phdr), &ph, sizeof ph);
  };
  const std::string id = build_id_bytes(path);
  const uint64_t note_size = sizeof(Elf64_Nhdr) + 4 + id.size();
  phdr(0, PT_LOAD, PF_R, 0, kElfTextOffset, kElfTextOffset);
  phdr(1, PT_LOAD, PF_R | PF_X, kElfTextOffset, kElfTextSize, kElfTextSize);
  phdr(2, PT_LOAD, PF_R | PF_W, kElfDataOffset, kElfDataFileSize, kElfDataMemSize);
  phdr(3, PT_NOTE, PF_R, kElfNoteOffset, note_size, note_size);
  Elf64_Nhdr nh{4, static_cast<Elf64_Word>(id.size()), NT_GNU_BUILD_ID};
  std::memcpy(file.data() + kElfNoteOffset, &nh, sizeof nh);
  std::memcpy(file.data() + kElfNoteOffset + sizeof nh, "GNU", 4);
  std::memcpy(file.data() + kElfNoteOffset + sizeof nh + 4, id.data(), id.size());
  // Text: some bytes on each of its two pages.
  for (uint64_t i = 0; i < kElfTextSize; i += 0x40) file[kElfTextOffset + i] = char(0x90 + (i / 0x40) % 8);
  file[kElfTextOffset + 1] = char(0xc3);
  // Data.
  const std::string data = "synthetic data of " + path;
  std::memcpy(file.data() + kElfDataOffset + 0x400, data.data(), data.size());
  return file;
}

// The VMAs that map an ELF image at `base`, then its bss. The second text
// page is left out of memory (not present), as an untouched page would be.
void map_elf(std::vector<SyntheticMapping>& out, const std::string& path, uint64_t base, const std::string& file,
             const std::string& data_page) {
  auto add = [&](uint64_t offset, uint64_t size, uint64_t flags, std::string contents) {
    SyntheticMapping m;
    m.start = base + offset;
    m.end = m.start + size;
    m.flags = flags | kMayRead | kMayWrite | kMayExec;
    m.pgoff = offset / kPage;
    m.path = path;
    m.contents = std::move(contents);
    out.push_back(m);
  };
  add(0, kElfTextOffset, kRead, file.substr(0, kElfTextOffset));
  add(kElfTextOffset, kElfTextSize, kRead | kExec, file.substr(kElfTextOffset, kPage));
  add(kElfDataOffset, kPage, kRead | kWrite, data_page);
  SyntheticMapping bss;
  bss.start = base + kElfDataOffset + kPage;
  bss.end = bss.start + kPage;
  bss.flags = kRead | kWrite | kMayRead | kMayWrite;
  out.push_back(bss);
}

}  // namespace

struct SyntheticLinux::MemoryState {
  struct Mount {
    std::string point;
    uint64_t address = 0;  // struct mount
    uint64_t root = 0;     // its root dentry
    uint64_t sb = 0;
  };
  std::vector<Mount> mounts;
  std::map<std::string, uint64_t> dentries;  // "<mount point>|<path on it>" -> dentry
  std::map<std::string, uint64_t> by_path;   // absolute path -> dentry (on the mount the path names)
  std::map<std::string, uint64_t> inodes;    // absolute path -> inode
  std::map<std::pair<int, std::string>, uint64_t> files;
  std::map<int, std::vector<SyntheticMapping>> maps;
  std::map<std::pair<int, uint64_t>, uint64_t> vmas;  // (pid, start) -> vm_area_struct
  std::map<int, std::vector<uint64_t>> vma_order;     // pid -> vm_area_structs by address
  std::map<uint64_t, std::vector<uint64_t>> trees;    // maple_tree -> nodes, root first
  std::map<uint64_t, int64_t> node_types;
  std::map<std::string, std::string> loaded_elves;    // path -> what memory holds of it
  std::map<std::string, uint64_t> special_mappings;   // name -> vm_special_mapping
  uint64_t next_inode = 1000;
  uint64_t pipe_mount = 0;
};

// --- Profile -------------------------------------------------------------------

json SyntheticLinux::memory_mm_fields() {
  json out = json::array();
  if (options_.vmas == VmaIndexKind::kNone) return out;
  Layout& L = *layout_;
  const json u32 = base_t("unsigned int"), voidp = ptr_t(base_t("void"));
  L.record("mm_context_t", 0x40, {{"ctx_id", 0x0, base_t("long long unsigned int")}, {"vdso", 0x18, voidp}});
  L.record("maple_tree", 0x18, {{"ma_flags", 0x0, u32}, {"ma_root", 0x8, voidp}, {"ma_lock", 0x10, u32}});
  L.record("rb_root", 0x8, {{"rb_node", 0x0, ptr_t(struct_t("rb_node"))}});
  auto field = [&](const char* name, uint64_t offset, json type) {
    out.push_back({{"name", name}, {"offset", offset}, {"type", std::move(type)}});
  };
  field("start_brk", 0x190, base_t("long unsigned int"));
  field("brk", 0x198, base_t("long unsigned int"));
  field("context", 0x1a0, struct_t("mm_context_t"));
  switch (options_.vmas) {
    case VmaIndexKind::kMapleTree: field("mm_mt", 0x1e0, struct_t("maple_tree")); break;
    case VmaIndexKind::kRbTree:
      field("mm_rb", 0x1e0, struct_t("rb_root"));
      field("mmap", 0x1e8, ptr_t(struct_t("vm_area_struct")));
      break;
    case VmaIndexKind::kMmapList: field("mmap", 0x1e8, ptr_t(struct_t("vm_area_struct"))); break;
    case VmaIndexKind::kNone: break;
  }
  return out;
}

void SyntheticLinux::add_memory_types() {
  if (options_.vmas == VmaIndexKind::kNone) return;
  Layout& L = *layout_;
  const json u8 = base_t("unsigned char"), u32 = base_t("unsigned int"), ulong = base_t("long unsigned int");
  const json voidp = ptr_t(base_t("void"));

  // Maple tree nodes (8 leaf slots, 6 internal: the walker reads the counts).
  L.record("maple_metadata", 2, {{"end", 0, u8}, {"gap", 1, u8}});
  L.record("maple_range_64", kMapleNodeSize,
           {{"parent", 0x0, voidp},
            {"slot", 0x8, array_t(voidp, kLeafSlots)},
            {"meta", 0x8 + 8 * (kLeafSlots - 1), struct_t("maple_metadata")},  // in the last slot, as the kernel's
            {"pivot", 0x8 + 8 * kLeafSlots, array_t(ulong, kLeafPivots)}});
  L.record("maple_arange_64", kMapleNodeSize,
           {{"parent", 0x0, voidp},
            {"pivot", 0x8, array_t(ulong, kArangePivots)},
            {"slot", 0x8 + 8 * kArangePivots, array_t(voidp, kArangeSlots)},
            {"gap", 0x8 + 8 * (kArangePivots + kArangeSlots), array_t(ulong, kArangeSlots)},
            {"meta", 0x8 + 8 * (kArangePivots + 2 * kArangeSlots), struct_t("maple_metadata")}});
  L.record("maple_node", kMapleNodeSize, {{"parent", 0x0, voidp}, {"slot", 0x8, array_t(voidp, kDenseSlots)}});
  L.enumeration("maple_type", {{"maple_dense", kMapleDense},
                               {"maple_leaf_64", kMapleLeaf},
                               {"maple_range_64", kMapleRange},
                               {"maple_arange_64", kMapleArange}});

  L.record("rb_node", 0x18, {{"rb_right", 0x0, ptr_t(struct_t("rb_node"))},
                             {"rb_left", 0x8, ptr_t(struct_t("rb_node"))},
                             {"__rb_parent_color", 0x10, ulong}});

  // vm_flags inside an anonymous union, as in 6.3+.
  L.record("unnamed_vm_flags_4d2a", 0x8, {{"vm_flags", 0x0, ulong}, {"__vm_flags", 0x0, ulong}});
  std::vector<Layout::Field> vma = {{"vm_mm", 0x0, ptr_t(struct_t("mm_struct"))},
                                    {"unnamed_field_0", 0x8, struct_t("unnamed_vm_flags_4d2a"), true},
                                    {"vm_start", 0x18, ulong},
                                    {"vm_end", 0x20, ulong},
                                    {"vm_pgoff", 0x30, ulong},
                                    {"vm_file", 0x38, ptr_t(struct_t("file"))},
                                    {"vm_ops", 0x48, ptr_t(struct_t("vm_operations_struct"))},
                                    {"vm_private_data", 0x50, voidp},
                                    {"anon_name", 0x58, ptr_t(struct_t("anon_vma_name"))}};
  if (options_.vmas == VmaIndexKind::kRbTree || options_.vmas == VmaIndexKind::kMmapList) {
    vma.push_back({"vm_next", 0x60, ptr_t(struct_t("vm_area_struct"))});
    vma.push_back({"vm_prev", 0x68, ptr_t(struct_t("vm_area_struct"))});
  }
  if (options_.vmas == VmaIndexKind::kRbTree) vma.push_back({"vm_rb", 0x70, struct_t("rb_node")});
  L.record("vm_area_struct", 0xa0, vma);
  L.record("anon_vma_name", 0x8, {{"kref", 0x0, u32}, {"name", 0x8, array_t(base_t("char"), 0)}});
  L.record("vm_special_mapping", 0x20, {{"pages", 0x0, voidp}, {"name", 0x10, ptr_t(base_t("char"))}});
  L.record("vm_operations_struct", 0x80, {{"close", 0x0, voidp}, {"name", 0x60, voidp}});

  // Files and paths.
  L.record("unnamed_qstr_7b01", 0x8, {{"hash", 0x0, u32}, {"len", 0x4, u32}});
  L.record("qstr", 0x10, {{"unnamed_field_0", 0x0, struct_t("unnamed_qstr_7b01"), true},
                          {"name", 0x8, ptr_t(base_t("unsigned char"))}});
  L.record("hlist_bl_node", 0x10, {{"next", 0x0, voidp}, {"pprev", 0x8, voidp}});
  L.record("dentry_operations", 0x80, {{"d_revalidate", 0x0, voidp}, {"d_dname", 0x48, voidp}});
  L.record("dentry", 0xc0, {{"d_flags", 0x0, u32},
                            {"d_hash", 0x8, struct_t("hlist_bl_node")},
                            {"d_name", 0x18, struct_t("qstr")},
                            {"d_inode", 0x28, ptr_t(struct_t("inode"))},
                            {"d_parent", 0x30, ptr_t(struct_t("dentry"))},
                            {"d_iname", 0x38, array_t(u8, 32)},
                            {"d_op", 0x58, ptr_t(struct_t("dentry_operations"))},
                            {"d_sb", 0x60, ptr_t(struct_t("super_block"))}});
  L.record("super_block", 0x100, {{"s_blocksize", 0x0, ulong}, {"s_dev", 0x10, u32}});
  L.record("inode", 0x100, {{"i_mode", 0x0, u32}, {"i_sb", 0x28, ptr_t(struct_t("super_block"))}, {"i_ino", 0x40, ulong}});
  L.record("vfsmount", 0x20, {{"mnt_root", 0x0, ptr_t(struct_t("dentry"))},
                              {"mnt_sb", 0x8, ptr_t(struct_t("super_block"))},
                              {"mnt_flags", 0x10, base_t("int")}});
  L.record("mount", 0x80, {{"mnt_parent", 0x8, ptr_t(struct_t("mount"))},
                           {"mnt_mountpoint", 0x20, ptr_t(struct_t("dentry"))},
                           {"mnt", 0x30, struct_t("vfsmount")}});
  L.record("path", 0x10, {{"dentry", 0x0, ptr_t(struct_t("dentry"))}, {"mnt", 0x8, ptr_t(struct_t("vfsmount"))}});
  L.record("file", 0x100, {{"f_inode", 0x10, ptr_t(struct_t("inode"))}, {"f_path", 0x20, struct_t("path")},
                           {"f_mode", 0x40, u32}});
}

void SyntheticLinux::add_memory_symbols(json& symbols) const {
  if (options_.vmas == VmaIndexKind::kNone) return;
  auto sym = [&](const char* name, uint64_t offset, json type = json()) {
    json s = {{"address", kLinkText + offset}};
    if (!type.is_null()) s["type"] = std::move(type);
    symbols[name] = std::move(s);
  };
  if (options_.special_mapping_symbols) {
    sym("special_mapping_vmops", kSpecialVmopsOffset, struct_t("vm_operations_struct"));
    sym("legacy_special_mapping_vmops", kLegacySpecialVmopsOffset, struct_t("vm_operations_struct"));
    sym("special_mapping_name", kFunctionsOffset);
  }
  sym("pipefs_dname", kFunctionsOffset + 0x40);
  sym("sockfs_dname", kFunctionsOffset + 0x80);
  sym("anon_inodefs_dname", kFunctionsOffset + 0xc0);
}

// --- Maple trees -----------------------------------------------------------------

uint64_t SyntheticLinux::maple_enode(uint64_t node) const {
  return node | static_cast<uint64_t>(memory_->node_types.at(node)) << 3 | 0x4;
}

uint64_t SyntheticLinux::maple_slot_address(uint64_t node, unsigned index) const {
  int64_t type = memory_->node_types.at(node);
  const char* record = type == kMapleArange ? "maple_arange_64" : "maple_range_64";
  return node + layout_->resolve(record, "slot").offset + 8 * index;
}

std::vector<uint64_t> SyntheticLinux::maple_nodes(uint64_t tree) const { return memory_->trees.at(tree); }

uint64_t SyntheticLinux::build_maple_tree(const std::vector<MapleRange>& ranges) {
  if (options_.vmas != VmaIndexKind::kMapleTree)
    throw std::logic_error("SyntheticLinux: maple trees need SyntheticOptions::vmas = kMapleTree");
  if (!memory_) memory_ = std::make_shared<MemoryState>();
  uint64_t tree = slab_alloc(layout_->record_size("maple_tree"));
  // The entries with the gaps between them: a maple tree covers every index.
  std::vector<MapleRange> all;
  uint64_t next = 0;
  for (const MapleRange& r : ranges) {
    if (r.first < next || r.last < r.first) throw std::logic_error("SyntheticLinux: maple ranges out of order");
    if (r.first > next) all.push_back({next, r.first - 1, 0});
    all.push_back(r);
    next = r.last + 1;
    if (next == 0) break;  // covered up to the last index
  }
  if (all.empty() || all.back().last != UINT64_MAX) all.push_back({next, UINT64_MAX, 0});

  struct Built {
    uint64_t node, min, max;
  };
  std::vector<std::vector<Built>> levels;
  auto new_node = [&](int64_t type) {
    uint64_t at = slab_alloc(kMapleNodeSize + kMapleNodeSize - 1);
    at = (at + kMapleNodeSize - 1) & ~(kMapleNodeSize - 1);
    memory_->node_types[at] = type;
    return at;
  };
  // A node of `count` slots: pivots for all but a last slot past the pivots,
  // the last used slot in the metadata when there is room for it (always in
  // an arange node, whose metadata has its own place; in a range node it
  // shares the last slot).
  auto fill = [&](uint64_t node, const char* record, unsigned slots, unsigned pivots, size_t count,
                  const std::function<uint64_t(size_t)>& slot, const std::function<uint64_t(size_t)>& last) {
    const uint64_t slot_off = layout_->resolve(record, "slot").offset;
    const uint64_t pivot_off = layout_->resolve(record, "pivot").offset;
    for (size_t i = 0; i < count; ++i) {
      put_kernel_u64(node + slot_off + 8 * i, slot(i));
      if (i < pivots) put_kernel_u64(node + pivot_off + 8 * i, last(i));
    }
    if (count < slots || std::string(record) == "maple_arange_64") put_field(node, record, "meta.end", count - 1);
  };
  std::vector<Built> leaves;
  for (size_t i = 0; i < all.size(); i += kLeafSlots) {
    size_t count = std::min<size_t>(kLeafSlots, all.size() - i);
    uint64_t node = new_node(kMapleLeaf);
    fill(node, "maple_range_64", kLeafSlots, kLeafPivots, count, [&](size_t k) { return all[i + k].value; },
         [&](size_t k) { return all[i + k].last; });
    leaves.push_back({node, all[i].first, all[i + count - 1].last});
  }
  levels.push_back(leaves);
  while (levels.back().size() > 1) {
    const std::vector<Built>& below = levels.back();
    std::vector<Built> level;
    for (size_t i = 0; i < below.size(); i += kArangeSlots) {
      size_t count = std::min<size_t>(kArangeSlots, below.size() - i);
      uint64_t node = new_node(kMapleArange);
      fill(node, "maple_arange_64", kArangeSlots, kArangePivots, count,
           [&](size_t k) { return maple_enode(below[i + k].node); }, [&](size_t k) { return below[i + k].max; });
      for (size_t k = 0; k < count; ++k) put_field(below[i + k].node, "maple_range_64", "parent", node | (k << 3));
      level.push_back({node, below[i].min, below[i + count - 1].max});
    }
    levels.push_back(std::move(level));
  }
  uint64_t root = levels.back().front().node;
  put_field(root, "maple_range_64", "parent", tree | 1);  // MA_ROOT_PARENT
  put_field(tree, "maple_tree", "ma_root", maple_enode(root) | 0x2);  // MAPLE_ROOT_NODE
  put_field(tree, "maple_tree", "ma_flags", 1 | levels.size() << 2);  // MT_FLAGS_ALLOC_RANGE, height
  std::vector<uint64_t>& nodes = memory_->trees[tree];
  for (auto level = levels.rbegin(); level != levels.rend(); ++level)
    for (const Built& b : *level) nodes.push_back(b.node);
  return tree;
}

// --- Mounts, dentries, files -------------------------------------------------------

namespace {

// The mount point a path lies under: the longest that prefixes it.
size_t mount_of(const std::string& path) {
  size_t best = 0, best_length = 0;
  for (size_t i = 0; i < std::size(kMounts); ++i) {
    std::string point = kMounts[i].point;
    bool under = point == "/" || path == point || path.rfind(point + "/", 0) == 0;
    if (under && point.size() >= best_length) best = i, best_length = point.size();
  }
  return best;
}

}  // namespace

uint64_t SyntheticLinux::dentry_address(const std::string& path) const { return memory_->by_path.at(path); }

void SyntheticLinux::set_dentry_parent(const std::string& path, const std::string& parent) {
  put_field(dentry_address(path), "dentry", "d_parent", dentry_address(parent));
}

uint64_t SyntheticLinux::file_address(int pid, const std::string& path) const { return memory_->files.at({pid, path}); }

std::vector<SyntheticMapping> SyntheticLinux::default_maps(const SyntheticProcess& p) const {
  std::vector<SyntheticMapping> out;
  const std::string program = "/usr/bin/" + p.comm;
  std::string elf = make_elf(program, false, kProgramBase);
  std::string data = elf.substr(kElfDataOffset, kElfDataFileSize);
  data.resize(kPage, '\0');
  const std::string marker = user_string(p.pid);
  std::memcpy(data.data() + (kUserStringOffset - kElfDataOffset), marker.data(), marker.size());
  map_elf(out, program, kProgramBase, elf, data);

  auto anonymous = [&](uint64_t start, uint64_t size, uint64_t flags, std::string name = {}) -> SyntheticMapping& {
    SyntheticMapping m;
    m.start = start;
    m.end = start + size;
    m.flags = flags;
    m.expected_name = std::move(name);
    out.push_back(m);
    return out.back();
  };
  anonymous(0x2000000, 0x21000, kRead | kWrite | kMayRead | kMayWrite, "[heap]");
  if (p.pid == 202) {
    std::string rwx = kRwxMarker;
    rwx.resize(0x100, '\0');
    rwx += std::string("\x90\x90\x90\x90\xb8\x37\x13\x00\x00\xcc\xc3", 11);
    anonymous(kRwxAddress, 0x2000, kRead | kWrite | kExec | kMayRead | kMayWrite | kMayExec).contents = rwx;
    anonymous(0x7f3e00000000, 0x1000, kRead | kExec | kMayRead | kMayExec).contents =
        std::string("\x55\x48\x89\xe5\x31\xc0\x5d\xc3", 8);  // push rbp; mov rbp,rsp; xor eax,eax; pop rbp; ret
  }
  const std::string library = make_elf(kLibraryPath, true, 0);
  std::string library_data = library.substr(kElfDataOffset, kElfDataFileSize);
  library_data.resize(kPage, '\0');
  map_elf(out, kLibraryPath, 0x7f3a00000000, library, library_data);
  if (p.pid == 201) {
    SyntheticMapping deleted;
    deleted.start = 0x7f3d00000000;
    deleted.end = deleted.start + kPage;
    deleted.flags = kRead | kExec | kMayRead | kMayExec;
    deleted.path = kDeletedPath;
    deleted.deleted = true;
    deleted.contents = "\xcc\xcc\xcc\xc3";
    out.push_back(deleted);
  }
  SyntheticMapping shared;
  shared.start = 0x7f3b00000000;
  shared.end = shared.start + 2 * kPage;
  shared.flags = kRead | kWrite | kShared | kMayRead | kMayWrite | kMayShare;
  shared.path = kSharedPath;
  shared.contents = "shared memory of pid " + std::to_string(p.pid);
  out.push_back(shared);
  anonymous(0x7f3c00000000, kPage, kRead | kWrite | kMayRead | kMayWrite).anon_name = "synthetic-arena";

  const uint64_t slot = 0x7ffd00000000ull + uint64_t(p.pid) * 0x100000;  // where synthetic_linux.cpp puts argv
  anonymous(slot - 0x20000, 0x30000, kRead | kWrite | kMayRead | kMayWrite | kGrowsDown, "[stack]");
  SyntheticMapping& vvar = anonymous(slot + 0x80000, 4 * kPage, kRead | kMayRead | kIo | kPfnMap | kDontExpand);
  vvar.special = "[vvar]";
  SyntheticMapping& vdso = anonymous(slot + 0x84000, 2 * kPage, kRead | kExec | kMayRead | kMayExec | kDontExpand);
  vdso.special = "[vdso]";
  vdso.contents = std::string("\x7f" "ELF\x02\x01\x01", 7);
  std::sort(out.begin(), out.end(), [](const SyntheticMapping& a, const SyntheticMapping& b) { return a.start < b.start; });
  for (SyntheticMapping& m : out) {
    if (!m.expected_name.empty()) continue;
    if (!m.path.empty())
      m.expected_name = m.path + (m.deleted ? " (deleted)" : "");
    else if (!m.special.empty())
      m.expected_name = m.special;
    else if (!m.anon_name.empty())
      m.expected_name = "[anon:" + m.anon_name + "]";
  }
  return out;
}

std::string SyntheticLinux::build_id_hex(const std::string& path) {
  std::string out;
  for (unsigned char c : build_id_bytes(path)) {
    static const char* digits = "0123456789abcdef";
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string SyntheticLinux::user_string(int pid) { return "SYNTHETIC_USER_STRING:pid=" + std::to_string(pid); }

std::string SyntheticLinux::elf_file(const std::string& path) const { return memory_->loaded_elves.at(path); }

const std::vector<SyntheticMapping>& SyntheticLinux::maps(int pid) const { return memory_->maps.at(pid); }

uint64_t SyntheticLinux::vma_address(int pid, uint64_t start) const { return memory_->vmas.at({pid, start}); }

void SyntheticLinux::vma_list_cycle(int pid) {
  const std::vector<uint64_t>& order = memory_->vma_order.at(pid);
  put_field(order.back(), "vm_area_struct", "vm_next", order.front());
}

uint64_t SyntheticLinux::build_pipe_file(uint64_t inode_number) {
  if (!memory_) memory_ = std::make_shared<MemoryState>();
  if (!memory_->pipe_mount) {
    // pipefs: an internal mount, its own parent, with no mount point.
    uint64_t sb = slab_alloc(layout_->record_size("super_block"));
    put_field(sb, "super_block", "s_dev", mkdev(0, 12));
    uint64_t root = slab_alloc(layout_->record_size("dentry"));
    put_field(root, "dentry", "d_parent", root);
    memory_->pipe_mount = slab_alloc(layout_->record_size("mount"));
    put_field(memory_->pipe_mount, "mount", "mnt_parent", memory_->pipe_mount);
    put_field(memory_->pipe_mount, "mount", "mnt_mountpoint", root);
    put_field(memory_->pipe_mount, "mount", "mnt.mnt_root", root);
    put_field(memory_->pipe_mount, "mount", "mnt.mnt_sb", sb);
    put_field(kLinkText + options_.virtual_shift + kPipefsDentryOpsOffset, "dentry_operations", "d_dname",
              symbol_address("pipefs_dname"));
  }
  uint64_t mount = memory_->pipe_mount;
  uint64_t sb = 0;
  space_->read(kernel_physical(mount + offset_of("mount", "mnt.mnt_sb")), &sb, 8);
  uint64_t inode = slab_alloc(layout_->record_size("inode"));
  put_field(inode, "inode", "i_ino", inode_number);
  put_field(inode, "inode", "i_sb", sb);
  // A pseudo dentry (d_alloc_pseudo): its own parent, not the mount's root.
  uint64_t dentry = slab_alloc(layout_->record_size("dentry"));
  put_field(dentry, "dentry", "d_parent", dentry);
  put_field(dentry, "dentry", "d_inode", inode);
  put_field(dentry, "dentry", "d_op", kLinkText + options_.virtual_shift + kPipefsDentryOpsOffset);
  put_field(dentry, "dentry", "d_name.len", 0);
  put_field(dentry, "dentry", "d_name.name", dentry + offset_of("dentry", "d_iname"));
  uint64_t file = slab_alloc(layout_->record_size("file"));
  put_field(file, "file", "f_path.mnt", mount + offset_of("mount", "mnt"));
  put_field(file, "file", "f_path.dentry", dentry);
  put_field(file, "file", "f_inode", inode);
  return file;
}

// --- Building a process's maps --------------------------------------------------------

void SyntheticLinux::build_memory_maps(const SyntheticProcess& p, BuiltProcess& built, PageTableBuilder& tables,
                                       uint64_t table_pages) {
  if (!memory_) memory_ = std::make_shared<MemoryState>();
  MemoryState& M = *memory_;
  const uint64_t run_time = kLinkText + options_.virtual_shift;

  if (M.mounts.empty()) {
    // The kernel's objects for special mappings.
    put_field(run_time + kSpecialVmopsOffset, "vm_operations_struct", "name", run_time + kFunctionsOffset);
    put_field(run_time + kLegacySpecialVmopsOffset, "vm_operations_struct", "name", run_time + kFunctionsOffset);
    // Mounts: "/" first (its own parent), then the others on its dentries.
    for (const MountSpec& spec : kMounts) {
      MemoryState::Mount m;
      m.point = spec.point;
      m.sb = slab_alloc(layout_->record_size("super_block"));
      put_field(m.sb, "super_block", "s_dev", spec.dev);
      m.root = slab_alloc(layout_->record_size("dentry"));
      put_field(m.root, "dentry", "d_parent", m.root);
      put_field(m.root, "dentry", "d_name.len", 1);
      put_kernel(m.root + offset_of("dentry", "d_iname"), "/", 2);
      put_field(m.root, "dentry", "d_name.name", m.root + offset_of("dentry", "d_iname"));
      put_field(m.root, "dentry", "d_sb", m.sb);
      m.address = slab_alloc(layout_->record_size("mount"));
      put_field(m.address, "mount", "mnt.mnt_root", m.root);
      put_field(m.address, "mount", "mnt.mnt_sb", m.sb);
      M.dentries[m.point + "|"] = m.root;
      M.mounts.push_back(m);
    }
    put_field(M.mounts[0].address, "mount", "mnt_parent", M.mounts[0].address);
    put_field(M.mounts[0].address, "mount", "mnt_mountpoint", M.mounts[0].root);
    M.by_path["/"] = M.mounts[0].root;
  }

  // The dentry of `path` on the mount its prefix names (made with its
  // parents on first use); mount points get their dentries on the mount below.
  std::function<uint64_t(const std::string&, bool)> dentry_of = [&](const std::string& path, bool deleted) {
    size_t mount_index = mount_of(path);
    MemoryState::Mount& mount = M.mounts[mount_index];
    std::string rest = path.substr(mount.point == "/" ? 0 : mount.point.size());
    uint64_t dentry = mount.root;
    std::string so_far;
    size_t from = 1;
    while (from <= rest.size()) {
      size_t slash = rest.find('/', from);
      if (slash == std::string::npos) slash = rest.size();
      std::string name = rest.substr(from, slash - from);
      from = slash + 1;
      if (name.empty()) continue;
      so_far += "/" + name;
      std::string key = mount.point + "|" + so_far;
      auto it = M.dentries.find(key);
      if (it != M.dentries.end()) {
        dentry = it->second;
        continue;
      }
      uint64_t child = slab_alloc(layout_->record_size("dentry"));
      put_field(child, "dentry", "d_parent", dentry);
      put_field(child, "dentry", "d_sb", mount.sb);
      put_field(child, "dentry", "d_name.len", name.size());
      put_field(child, "dentry", "d_name.hash", 0x9e3779b9u * uint32_t(name.size()));
      uint64_t name_at = child + offset_of("dentry", "d_iname");
      if (name.size() >= 32) name_at = slab_alloc(name.size() + 1);  // external name
      put_kernel(name_at, name.c_str(), name.size() + 1);
      put_field(child, "dentry", "d_name.name", name_at);
      bool last = from > rest.size();
      // Hashed dentries have d_hash.pprev set; an unlinked file's is NULL.
      put_field(child, "dentry", "d_hash.pprev", last && deleted ? 0 : child + 0x8);
      std::string absolute = (mount.point == "/" ? "" : mount.point) + so_far;
      uint64_t inode = slab_alloc(layout_->record_size("inode"));
      put_field(inode, "inode", "i_ino", M.next_inode++);
      put_field(inode, "inode", "i_sb", mount.sb);
      put_field(child, "dentry", "d_inode", inode);
      M.inodes[absolute] = inode;
      M.by_path[absolute] = child;
      M.dentries[key] = child;
      dentry = child;
    }
    return dentry;
  };
  // Mount points: their dentries on "/" (made once).
  for (size_t i = 1; i < M.mounts.size(); ++i) {
    MemoryState::Mount& m = M.mounts[i];
    if (M.dentries.count("/|" + m.point)) continue;
    // The mount point lies on the root file system: make it there, not on `m`.
    uint64_t parent = M.mounts[0].root;
    std::string so_far;
    size_t from = 1;
    while (from <= m.point.size()) {
      size_t slash = m.point.find('/', from);
      if (slash == std::string::npos) slash = m.point.size();
      std::string name = m.point.substr(from, slash - from);
      from = slash + 1;
      so_far += "/" + name;
      std::string key = "/|" + so_far;
      if (!M.dentries.count(key)) {
        uint64_t child = slab_alloc(layout_->record_size("dentry"));
        put_field(child, "dentry", "d_parent", parent);
        put_field(child, "dentry", "d_name.len", name.size());
        put_kernel(child + offset_of("dentry", "d_iname"), name.c_str(), name.size() + 1);
        put_field(child, "dentry", "d_name.name", child + offset_of("dentry", "d_iname"));
        put_field(child, "dentry", "d_hash.pprev", child + 0x8);
        M.dentries[key] = child;
      }
      parent = M.dentries[key];
    }
    put_field(m.address, "mount", "mnt_parent", M.mounts[0].address);
    put_field(m.address, "mount", "mnt_mountpoint", parent);
    M.by_path[m.point] = m.root;
  }

  std::vector<SyntheticMapping> maps = p.maps.empty() ? default_maps(p) : p.maps;
  std::sort(maps.begin(), maps.end(), [](const SyntheticMapping& a, const SyntheticMapping& b) { return a.start < b.start; });
  const uint64_t mm = built.mm;
  uint64_t vdso = 0;
  std::vector<uint64_t> vmas;
  for (SyntheticMapping& m : maps) {
    if (m.start % kPage || m.end % kPage || m.end <= m.start)
      throw std::logic_error("SyntheticLinux: mapping " + hex(m.start) + "-" + hex(m.end) + " is not page-aligned");
    uint64_t vma = slab_alloc(layout_->record_size("vm_area_struct"));
    vmas.push_back(vma);
    M.vmas[{p.pid, m.start}] = vma;
    put_field(vma, "vm_area_struct", "vm_mm", mm);
    put_field(vma, "vm_area_struct", "vm_start", m.start);
    put_field(vma, "vm_area_struct", "vm_end", m.end);
    put_field(vma, "vm_area_struct", "vm_flags", m.flags);
    if (!m.path.empty()) {
      uint64_t dentry = dentry_of(m.path, m.deleted);
      auto [it, inserted] = M.files.try_emplace({p.pid, m.path});
      if (inserted) {
        it->second = slab_alloc(layout_->record_size("file"));
        put_field(it->second, "file", "f_path.dentry", dentry);
        put_field(it->second, "file", "f_path.mnt", M.mounts[mount_of(m.path)].address + offset_of("mount", "mnt"));
        put_field(it->second, "file", "f_inode", M.inodes.at(m.path));
      }
      put_field(vma, "vm_area_struct", "vm_file", it->second);
      const uint32_t dev = kMounts[mount_of(m.path)].dev;
      m.major = dev >> 20;
      m.minor = dev & 0xfffff;
      m.inode_number = space_->read_value<uint64_t>(kernel_physical(M.inodes.at(m.path) + offset_of("inode", "i_ino")));
      put_field(vma, "vm_area_struct", "vm_pgoff", m.pgoff);
      put_field(vma, "vm_area_struct", "vm_ops", run_time + kOtherVmopsOffset);
      if (m.expected_name.empty()) m.expected_name = m.path + (m.deleted ? " (deleted)" : "");
    } else {
      put_field(vma, "vm_area_struct", "vm_pgoff", m.start / kPage);  // anonymous: the kernel keeps start >> PAGE_SHIFT
      if (!m.special.empty()) {
        auto [it, inserted] = M.special_mappings.try_emplace(m.special);
        if (inserted) {
          it->second = slab_alloc(layout_->record_size("vm_special_mapping"));
          uint64_t name = slab_alloc(m.special.size() + 1);
          put_kernel(name, m.special.c_str(), m.special.size() + 1);
          put_field(it->second, "vm_special_mapping", "name", name);
        }
        put_field(vma, "vm_area_struct", "vm_ops",
                  run_time + (options_.special_mapping_symbols ? kSpecialVmopsOffset : kOtherVmopsOffset));
        put_field(vma, "vm_area_struct", "vm_private_data", it->second);
        if (m.special == "[vdso]") vdso = m.start;
        if (m.expected_name.empty()) m.expected_name = m.special;
      }
      if (!m.anon_name.empty()) {
        uint64_t name = slab_alloc(8 + m.anon_name.size() + 1);
        put_kernel(name + offset_of("anon_vma_name", "name"), m.anon_name.c_str(), m.anon_name.size() + 1);
        put_field(vma, "vm_area_struct", "anon_name", name);
        if (m.expected_name.empty()) m.expected_name = "[anon:" + m.anon_name + "]";
      }
      if (m.expected_name == "[heap]") {
        put_field(mm, "mm_struct", "start_brk", m.start);
        put_field(mm, "mm_struct", "brk", m.end - 0x800);
      }
    }
    // The pages that hold the contents; the others stay not present.
    const bool ro_text = m.path.size() && !(m.flags & kWrite);
    for (uint64_t off = 0; off < m.contents.size() && m.start + off < m.end; off += kPage) {
      uint64_t phys = user_page_alloc();
      uint64_t flags = PageTableBuilder::kPresent | PageTableBuilder::kUser;
      if ((m.flags & kWrite) && !ro_text) flags |= PageTableBuilder::kWritable;
      if (!(m.flags & kExec)) flags |= PageTableBuilder::kNoExecute;
      tables.map_4k(m.start + off, phys, flags);
      space_->put(phys, m.contents.data() + off, std::min<uint64_t>(kPage, m.contents.size() - off));
    }
  }
  if (table_pages * kPage < tables.next_free_page() - tables.dtb())
    throw std::logic_error("SyntheticLinux: process tables overflow their pool slot (memory maps)");
  put_field(mm, "mm_struct", "map_count", maps.size());
  put_field(mm, "mm_struct", "context.vdso", vdso);
  M.vma_order[p.pid] = vmas;

  // What linux.elfs should rebuild of each ELF image mapped here: the
  // loaded segments as memory holds them (pages not present as zeros),
  // section header fields cleared.
  for (const SyntheticMapping& m : maps) {
    if (m.path.empty() || m.pgoff != 0 || m.contents.compare(0, 4, "\x7f" "ELF") != 0 || M.loaded_elves.count(m.path))
      continue;
    std::string file(kElfFileSize, '\0');
    for (const SyntheticMapping& s : maps) {
      if (s.path != m.path) continue;
      uint64_t offset = s.pgoff * kPage;
      for (uint64_t i = 0; i < s.contents.size() && offset + i < kElfFileSize && s.start + i < s.end; ++i)
        file[offset + i] = s.contents[i];
    }
    Elf64_Ehdr eh;
    std::memcpy(&eh, file.data(), sizeof eh);
    eh.e_shoff = 0;
    eh.e_shnum = 0;
    eh.e_shstrndx = 0;
    std::memcpy(file.data(), &eh, sizeof eh);
    M.loaded_elves[m.path] = file;
  }

  switch (options_.vmas) {
    case VmaIndexKind::kMapleTree: {
      std::vector<MapleRange> ranges;
      for (size_t i = 0; i < maps.size(); ++i) ranges.push_back({maps[i].start, maps[i].end - 1, vmas[i]});
      // Built apart, then copied into the mm (the tree is embedded there).
      uint64_t tree = build_maple_tree(ranges);
      uint64_t root = 0;
      space_->read(kernel_physical(tree + offset_of("maple_tree", "ma_root")), &root, 8);
      uint64_t embedded = mm + offset_of("mm_struct", "mm_mt");
      put_field(embedded, "maple_tree", "ma_root", root);
      put_field(embedded, "maple_tree", "ma_flags", 1);
      uint64_t root_node = root & ~uint64_t{0xff};
      put_field(root_node, "maple_range_64", "parent", embedded | 1);
      M.trees[embedded] = M.trees[tree];
      break;
    }
    case VmaIndexKind::kRbTree: {
      // A balanced tree by address: the middle of each range is the root.
      const uint64_t rb = offset_of("vm_area_struct", "vm_rb");
      std::function<uint64_t(size_t, size_t, uint64_t, int)> build = [&](size_t lo, size_t hi, uint64_t parent,
                                                                        int depth) -> uint64_t {
        if (lo >= hi) return 0;
        size_t mid = (lo + hi) / 2;
        uint64_t node = vmas[mid] + rb;
        put_field(node, "rb_node", "__rb_parent_color", parent | (depth % 2));
        put_field(node, "rb_node", "rb_left", build(lo, mid, node, depth + 1));
        put_field(node, "rb_node", "rb_right", build(mid + 1, hi, node, depth + 1));
        return node;
      };
      put_field(mm, "mm_struct", "mm_rb.rb_node", build(0, vmas.size(), 0, 0));
      [[fallthrough]];
    }
    case VmaIndexKind::kMmapList:
      put_field(mm, "mm_struct", "mmap", vmas.empty() ? 0 : vmas.front());
      for (size_t i = 0; i < vmas.size(); ++i) {
        put_field(vmas[i], "vm_area_struct", "vm_next", i + 1 < vmas.size() ? vmas[i + 1] : 0);
        put_field(vmas[i], "vm_area_struct", "vm_prev", i ? vmas[i - 1] : 0);
      }
      break;
    case VmaIndexKind::kNone: break;
  }
  M.maps[p.pid] = std::move(maps);
}

}  // namespace memscope::test
