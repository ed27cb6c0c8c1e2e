#include "profiles/image/image_profile.h"

#include <xxhash.h>

#include <cstring>
#include <filesystem>

#include "core/layers/x86_64_paging.h"
#include "core/linux/discovery/banners.h"
#include "core/linux/discovery/discovery.h"
#include "core/linux/discovery/kallsyms.h"
#include "core/util/hex.h"
#include "profiles/cache/profile_cache.h"
#include "profiles/image/kernel_btf.h"
#include "profiles/image/kernel_symbols.h"

namespace memscope {
namespace {

// Where x86_64 links _text when nothing says otherwise: __START_KERNEL_map
// + CONFIG_PHYSICAL_START (16 MiB, the default every distribution keeps).
// Used only without VMCOREINFO, to make link-time addresses of run-time
// ones; such profiles are not cached (see image_profile.h).
constexpr uint64_t kDefaultLinkText = kStartKernelMap + (uint64_t{16} << 20);
// The kernel image's extent above _text: KERNEL_IMAGE_SIZE.
constexpr uint64_t kImageSpan = uint64_t{1} << 30;
constexpr size_t kMaxBannerRead = 1024;

std::string hex16(uint64_t v) { return hex_address(v).substr(2); }

// What recovery knows about the kernel before reading its symbols and types.
struct Located {
  std::unique_ptr<X86_64Paging> kernel;  // its virtual space
  uint64_t virtual_shift = 0;
  bool shift_known = false;  // VMCOREINFO's KERNELOFFSET
  std::string shift_note;    // how it was obtained when not known
  std::optional<KallsymsTable> table;  // run-time addresses
  std::optional<uint64_t> text_physical;
  std::string banner, build_id;
  std::string how;  // how the kernel was found
};

std::string read_banner(AddressSpace& kernel, uint64_t address) {
  char buffer[kMaxBannerRead] = {};
  IoResult got = kernel.read(address, buffer, sizeof buffer - 1);
  std::string text(buffer, strnlen(buffer, got.done));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return looks_like_linux_banner(text) ? text : "";
}

std::optional<uint64_t> symbol_in(const KallsymsTable& table, std::string_view name) {
  const KallsymsSymbol* s = table.find(name);
  if (!s) return std::nullopt;
  return s->address;
}

// The build ID: VMCOREINFO's, else the kernel's notes (located by kallsyms).
std::optional<std::string> build_id_of(const LinuxKernelInfo* found, AddressSpace& kernel,
                                       const KallsymsTable* table) {
  if (found && found->vmcoreinfo && !found->vmcoreinfo->build_id.empty()) return found->vmcoreinfo->build_id;
  std::optional<uint64_t> start, stop;
  if (table) {
    start = symbol_in(*table, "__start_notes");
    stop = symbol_in(*table, "__stop_notes");
  } else if (found && found->vmcoreinfo) {
    if (auto tables = kallsyms_tables(*found->vmcoreinfo)) {
      try {
        auto symbols = lookup_kallsyms(kernel, *tables, {"__start_notes", "__stop_notes"});
        if (symbols.count("__start_notes")) start = symbols.at("__start_notes");
        if (symbols.count("__stop_notes")) stop = symbols.at("__stop_notes");
      } catch (const Error&) {
      }
    }
  }
  if (!start || !stop) return std::nullopt;
  return kernel_build_id(kernel, *start, *stop);
}

// The first line of an error, capped: what goes into a one-line reason.
std::string brief(const std::string& text, size_t max = 160) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > max) line = line.substr(0, max - 3) + "...";
  return line;
}

