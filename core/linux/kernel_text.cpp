#include "core/linux/kernel_text.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "core/linux/module_views.h"
#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {
namespace {

// The kernel image mapping is at most 1 GiB (KERNEL_IMAGE_SIZE on x86_64):
// a section pair spanning more is a profile that does not fit.
constexpr uint64_t kMaxImageSpan = 1ull << 30;

// Pairs of section symbols bounding code besides [_stext, _etext). Most lie
// inside it on current kernels; where they do not (init text, the PTI entry
// trampoline of 4.15-era kernels), they are code all the same.
constexpr std::pair<std::string_view, std::string_view> kExtraText[] = {
    {"_sinittext", "_einittext"},
    {"__entry_text_start", "__entry_text_end"},
    {"__irqentry_text_start", "__irqentry_text_end"},
    {"__softirqentry_text_start", "__softirqentry_text_end"},
    {"__entry_trampoline_start", "__entry_trampoline_end"},
};

}  // namespace

std::string ModuleMemory::label() const { return name ? *name : "module " + hex_address(module); }

const char* code_location_name(CodeLocation location) {
  switch (location) {
    case CodeLocation::kKernelText: return "kernel text";
    case CodeLocation::kKernelImage: return "kernel data";
    case CodeLocation::kModuleText: return "module text";
    case CodeLocation::kModuleData: return "module data";
    case CodeLocation::kUnknown: break;
  }
  return "unknown";
}

KernelText::KernelText(const KernelView& kernel, Warnings& warnings) : kernel_(kernel), reader_(kernel) {
  const Profile& profile = kernel.profile();
  const uint64_t shift = kernel.virtual_shift();
  std::optional<uint64_t> start = profile.symbol("_text");
  if (auto stext = profile.symbol("_stext"); stext && (!start || *stext < *start)) start = stext;
  std::optional<uint64_t> end = profile.symbol("_etext");
  if (!start || !end)
    profile.fail("no _stext/_text and _etext symbols: cannot tell where the kernel's text is");
  if (*end <= *start || *end - *start > kMaxImageSpan)
    profile.fail("_stext.._etext (" + hex_address(*start) + ".." + hex_address(*end) + ") is not a kernel text range");
  text_.push_back({*start + shift, *end + shift});
  for (const auto& [first, last] : kExtraText) {
    auto b = profile.symbol(first), e = profile.symbol(last);
    if (b && e && *b < *e && *e - *b <= kMaxImageSpan) text_.push_back({*b + shift, *e + shift});
  }
  image_ = {*start + shift, *end + shift};
  if (auto image_end = profile.symbol("_end"); image_end && *image_end > *end && *image_end - *start <= kMaxImageSpan)
    image_.end = *image_end + shift;

  std::vector<uint64_t> listed;
  try {
    listed = reader_.modules(warnings);
  } catch (const Error& e) {
    warnings.add(std::string("modules list: ") + e.what() + "; pointers into modules are not named");
  }
  for (uint64_t address : listed) add(address, true, warnings);

  // A module unlinked from the list (a rootkit hiding itself) usually stays
  // in /sys/module and in mod_tree: read those too, so that a pointer into
  // it is named, though the module still counts as not listed. They only
  // name code here; what is wrong with them (a view this kernel lacks, a
  // damaged kobject) is linux.hidden_modules' to report.
  try {
    ModuleViews views(kernel);
    Warnings view_warnings;
    std::vector<uint64_t> others = views.tree(view_warnings);
    for (const SysfsModule& s : views.sysfs(view_warnings).value_or(std::vector<SysfsModule>{}))
      if (s.module) others.push_back(s.module);
    for (uint64_t address : others)
      if (!module_at(address) && views.plausible(address)) add(address, false, warnings);
  } catch (const Error&) {
    // No struct module fields to judge a module by: the list is all there is.
  }
}

void KernelText::add_module(uint64_t module_address, Warnings& warnings) { add(module_address, false, warnings); }

void KernelText::add(uint64_t module_address, bool listed, Warnings& warnings) {
  if (module_at(module_address)) return;
  Module m = reader_.read(module_address, warnings);
  ModuleMemory memory;
  memory.module = module_address;
  memory.name = m.name;
  memory.listed = listed;
  // A forged size must not make a module claim the kernel or everything:
  // drop regions that overlap the kernel image or wrap around.
  for (const ModuleRegion& r : m.regions) {
    if (r.base + r.size < r.base || (r.base < image_.end && r.base + r.size > image_.begin)) {
      warnings.add("module", "module " + memory.label() + ": region " + hex_address(r.base) + " of " +
                                 std::to_string(r.size) + " bytes overlaps the kernel image or wraps; ignored");
      continue;
    }
    memory.regions.push_back(r);
  }
  modules_.push_back(std::move(memory));
}

bool KernelText::in_kernel_text(uint64_t address) const {
  return std::any_of(text_.begin(), text_.end(), [&](const AddressRange& r) { return r.contains(address); });
}

bool KernelText::in_kernel_image(uint64_t address) const { return image_.contains(address) || in_kernel_text(address); }

const ModuleMemory* KernelText::module_containing(uint64_t address) const {
  for (const ModuleMemory& m : modules_)
    for (const ModuleRegion& r : m.regions)
      if (r.contains(address)) return &m;
  return nullptr;
}

const ModuleMemory* KernelText::module_at(uint64_t module_address) const {
  for (const ModuleMemory& m : modules_)
    if (m.module == module_address) return &m;
  return nullptr;
}

CodeLocation KernelText::locate(uint64_t address) const {
  if (in_kernel_text(address)) return CodeLocation::kKernelText;
  if (image_.contains(address)) return CodeLocation::kKernelImage;
  for (const ModuleMemory& m : modules_)
    for (const ModuleRegion& r : m.regions)
      if (r.contains(address)) return r.text ? CodeLocation::kModuleText : CodeLocation::kModuleData;
  return CodeLocation::kUnknown;
}

bool KernelText::hooked(uint64_t handler, uint64_t owner) const {
  if (in_kernel_text(handler)) return false;
  if (const ModuleMemory* module = owner ? module_at(owner) : nullptr)
    for (const ModuleRegion& r : module->regions)
      if (r.text && r.contains(handler)) return false;
  return true;
}

bool KernelText::unaccounted(uint64_t handler) const {
  if (in_kernel_text(handler)) return false;
  for (const ModuleMemory& m : modules_)
    if (m.listed)
      for (const ModuleRegion& r : m.regions)
        if (r.text && r.contains(handler)) return false;
  return true;
}

}  // namespace memscope::linux_kernel
