#include "core/linux/vmas.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/linux/rbtree.h"

namespace memscope::linux_kernel {
namespace {

uint64_t load(const std::vector<uint8_t>& bytes, uint64_t offset) {
  uint64_t value = 0;
  std::memcpy(&value, bytes.data() + offset, 8);  // little-endian host, as the kernel
  return value;
}

// The offset of `path` in `type` if the profile has it (any step missing:
// nullopt), for fields that only some kernels have.
std::optional<uint64_t> optional_offset(const Profile& profile, std::string_view type, std::string_view path) {
  try {
    return profile.field(type, path).offset;
  } catch (const ProfileError&) {
    return std::nullopt;
  }
}

// A member that must be a pointer or an unsigned long: 8 bytes.
uint64_t word(const Profile& profile, std::string_view type, std::string_view path) {
  FieldRef field = profile.field(type, path);
  if (profile.type(field.type).size != 8) profile.fail(std::string(type) + "." + std::string(path) + " is not 8 bytes");
  return field.offset;
}

// The longest name of a vm_special_mapping or anon_vma_name
// (ANON_VMA_NAME_MAX_LEN is 80).
constexpr size_t kMaxSpecialName = 80;

}  // namespace

std::string vma_permissions(uint64_t flags) {
  std::string out = "----";
  if (flags & kVmRead) out[0] = 'r';
  if (flags & kVmWrite) out[1] = 'w';
  if (flags & kVmExec) out[2] = 'x';
  out[3] = (flags & kVmMayShare) ? 's' : 'p';
  return out;
}

struct VmaReader::MmInfo {
  std::optional<uint64_t> start_brk, brk, start_stack, vdso;
};

VmaReader::VmaReader(const KernelView& kernel) : kernel_(kernel) {
  const Profile& profile = kernel.profile();
  const TypeInfo& vma = profile.require_type("vm_area_struct");
  vma_size_ = vma.size;
  vm_start_ = word(profile, "vm_area_struct", "vm_start");
  vm_end_ = word(profile, "vm_area_struct", "vm_end");
  vm_flags_ = word(profile, "vm_area_struct", "vm_flags");
  vm_pgoff_ = word(profile, "vm_area_struct", "vm_pgoff");
  vm_file_ = word(profile, "vm_area_struct", "vm_file");
  vm_ops_ = word(profile, "vm_area_struct", "vm_ops");
  vm_private_data_ = word(profile, "vm_area_struct", "vm_private_data");
  if (profile.find_member(vma, "anon_name") && profile.find_type("anon_vma_name") &&
      profile.has_member("anon_vma_name", "name")) {
    anon_name_ = word(profile, "vm_area_struct", "anon_name");
    anon_vma_name_name_ = profile.field("anon_vma_name", "name").offset;
  }

  const TypeInfo& mm = profile.require_type("mm_struct");
  if (MapleTreeReader::available(profile) && profile.find_member(mm, "mm_mt")) {
    index_ = Index::kMapleTree;
    mm_index_ = profile.field(mm, "mm_mt").offset;
    maple_.emplace(kernel);
  } else if (profile.find_member(mm, "mm_rb") && profile.find_member(vma, "vm_rb")) {
    index_ = Index::kRbTree;
    FieldRef mm_rb = profile.field(mm, "mm_rb");
    mm_index_ = mm_rb.offset;
    mm_rb_type_ = mm_rb.type;
    vm_rb_ = profile.field(vma, "vm_rb").offset;
  } else if (profile.find_member(mm, "mmap") && profile.find_member(vma, "vm_next")) {
    index_ = Index::kMmapList;
    mm_index_ = word(profile, "mm_struct", "mmap");
    vm_next_ = word(profile, "vm_area_struct", "vm_next");
  } else {
    profile.fail("mm_struct has none of mm_mt (maple tree), mm_rb (rbtree) or mmap (list): cannot find VMAs");
  }
  if (profile.find_member(mm, "map_count")) map_count_ = profile.field(mm, "map_count").offset;
  start_brk_ = optional_offset(profile, "mm_struct", "start_brk");
  brk_ = optional_offset(profile, "mm_struct", "brk");
  start_stack_ = optional_offset(profile, "mm_struct", "start_stack");
  context_vdso_ = optional_offset(profile, "mm_struct", "context.vdso");

  if (profile.find_type("vm_special_mapping") && profile.has_member("vm_special_mapping", "name"))
    special_name_ = word(profile, "vm_special_mapping", "name");
  auto symbol = [&](const char* name) -> uint64_t {
    auto address = profile.symbol(name);
    return address ? *address + kernel.virtual_shift() : 0;
  };
  special_mapping_vmops_ = symbol("special_mapping_vmops");
  legacy_special_mapping_vmops_ = symbol("legacy_special_mapping_vmops");
  dentries_.emplace(kernel);
}

std::vector<uint64_t> VmaReader::from_maple_tree(uint64_t mm, const std::string& what, Warnings& warnings,
                                                 const VmaWalkOptions& options,
                                                 std::vector<std::pair<uint64_t, uint64_t>>& ranges) const {
  std::vector<uint64_t> out;
  for (const MapleEntry& entry : maple_->entries(mm + mm_index_, what + ": VMA tree", warnings, {options.limit})) {
    out.push_back(entry.value);
    ranges.emplace_back(entry.first, entry.last);
  }
  return out;
}

std::vector<uint64_t> VmaReader::from_rbtree(uint64_t mm, const std::string& what, Warnings& warnings,
                                             const VmaWalkOptions& options) const {
  Object root(kernel_.profile(), kernel_.kernel(), mm_rb_type_, mm + mm_index_);
  std::vector<uint64_t> out;
  for (uint64_t node : rbtree_nodes(root, what + ": VMA rbtree", warnings, {.limit = options.limit}))
    out.push_back(node - *vm_rb_);
  return out;
}

std::vector<uint64_t> VmaReader::from_list(uint64_t mm, const std::string& what, Warnings& warnings,
                                           const VmaWalkOptions& options) const {
  X86_64Paging& kernel = kernel_.kernel();
  std::vector<uint64_t> out;
  std::unordered_set<uint64_t> visited;
  uint64_t at = mm + mm_index_;
  uint64_t vma = 0;
  while (true) {
    IoResult r = kernel.read(at, &vma, 8);
    if (!r.ok()) {
      warnings.add("VMA list", what + ": VMA list: cannot read " + hex_address(at) + ": " + r.fault->message());
      break;
    }
    if (vma == 0) break;
    if (!visited.insert(vma).second) {
      warnings.add("VMA list", what + ": VMA list: vm_area_struct " + hex_address(vma) +
                                   " is reached twice (a cycle); the list ends there");
      break;
    }
    if (out.size() >= options.limit) {
      warnings.add("VMA list", what + ": VMA list: more than " + std::to_string(options.limit) +
                                   " VMAs; the rest is not read");
      break;
    }
    out.push_back(vma);
    at = vma + *vm_next_;
  }
  return out;
}

std::vector<Vma> VmaReader::vmas(uint64_t mm, const std::string& owner, Warnings& warnings,
                                 VmaWalkOptions options) const {
  X86_64Paging& kernel = kernel_.kernel();
  std::vector<uint64_t> addresses;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // maple tree: the indices each VMA is stored at
  switch (index_) {
    case Index::kMapleTree: addresses = from_maple_tree(mm, owner, warnings, options, ranges); break;
    case Index::kRbTree: addresses = from_rbtree(mm, owner, warnings, options); break;
    case Index::kMmapList: addresses = from_list(mm, owner, warnings, options); break;
  }

  MmInfo info;
  auto mm_word = [&](const std::optional<uint64_t>& offset, std::optional<uint64_t>& out) {
    uint64_t value = 0;
    if (offset && kernel.read(mm + *offset, &value, 8).ok()) out = value;
  };
  if (options.names) {
    mm_word(start_brk_, info.start_brk);
    mm_word(brk_, info.brk);
    mm_word(start_stack_, info.start_stack);
    mm_word(context_vdso_, info.vdso);
  }

  std::vector<Vma> out;
  out.reserve(addresses.size());
  std::vector<uint8_t> bytes(vma_size_);
  std::unordered_set<uint64_t> seen;
  std::unordered_map<uint64_t, FileInfo> files;  // VMAs of one file share its struct file
  for (size_t i = 0; i < addresses.size(); ++i) {
    uint64_t address = addresses[i];
    std::string label = owner + ": vma " + hex_address(address);
    if (!seen.insert(address).second) {
      warnings.add("vma", label + ": listed twice; the second time is left out");
      continue;
    }
    IoResult r = kernel.read(address, bytes.data(), bytes.size());
    if (!r.ok()) {
      warnings.add("vma", label + ": cannot read vm_area_struct: " + r.fault->message());
      continue;
    }
    Vma vma;
    vma.address = address;
    vma.start = load(bytes, vm_start_);
    vma.end = load(bytes, vm_end_);
    vma.flags = load(bytes, vm_flags_);
    vma.pgoff = load(bytes, vm_pgoff_);
    vma.file = load(bytes, vm_file_);
    vma.vm_ops = load(bytes, vm_ops_);
    if (vma.end <= vma.start || vma.start % kVmaPageSize || vma.end % kVmaPageSize) {
      warnings.add("vma", label + ": impossible range " + hex(vma.start) + "-" + hex(vma.end) + "; left out");
      continue;
    }
    if (!ranges.empty() && (ranges[i].first != vma.start || ranges[i].second != vma.end - 1))
      warnings.add("vma", label + ": stored in the tree for " + hex(ranges[i].first) + "-" + hex(ranges[i].second + 1) +
                              " but covers " + hex(vma.start) + "-" + hex(vma.end));
    if (options.names) {
      if (vma.file) {
        auto [it, inserted] = files.try_emplace(vma.file);
        if (inserted) it->second = dentries_->file(vma.file, label, warnings);
        vma.name = it->second.path;
        vma.file_info = it->second;
      } else {
        uint64_t private_data = load(bytes, vm_private_data_);
        uint64_t anon_name = anon_name_ ? load(bytes, *anon_name_) : 0;
        name_anonymous(vma, info, private_data, anon_name, label, warnings);
      }
    }
    out.push_back(std::move(vma));
  }
  std::stable_sort(out.begin(), out.end(), [](const Vma& a, const Vma& b) { return a.start < b.start; });
  for (size_t i = 1; i < out.size(); ++i)
    if (out[i].start < out[i - 1].end)
      warnings.add("vma", owner + ": vma " + hex_address(out[i].address) + " (" + hex(out[i].start) + "-" +
                              hex(out[i].end) + ") overlaps vma " + hex_address(out[i - 1].address) + " (" +
                              hex(out[i - 1].start) + "-" + hex(out[i - 1].end) + ")");
  if (map_count_) {
    int32_t count = 0;
    if (kernel.read(mm + *map_count_, &count, sizeof count).ok() && count >= 0 &&
        static_cast<size_t>(count) != addresses.size() && addresses.size() < options.limit)
      warnings.add("vma", owner + ": mm->map_count says " + std::to_string(count) + " VMAs, the " +
                              std::string(index_ == Index::kMapleTree ? "maple tree"
                                          : index_ == Index::kRbTree  ? "rbtree"
                                                                      : "list") +
                              " holds " + std::to_string(addresses.size()));
  }
  return out;
}

void VmaReader::name_anonymous(Vma& vma, const MmInfo& mm, uint64_t private_data, uint64_t anon_name,
                               const std::string& what, Warnings& warnings) const {
  X86_64Paging& kernel = kernel_.kernel();
  auto read_string = [&](uint64_t address) -> std::optional<std::string> {
    char text[kMaxSpecialName + 1] = {};
    // Byte by byte up to the NUL would cost a read each; one read of the
    // longest name, cut at a page end, and the NUL decides.
    size_t n = std::min<uint64_t>(kMaxSpecialName, kVmaPageSize - address % kVmaPageSize);
    IoResult r = kernel.read(address, text, n);
    if (!r.ok()) {
      warnings.add("vma name", what + ": cannot read its name at " + hex_address(address) + ": " +
                                   r.fault->message());
      return std::nullopt;
    }
    return std::string(text, strnlen(text, n));
  };
  // The kernel's own mappings: vm_ops->name is special_mapping_name, which
  // returns ((struct vm_special_mapping *)vm_private_data)->name.
  bool known_vmops = special_mapping_vmops_ || legacy_special_mapping_vmops_;
  if (vma.vm_ops && special_name_ &&
      (vma.vm_ops == special_mapping_vmops_ || vma.vm_ops == legacy_special_mapping_vmops_)) {
    uint64_t name = 0;
    IoResult r = private_data ? kernel.read(private_data + *special_name_, &name, 8) : IoResult{};
    if (private_data && r.ok() && name) {
      if (auto text = read_string(name)) {
        vma.name = *text;
        vma.special = true;
        return;
      }
    } else {
      warnings.add("vma name", what + ": special mapping without a readable vm_special_mapping at " +
                                   hex_address(private_data));
    }
  }
  if (!known_vmops && mm.vdso && *mm.vdso) {
    // Without the symbols: the vdso's address is in mm->context, and the
    // vvar pages are mapped right below it (arch/x86/entry/vdso/vma.c).
    if (vma.start == *mm.vdso) {
      vma.name = "[vdso]";
      vma.special = true;
      return;
    }
    if (vma.end == *mm.vdso && vma.vm_ops) {
      vma.name = "[vvar]";
      vma.special = true;
      return;
    }
  }
  if (mm.brk && mm.start_brk && vma.start <= *mm.brk && vma.end >= *mm.start_brk) {
    vma.name = "[heap]";
    return;
  }
  if (mm.start_stack && vma.start <= *mm.start_stack && vma.end >= *mm.start_stack) {
    vma.name = "[stack]";
    return;
  }
  if (anon_name) {
    if (auto text = read_string(anon_name + anon_vma_name_name_)) vma.name = "[anon:" + *text + "]";
  }
}

}  // namespace memscope::linux_kernel