Located locate(const ImageKernel& in, bool need_table) {
  Located where;
  if (in.kernel) {
    const LinuxKernelInfo& k = *in.kernel;
    where.kernel = std::make_unique<X86_64Paging>(*in.physical, k.dtb, k.paging_levels, "kernel");
    where.virtual_shift = k.virtual_shift;
    where.shift_known = k.vmcoreinfo && k.vmcoreinfo->kernel_offset;
    if (!where.shift_known) where.shift_note = "KASLR shift from " + k.method + ", not VMCOREINFO";
    where.banner = k.banner;
    where.how = k.method;
    if (need_table) {
      // VMCOREINFO names the tables on 6.0+; before, or when what it names
      // cannot be read, they are searched for in the kernel image's
      // physical pages (from _stext).
      std::optional<KallsymsTables> tables = k.vmcoreinfo ? kallsyms_tables(*k.vmcoreinfo) : std::nullopt;
      std::string named_error;
      if (tables) {
        try {
          where.table = read_kallsyms(*where.kernel, *tables);
        } catch (const Error& e) {
          named_error = e.what();
        }
      }
      if (!where.table) {
        KallsymsSearchOptions search;
        std::optional<uint64_t> stext = k.vmcoreinfo ? k.vmcoreinfo->symbol("_stext") : std::nullopt;
        if (stext)
          if (auto t = where.kernel->translate(*stext)) {
            search.begin = t->physical;
            search.end = t->physical + kImageSpan;
          }
        std::string why;
        where.table = find_kallsyms(*in.physical, search, &why);
        if (!where.table && !named_error.empty())
          throw ImageProfileUnavailable("its kallsyms tables cannot be read: " + brief(named_error, 120));
        if (!where.table) throw ImageProfileUnavailable("its kernel's kallsyms table was not found (" + brief(why, 80) + ")");
        if (!named_error.empty())
          where.table->warnings.push_back("the kallsyms tables VMCOREINFO names cannot be read (" + brief(named_error) +
                                          "); found by their structure instead");
      }
    }
  } else {
    // No kernel found without a profile (no VMCOREINFO): the kallsyms
    // tables by their structure, then the page table from them.
    std::string why;
    std::optional<KallsymsTable> table = find_kallsyms(*in.physical, {}, &why);
    if (!table && why.starts_with("no kallsyms token table"))
      throw ImageProfileUnavailable("no VMCOREINFO or kallsyms in its memory");
    if (!table)
      throw ImageProfileUnavailable("no VMCOREINFO in its memory, and no kallsyms table validates (" + brief(why, 80) +
                                    ")");
    static const ImageNotes kNoNotes;
    std::optional<KernelFromKallsyms> found =
        locate_kernel_by_kallsyms(*in.physical, *table, in.notes ? *in.notes : kNoNotes, &why);
    if (!found)
      throw ImageProfileUnavailable("its kallsyms table is there but not its page table (" + brief(why, 80) + ")");
    where.kernel = std::make_unique<X86_64Paging>(*in.physical, found->dtb, found->paging_levels, "kernel");
    where.text_physical = found->text_physical;
    where.virtual_shift = found->text_virtual - kDefaultLinkText;
    where.shift_note = "no VMCOREINFO: KASLR shift computed from x86_64's default link address of _text";
    where.how = "kallsyms " + table->tables.found_by + "; " + found->detail;
    where.table = std::move(table);
  }
  if (where.table && where.banner.empty())
    if (auto address = symbol_in(*where.table, "linux_banner")) where.banner = read_banner(*where.kernel, *address);
  if (where.table && !where.text_physical) {
    std::optional<uint64_t> text = symbol_in(*where.table, "_text");
    if (!text) text = symbol_in(*where.table, "_stext");
    if (text)
      if (auto t = where.kernel->translate(*text)) where.text_physical = t->physical;
  }
  if (auto id = build_id_of(in.kernel, *where.kernel, where.table ? &*where.table : nullptr)) where.build_id = *id;
  return where;
}

// kallsyms leaves its own tables out of itself; where they lie is known
// (VMCOREINFO's run-time addresses, or the structure search's physical ones
// at the same distance from _text as virtually), so the profile has them
// as System.map does.
void add_table_symbols(const KallsymsTable& table, const Located& where, SystemMap& symbols) {
  const KallsymsTables& t = table.tables;
  std::optional<uint64_t> to_virtual;  // added to a table address
  if (t.found_by == "VMCOREINFO") {
    to_virtual = 0;
  } else if (where.text_physical) {
    std::optional<uint64_t> text = symbol_in(table, "_text");
    if (!text) text = symbol_in(table, "_stext");
    if (text) to_virtual = *text - *where.text_physical;
  }
  if (!to_virtual) return;
  const std::pair<const char*, uint64_t> own[] = {
      {"kallsyms_offsets", t.offsets},         {"kallsyms_relative_base", t.relative_base},
      {"kallsyms_addresses", t.addresses},     {"kallsyms_num_syms", t.num_syms},
      {"kallsyms_names", t.names},             {"kallsyms_markers", t.markers},
      {"kallsyms_seqs_of_names", t.seqs_of_names}, {"kallsyms_token_table", t.token_table},
      {"kallsyms_token_index", t.token_index}};
  for (const auto& [name, address] : own)
    if (address && !table.find(name))
      symbols.symbols.push_back(SystemMapSymbol{address + *to_virtual - where.virtual_shift, 'D', name});
}

std::string cache_dir_of(const ImageProfileOptions& options) {
  return options.cache_dir.empty() ? default_cache_dir() : options.cache_dir;
}

}  // namespace

std::string image_profile_key(const std::string& banner, const std::string& build_id) {
  return "kernel memory (build-id " + build_id + ", banner " + hex16(XXH3_64bits(banner.data(), banner.size())) + ")";
}

std::optional<ImageProfile> cached_image_profile(const ImageKernel& in, const ImageProfileOptions& options) {
  if (!options.use_cache || !in.physical || !in.kernel || in.kernel->banner.empty() || !in.kernel->vmcoreinfo ||
      !in.kernel->vmcoreinfo->kernel_offset)
    return std::nullopt;
  const std::string dir = cache_dir_of(options);
  if (dir.empty()) return std::nullopt;
  X86_64Paging kernel(*in.physical, in.kernel->dtb, in.kernel->paging_levels, "kernel");
  std::optional<std::string> build_id = build_id_of(in.kernel, kernel, nullptr);
  if (!build_id) return std::nullopt;
  ProfileCache cache(dir);
  SourceKey key{image_profile_key(in.kernel->banner, *build_id), FileIdentity{}};
  CacheLookup found = cache.lookup(key);
  if (!found.profile || found.profile->banner() != in.kernel->banner) return std::nullopt;
  ImageProfile out;
  out.profile = std::move(found.profile);
  out.from_cache = true;
  out.cache_entry = found.entry;
  out.symbols_name = "kallsyms";
  out.reason = "recovered earlier from the memory of this kernel (its banner and build-id " + build_id->substr(0, 12) +
               " match the cache entry " + found.entry + ")";
  return out;
}

