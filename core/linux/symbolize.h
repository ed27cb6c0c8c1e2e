// Naming a kernel address: "symbol+0xoff [module]", the way the kernel's
// own %pS prints it. Kernel addresses are named from the profile's symbols
// (Profile::nearest_symbol on the link-time address: the run-time address
// minus the KASLR shift), and only inside the kernel image, where the
// nearest symbol below is the one that holds the address. Module addresses
// are named from the module's own symbol table (module->kallsyms, or
// core_kallsyms / the symtab fields of older kernels), read on first use
// and bounded.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/linux/kernel_text.h"
#include "core/linux/kernel_view.h"
#include "core/linux/warnings.h"

namespace memscope::linux_kernel {

struct SymbolizedAddress {
  uint64_t address = 0;
  CodeLocation location = CodeLocation::kUnknown;
  std::optional<std::string> symbol;  // "name" or "name+0x1a"
  std::optional<std::string> module;  // the module whose memory holds it

  // "name+0x1a [module]", "name+0x1a", "0x... [module]" or "0x...".
  std::string text() const;
};

class Symbolizer {
 public:
  // Module symbol tables longer than this are forged or corrupt: the first
  // kMaxModuleSymbols are used, with a warning.
  static constexpr uint64_t kMaxModuleSymbols = 1u << 17;

  // `text` and `warnings` must outlive the symbolizer.
  Symbolizer(const KernelText& text, Warnings& warnings);

  SymbolizedAddress resolve(uint64_t address);
  std::string symbolize(uint64_t address) { return resolve(address).text(); }

 private:
  struct ModuleSymbol {
    uint64_t value = 0;
    uint64_t size = 0;
    uint32_t name = 0;  // offset in strtab
  };
  struct ModuleSymbols {
    std::vector<ModuleSymbol> symbols;  // sorted by value
    uint64_t strtab = 0;
  };

  std::optional<std::string> kernel_symbol(uint64_t address) const;
  std::optional<std::string> module_symbol(const ModuleMemory& module, uint64_t address);
  const ModuleSymbols& symbols_of(const ModuleMemory& module);

  const KernelText& text_;
  Warnings& warnings_;
  std::map<uint64_t, ModuleSymbols> module_symbols_;  // by struct module address
};

// "name" or "name+0x1a".
std::string symbol_with_offset(std::string_view name, uint64_t offset);

}  // namespace memscope::linux_kernel
