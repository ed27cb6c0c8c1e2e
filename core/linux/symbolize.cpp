#include "core/linux/symbolize.h"

#include <algorithm>

#include "core/types/object.h"
#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/util/unaligned.h"

namespace memscope::linux_kernel {
namespace {

// The ELF64 symbol (the ELF specification's Elf64_Sym), used when the
// profile has no struct elf64_sym: its layout is the ABI's, not the kernel's.
struct ElfSymbolLayout {
  uint64_t size = 24, name = 0, info = 4, shndx = 6, value = 8, length = 16;
};

ElfSymbolLayout elf_symbol_layout(const Profile& profile) {
  ElfSymbolLayout out;
  const TypeInfo* sym = profile.find_type("elf64_sym");
  if (!sym || !sym->is_record()) return out;
  auto offset = [&](std::string_view field, uint64_t fallback) {
    const MemberInfo* m = profile.find_member(*sym, field);
    return m ? m->offset : fallback;
  };
  out.size = sym->size;
  out.name = offset("st_name", out.name);
  out.info = offset("st_info", out.info);
  out.shndx = offset("st_shndx", out.shndx);
  out.value = offset("st_value", out.value);
  out.length = offset("st_size", out.length);
  return out;
}

}  // namespace

std::string symbol_with_offset(std::string_view name, uint64_t offset) {
  std::string out(name);
  if (offset) out += "+" + hex(offset);
  return out;
}

std::string SymbolizedAddress::text() const {
  std::string out = symbol ? *symbol : hex_address(address);
  if (module) out += " [" + *module + "]";
  return out;
}

Symbolizer::Symbolizer(const KernelText& text, Warnings& warnings) : text_(text), warnings_(warnings) {}

SymbolizedAddress Symbolizer::resolve(uint64_t address) {
  SymbolizedAddress out;
  out.address = address;
  out.location = text_.locate(address);
  if (out.location == CodeLocation::kKernelText || out.location == CodeLocation::kKernelImage) {
    out.symbol = kernel_symbol(address);
  } else if (const ModuleMemory* module = text_.module_containing(address)) {
    out.module = module->label();
    out.symbol = module_symbol(*module, address);
  }
  return out;
}

std::optional<std::string> Symbolizer::kernel_symbol(uint64_t address) const {
  const KernelView& kernel = text_.kernel();
  const uint64_t link = address - kernel.virtual_shift();
  const SymbolInfo* symbol = kernel.profile().nearest_symbol(link);
  if (!symbol) return std::nullopt;
  // The nearest symbol must itself lie in the kernel image: below it, the
  // "nearest" is an absolute or per-CPU symbol that holds nothing here.
  if (!text_.in_kernel_image(symbol->address + kernel.virtual_shift())) return std::nullopt;
  return symbol_with_offset(kernel.profile().name(*symbol), link - symbol->address);
}

std::optional<std::string> Symbolizer::module_symbol(const ModuleMemory& module, uint64_t address) {
  const ModuleSymbols& table = symbols_of(module);
  auto after = std::upper_bound(table.symbols.begin(), table.symbols.end(), address,
                                [](uint64_t a, const ModuleSymbol& s) { return a < s.value; });
  if (after == table.symbols.begin()) return std::nullopt;
  const ModuleSymbol& symbol = *(after - 1);
  if (symbol.size && address - symbol.value >= symbol.size) return std::nullopt;
  if (text_.module_containing(symbol.value) != &module) return std::nullopt;
  // The NUL-terminated name, at most 256 bytes; a read cut by an unmapped
  // page keeps what came before it.
  char buffer[256] = {};
  IoResult r = text_.kernel().kernel().read(table.strtab + symbol.name, buffer, sizeof buffer);
  std::string name(buffer, strnlen(buffer, r.done));
  if (name.empty()) return std::nullopt;
  return symbol_with_offset(name, address - symbol.value);
}

const Symbolizer::ModuleSymbols& Symbolizer::symbols_of(const ModuleMemory& module) {
  auto [it, inserted] = module_symbols_.try_emplace(module.module);
  ModuleSymbols& out = it->second;
  if (!inserted) return out;
  const KernelView& kernel = text_.kernel();
  const Profile& profile = kernel.profile();
  try {
    Object m = kernel.object("module", module.module);
    uint64_t symtab = 0, count = 0;
    if (m.has_member("kallsyms") && !m["kallsyms"].is_null()) {
      Object k = m["kallsyms"].deref();
      symtab = k["symtab"].pointer();
      count = k["num_symtab"].as_u64();
      out.strtab = k["strtab"].pointer();
    } else if (m.has_member("core_kallsyms")) {
      Object k = m["core_kallsyms"];
      symtab = k["symtab"].pointer();
      count = k["num_symtab"].as_u64();
      out.strtab = k["strtab"].pointer();
    } else if (m.has_member("symtab") && m.has_member("num_symtab") && m.has_member("strtab")) {
      symtab = m["symtab"].pointer();
      count = m["num_symtab"].as_u64();
      out.strtab = m["strtab"].pointer();
    } else {
      return out;  // the profile's struct module keeps no symbols: addresses stay unnamed
    }
    if (count > kMaxModuleSymbols) {
      warnings_.add("module " + module.label() + ": " + std::to_string(count) +
                    " symbols in its table is not plausible; using the first " + std::to_string(kMaxModuleSymbols));
      count = kMaxModuleSymbols;
    }
    if (count == 0 || symtab == 0) return out;
    const ElfSymbolLayout layout = elf_symbol_layout(profile);
    std::vector<uint8_t> bytes(count * layout.size);
    IoResult r = kernel.kernel().read(symtab, bytes.data(), bytes.size());
    if (r.fault)
      warnings_.add("module " + module.label() + ": symbol table at " + hex_address(symtab) + " cut at " +
                    hex_address(r.fault->address) + ": " + r.fault->reason);
    const uint64_t readable = r.done / layout.size;
    out.symbols.reserve(readable);
    for (uint64_t i = 0; i < readable; ++i) {
      const uint8_t* entry = bytes.data() + i * layout.size;
      ModuleSymbol s;
      s.name = load_unaligned<uint32_t>(entry + layout.name);
      s.value = load_unaligned<uint64_t>(entry + layout.value);
      s.size = load_unaligned<uint64_t>(entry + layout.length);
      const uint8_t type = load_unaligned<uint8_t>(entry + layout.info) & 0xf;
      const uint16_t section = load_unaligned<uint16_t>(entry + layout.shndx);
      // Named, defined objects, functions and untyped labels; not the
      // section and file entries.
      if (s.name == 0 || s.value == 0 || section == 0 || type > 2) continue;
      out.symbols.push_back(s);
    }
    std::sort(out.symbols.begin(), out.symbols.end(),
              [](const ModuleSymbol& a, const ModuleSymbol& b) { return a.value < b.value; });
  } catch (const Error& e) {
    warnings_.add("module " + module.label() + ": cannot read its symbol table: " + e.what());
  }
  return out;
}

}  // namespace memscope::linux_kernel