ImageProfile recover_image_profile(const ImageKernel& in, const ImageProfileOptions& options) {
  if (!in.physical) throw ImageProfileUnavailable("no image to recover a profile from");
  ImageProfile out;
  Located where = locate(in, options.system_map_path.empty() || options.btf_path.empty());

  // Symbols: kallsyms at link time, or the System.map given.
  SystemMap symbols;
  std::string symbols_from;
  if (!options.system_map_path.empty()) {
    symbols = load_system_map(options.system_map_path);
    symbols_from = "--system-map " + options.system_map_path;
    out.symbols_name = std::filesystem::path(options.system_map_path).filename().string();
  } else {
    symbols = system_map_from_kallsyms(*where.table, where.virtual_shift, "kallsyms");
    add_table_symbols(*where.table, where, symbols);
    symbols_from = std::to_string(symbols.symbols.size()) + " symbols from kallsyms (" +
                   where.table->tables.found_by + (where.table->has_data_symbols() ? "" : ", text symbols only") + ")";
    out.symbols_name = "kallsyms";
    for (const std::string& w : where.table->warnings) out.warnings.push_back(w);
  }

  // Types: the kernel's BTF, or the file given.
  std::optional<Btf> btf;
  std::string types_from;
  if (!options.btf_path.empty()) {
    btf = Btf::load(options.btf_path);
    types_from = "types from --btf " + options.btf_path;
  } else {
    KernelBtfPlace place;
    if (where.table) {
      place.start = symbol_in(*where.table, "__start_BTF");
      place.stop = symbol_in(*where.table, "__stop_BTF");
    } else {
      for (const SystemMapSymbol& s : symbols.symbols) {
        if (s.name == "__start_BTF") place.start = s.address + where.virtual_shift;
        if (s.name == "__stop_BTF") place.stop = s.address + where.virtual_shift;
      }
    }
    if (where.text_physical) {
      place.image_physical = *where.text_physical;
      place.image_physical_end = *where.text_physical + kImageSpan;
    }
    try {
      KernelBtf found = read_kernel_btf(*where.kernel, *in.physical, place);
      types_from = "types from its BTF (" + std::to_string(found.size) + " bytes at " + hex(found.address) + ", " +
                   found.found_by + ")";
      btf = std::move(found.btf);
    } catch (const NoKernelBtf&) {
      throw ImageProfileUnavailable("its kernel has no BTF (CONFIG_DEBUG_INFO_BTF), so no types: --btf FILE gives them");
    } catch (const Error& e) {
      throw ImageProfileUnavailable("its kernel's BTF is damaged: " + brief(e.what(), 240));
    }
  }

  const bool cacheable = options.use_cache && options.btf_path.empty() && options.system_map_path.empty() &&
                         where.shift_known && !where.build_id.empty() && !where.banner.empty();
  ProfileFromBtfOptions build;
  if (!where.banner.empty()) build.banner = where.banner;
  build.producer_version = options.producer_version;
  build.source = cacheable ? image_profile_key(where.banner, where.build_id)
                           : "kernel memory of " + (in.image.empty() ? in.physical->name() : in.image);
  out.profile = profile_from_btf(*btf, symbols, build, &out.report);
  if (where.banner.empty()) out.warnings.push_back("the kernel's banner could not be read");
  if (!where.shift_note.empty()) out.warnings.push_back(where.shift_note);

  std::string cached = "; not cached";
  if (cacheable) {
    const std::string dir = cache_dir_of(options);
    std::string why;
    ProfileCache cache(dir);
    SourceKey key{build.source, FileIdentity{}};
    if (!dir.empty() && cache.store(key, *out.profile, &why)) {
      out.cache_entry = cache.entry_path(key);
      cached = "; cached as " + out.cache_entry;
    } else {
      cached = "; not cached (" + (dir.empty() ? std::string("no cache directory") : brief(why, 80)) + ")";
    }
  } else if (!options.use_cache) {
    cached = "";
  } else if (!options.btf_path.empty() || !options.system_map_path.empty()) {
    cached = "";
  } else if (!where.shift_known) {
    cached = "; not cached (its KASLR shift is not VMCOREINFO's)";
  } else if (where.build_id.empty()) {
    cached = "; not cached (no build ID)";
  }
  out.reason = "recovered from the image: " + symbols_from + ", " + types_from + cached;
  for (const std::string& warning : out.warnings) out.reason += "; " + warning;
  return out;
}

}  // namespace memscope
