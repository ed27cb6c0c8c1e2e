// Where a code pointer points: into the kernel's own text, into a loaded
// module (its text or its other memory), or somewhere else. Every hook check
// (syscall table, IDT, ftrace, netfilter, tty, notifier chains) asks this:
// a handler outside the kernel's text is what a rootkit's hook looks like.
//
// The kernel's text is [_text or _stext, _etext), plus init text
// [_sinittext, _einittext) and entry/trampoline text where the profile has
// those symbols; the image is [_text, _end). All are run-time addresses (the
// profile's link-time symbols plus the KASLR shift). Module memory comes
// from ModuleReader (modules.h): mem[] (6.4+), core_layout / init_layout
// (4.5-6.3) or module_core (older), split into text and the rest.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/linux/kernel_view.h"
#include "core/linux/modules.h"
#include "core/linux/warnings.h"

namespace memscope::linux_kernel {

// [begin, end) of run-time kernel addresses.
struct AddressRange {
  uint64_t begin = 0;
  uint64_t end = 0;
  bool contains(uint64_t address) const { return address >= begin && address < end; }
};

// A module's memory as hook checks need it.
struct ModuleMemory {
  uint64_t module = 0;                // the struct module
  std::optional<std::string> name;    // empty when unreadable
  std::vector<ModuleRegion> regions;  // text and other memory
  bool listed = true;                 // on the `modules` list (false: found by another view, or add_module)

  // "name", or "module 0x..." when the name could not be read.
  std::string label() const;
};

enum class CodeLocation {
  kKernelText,   // the kernel's own code
  kKernelImage,  // the kernel image, but not its text (data, rodata, bss)
  kModuleText,   // a module's code
  kModuleData,   // a module's other memory
  kUnknown,      // none of the above: heap, vmalloc, user space, wild
};

// "kernel text", "kernel data", "module text", "module data", "unknown".
const char* code_location_name(CodeLocation location);

class KernelText {
 public:
  // The kernel's ranges from the profile, the modules on the `modules`
  // list (a list that cannot be walked gives a warning; the kernel's own
  // ranges still work), and modules missing from that list that
  // /sys/module or mod_tree still hold (module_views.h), as not listed.
  // Throws ProfileError when the profile has no symbol that bounds the
  // kernel's text (_stext or _text, and _etext).
  KernelText(const KernelView& kernel, Warnings& warnings);

  // Adds a module found outside the `modules` list (a hidden one found by
  // a scan), so that pointers into it are named. Ignored if already known.
  void add_module(uint64_t module_address, Warnings& warnings);

  bool in_kernel_text(uint64_t address) const;
  bool in_kernel_image(uint64_t address) const;
  // The module whose memory holds `address`, or nullptr.
  const ModuleMemory* module_containing(uint64_t address) const;
  // The module whose struct module is at `module_address`, or nullptr.
  const ModuleMemory* module_at(uint64_t module_address) const;
  CodeLocation locate(uint64_t address) const;
  // What the hook checks call hooked: a handler outside the kernel's text,
  // and outside the text of `owner` (the struct module that owns the
  // structure holding the pointer, 0 for the kernel itself).
  bool hooked(uint64_t handler, uint64_t owner = 0) const;
  // Outside the kernel's text and the text of every module on the
  // `modules` list: code nothing loaded accounts for (a hidden module,
  // injected code). For callbacks that modules legitimately register
  // (netfilter, ftrace, notifier chains), whose structures name no owner.
  bool unaccounted(uint64_t handler) const;

  std::span<const AddressRange> text_ranges() const { return text_; }
  const AddressRange& image() const { return image_; }
  std::span<const ModuleMemory> modules() const { return modules_; }
  const KernelView& kernel() const { return kernel_; }

 private:
  void add(uint64_t module_address, bool listed, Warnings& warnings);

  const KernelView& kernel_;
  ModuleReader reader_;
  std::vector<AddressRange> text_;
  AddressRange image_;
  std::vector<ModuleMemory> modules_;
};

}  // namespace memscope::linux_kernel
