#include "core/linux/discovery/discovery.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <string_view>
#include <vector>

#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/linux/discovery/banners.h"
#include "core/linux/discovery/kallsyms.h"
#include "core/linux/discovery/vmcoreinfo.h"
#include "core/layers/physical_layer.h"
#include "core/scan/physical_scanner.h"
#include "core/types/profile.h"
#include "core/layers/x86_64_paging.h"

namespace memscope {
namespace {

constexpr uint64_t kPage = 4096;
// The kernel image is mapped with 2 MiB pages and loaded at 2 MiB-aligned
// physical and virtual addresses (head64.c refuses anything else), so
// searches over possible shifts step by 2 MiB.
constexpr uint64_t kLargePage = uint64_t{2} << 20;
constexpr uint64_t kTableAddressMask = 0x000ffffffffff000ull;
constexpr size_t kReasonsKept = 3;
// Validation reads a few pages through each candidate page table: a small
// translation cache is plenty.
constexpr size_t kProbeCachePages = 64;
// Self-map searches (for VMCOREINFO texts without phys_base) per discovery:
// each may probe one root per 2 MiB of RAM.
constexpr int kMaxSelfMapSearches = 4;
// "OSRELEASE=" hits read (and parsed) per VMCOREINFO validation allowed.
constexpr size_t kTextsReadPerCandidate = 64;
// Bound on the page-table self-map search (one candidate per 2 MiB of RAM):
// 4 TiB of RAM.
constexpr uint64_t kMaxSelfMapCandidates = uint64_t{1} << 21;
// Where the kernel's rodata (and linux_banner) may lie after _stext.
constexpr uint64_t kKernelBannerSearchSpan = uint64_t{64} << 20;
constexpr std::string_view kBannerMarker = "Linux version ";
constexpr std::string_view kInitTaskComm = "swapper/0";

// A NUL-terminated string at `address`, at most `max` bytes; stops at the
// first unreadable byte.
std::string read_c_string(AddressSpace& space, uint64_t address, size_t max) {
  std::string out;
  char buffer[256];
  while (out.size() < max) {
    uint64_t at = address + out.size();
    size_t want = std::min<size_t>({sizeof buffer, max - out.size(), kPage - at % kPage});
    IoResult got = space.read(at, buffer, want);
    const char* nul = static_cast<const char*>(std::memchr(buffer, '\0', got.done));
    out.append(buffer, nul ? static_cast<size_t>(nul - buffer) : got.done);
    if (nul || got.done < want) break;
  }
  return out;
}

std::string trim_end(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

// The banner line at `address`: linux_banner ends with "\n"; copies in the
// kernel log run on into the next message without a NUL, so stop at the
// first control character.
std::string read_banner(AddressSpace& space, uint64_t address) {
  std::string text = read_c_string(space, address, kMaxBannerBytes);
  auto end = std::find_if(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < ' '; });
  return trim_end(std::string(text.begin(), end));
}

std::string fixed_string(const char* bytes, size_t max) { return std::string(bytes, strnlen(bytes, max)); }

// A bare page-table walk, without X86_64Paging's translation cache: the
// self-map search below tries up to millions of candidate roots, and most
// fail at the first entry.
std::optional<uint64_t> walk_table(AddressSpace& physical, uint64_t table, int levels, uint64_t vaddr) {
  for (int level = levels; level >= 1; --level) {
    unsigned shift = 12 + 9 * static_cast<unsigned>(level - 1);
    uint64_t entry = 0;
    if (physical.read(table + ((vaddr >> shift) & 511) * 8, &entry, 8).done != 8) return std::nullopt;
    if (!(entry & 1)) return std::nullopt;
    if ((level == 2 || level == 3) && (entry & 0x80)) {
      uint64_t size = uint64_t{1} << shift;
      return (entry & kTableAddressMask & ~(size - 1)) + (vaddr & (size - 1));
    }
    table = entry & kTableAddressMask;
  }
  return table + (vaddr & (kPage - 1));
}

// What one kind of evidence produced: how many candidates were validated
// and why the first ones failed, for the "no Linux kernel found" message.
struct Evidence {
  explicit Evidence(std::string name) : what(std::move(name)) {}
  std::string what;
  size_t tried = 0;
  std::vector<std::string> reasons;
  std::string note;  // set when the evidence could not be used at all

  void fail(std::string reason) {
    if (reasons.size() < kReasonsKept) reasons.push_back(std::move(reason));
  }
  std::string summary() const {
    std::string out = what + ": ";
    if (!note.empty()) return out + note;
    out += std::to_string(tried) + " candidate(s)";
    if (reasons.empty()) return out;
    out += ", rejected (";
    for (size_t i = 0; i < reasons.size(); ++i) out += (i ? "; " : "") + reasons[i];
    if (tried > reasons.size()) out += "; ...";
    return out + ")";
  }
};

// Why a candidate failed. Of several attempts (paging modes, shifts), the
// one that got furthest explains best: a banner that differs from the
// profile's says more than a paging mode that does not fit.
struct Why {
  enum Depth { kNotInImage, kNoSelfMap, kNoReadBack, kProfileMismatch };
  int depth = -1;
  std::string text;
  void set(Depth reached, std::string reason) {
    if (reached < depth) return;
    depth = reached;
    text = std::move(reason);
  }
};

// What the profile says about where things are, gathered once. Every field
// is optional: discovery uses what is there.
struct ProfileFacts {
  std::optional<uint64_t> linux_banner, top_page_table, init_task;
  std::string top_page_table_name;
  std::optional<uint64_t> comm_offset;  // task_struct.comm
  // init_task fields that point into the kernel image at known symbols:
  // (offset in task_struct, link-time address of the target).
  std::vector<std::pair<uint64_t, uint64_t>> pointers;
  std::string banner;  // the profile's linux_banner text, "" if unknown

  explicit ProfileFacts(const Profile* profile) {
    if (!profile) return;
    linux_banner = profile->symbol("linux_banner");
    for (const char* name : {"init_top_pgt", "swapper_pg_dir"})
      if (!top_page_table && (top_page_table = profile->symbol(name))) top_page_table_name = name;
    init_task = profile->symbol("init_task");
    banner = trim_end(profile->banner());
    const TypeInfo* task = profile->find_type("task_struct");
    if (!task) return;
    if (const MemberInfo* comm = profile->find_member(*task, "comm")) comm_offset = comm->offset;
    static const std::pair<const char*, const char*> kStaticTargets[] = {
        {"files", "init_files"},     {"fs", "init_fs"},           {"signal", "init_signals"},
        {"sighand", "init_sighand"}, {"nsproxy", "init_nsproxy"}, {"cred", "init_cred"},
        {"real_cred", "init_cred"},  {"active_mm", "init_mm"},    {"stack", "init_stack"}};
    for (const auto& [member, target] : kStaticTargets) {
      const MemberInfo* field = profile->find_member(*task, member);
      std::optional<uint64_t> address = profile->symbol(target);
      if (field && address) pointers.emplace_back(field->offset, *address);
    }
  }
};

// A validated kernel location.
struct Found {
  uint64_t dtb = 0;
  int levels = 4;
  uint64_t virtual_shift = 0;
  uint64_t physical_shift = 0;
  std::string method, detail;
  std::string banner;
  std::optional<uint64_t> banner_address, banner_physical;
  std::optional<VmcoreInfo> vmcoreinfo;
  std::vector<std::string> warnings;
};

class Discovery {
 public:
  Discovery(AddressSpace& physical, const ImageNotes& notes, const Profile* profile, const DiscoveryOptions& options,
            std::string image)
      : physical_(physical),
        notes_(notes),
        facts_(profile),
        has_profile_(profile != nullptr),
        options_(options),
        image_(std::move(image)) {}

  LinuxKernelInfo run() {
    std::optional<Found> found;
    Evidence note{"VMCOREINFO note"};
    if (!options_.use_notes) {
      note.note = "not used";
    } else if (notes_.vmcoreinfo.empty()) {
      note.note = "absent";
    } else {
      VmcoreInfo info = parse_vmcoreinfo(notes_.vmcoreinfo, "ELF note");
      if (!info.plausible()) {
        note.note = "unusable (no OSRELEASE or no SYMBOL(init_top_pgt)/SYMBOL(swapper_pg_dir))";
      } else {
        ++note.tried;
        texts_seen_.insert(info.text);
        found = try_vmcoreinfo(info, "vmcoreinfo note", note);
      }
    }
    evidence_.push_back(note);

    if (options_.scan_memory && !found) found = probe_banner();
    if (options_.scan_memory && (!found || options_.list_all_banners)) scan(found);
    if (!found && options_.use_notes) found = try_cpu_notes();
    if (!found) {
      std::string message = "no Linux kernel found in " + image_ + ": tried ";
      for (size_t i = 0; i < evidence_.size(); ++i) message += (i ? "; " : "") + evidence_[i].summary();
      std::vector<std::string> banners = banners_in_address_order();
      if (!banners.empty()) {
        message += "; banners seen: ";
        for (size_t i = 0; i < banners.size() && i < 3; ++i) message += (i ? ", \"" : "\"") + banners[i] + "\"";
      }
      throw KernelNotFound(message, std::move(banners));
    }
    return finish(std::move(*found));
  }

  // A kernel found earlier without this profile: the candidate it came
  // from, validated again with the profile's facts, and nothing searched.
  std::optional<LinuxKernelInfo> confirm(const LinuxKernelInfo& earlier) {
    Why why;
    std::optional<Found> found;
    std::string checks;
    if (earlier.vmcoreinfo && earlier.vmcoreinfo->plausible()) {
      // The same phys_base and paging mode; with the profile, validation
      // also compares the page-table root and reads linux_banner.
      uint64_t phys_base = earlier.physical_shift - earlier.virtual_shift;
      found = validate_vmcoreinfo(*earlier.vmcoreinfo, phys_base, earlier.paging_levels, why);
      if (facts_.top_page_table)
        checks = earlier.vmcoreinfo->kernel_offset
                     ? "the profile's " + facts_.top_page_table_name + " + KERNELOFFSET is VMCOREINFO's"
                     : "virtual shift from the profile's " + facts_.top_page_table_name;
      if (facts_.linux_banner) checks += std::string(checks.empty() ? "" : ", and ") + "its linux_banner reads back";
    } else if (facts_.top_page_table) {
      X86_64Paging paging(physical_, earlier.dtb, earlier.paging_levels, "", kProbeCachePages);
      found = validate_shifts(paging, earlier.physical_shift, earlier.virtual_shift, why);
      if (found) checks = found->detail;
    }
    if (!found) return std::nullopt;
    found->method = earlier.method;
    found->detail = earlier.method_detail + "; confirmed with the profile" + (checks.empty() ? "" : " (" + checks + ")") +
                    " instead of searching again";
    if (found->banner.empty()) {
      // The profile has no linux_banner: keep the one found without it.
      found->banner = earlier.banner;
      found->banner_address = earlier.banner_address;
      found->banner_physical = earlier.banner_physical;
    }
    for (const std::string& banner : earlier.banners_found) note_banner(banners_.size(), banner);
    return finish(std::move(*found));
  }

 private:
  // Paging modes to try, the likeliest first: forced, then what VMCOREINFO
  // or CR4 says. The other mode is still tried: notes can lie.
  std::vector<int> levels_order(std::optional<bool> l5_hint) const {
    if (options_.paging_levels) return {*options_.paging_levels};
    int first = 4;
    if (l5_hint) {
      first = *l5_hint ? 5 : 4;
    } else if (options_.use_notes) {
      for (const CpuState& cpu : notes_.cpus)
        if (cpu.cr4) {
          first = paging_levels_from_cr4(*cpu.cr4);
          break;
        }
    }
    return {first, first == 4 ? 5 : 4};
  }

  // --- VMCOREINFO -------------------------------------------------------

  std::optional<Found> try_vmcoreinfo(const VmcoreInfo& info, const std::string& method, Evidence& evidence) {
    const uint64_t root = *info.top_page_table();
    const std::string root_name = info.symbol("init_top_pgt") ? "init_top_pgt" : "swapper_pg_dir";
    if (root - kStartKernelMap >= kKernelImageSpan) {
      evidence.fail(info.source + ": SYMBOL(" + root_name + ")=" + hex(root) + " is outside the kernel image map");
      return std::nullopt;
    }
    std::vector<int> levels = levels_order(info.pgtable_l5_enabled);

    // phys_base: stated, else read off a CPU's page table (its kernel half
    // maps the kernel image like init_top_pgt does), else searched.
    std::vector<std::pair<uint64_t, std::string>> bases;
    if (info.phys_base) {
      bases.emplace_back(*info.phys_base, "NUMBER(phys_base)");
    } else {
      if (options_.use_notes) {
        std::set<uint64_t> seen;
        for (const CpuState& cpu : notes_.cpus) {
          if (!cpu.cr3 || !seen.insert(*cpu.cr3 & kTableAddressMask).second || seen.size() > 8) continue;
          for (int level : levels) {
            X86_64Paging paging(physical_, *cpu.cr3, level, "", kProbeCachePages);
            if (auto t = paging.translate(root)) {
              bases.emplace_back(t->physical - (root - kStartKernelMap), "CR3 of CPU " + std::to_string(cpu.index));
              break;
            }
          }
        }
      }
      if (bases.empty() && self_map_searches_ < kMaxSelfMapSearches) {
        ++self_map_searches_;
        bases = search_self_mapping(root, levels);
      }
    }
    if (bases.empty()) {
      evidence.fail(info.source + ": no NUMBER(phys_base), and no page table maps SYMBOL(" + root_name + ") to itself");
      return std::nullopt;
    }
    Why why;
    for (const auto& [base, how] : bases)
      for (int level : levels) {
        std::optional<Found> found = validate_vmcoreinfo(info, base, level, why);
        if (found) {
          found->method = method;
          found->detail = "VMCOREINFO (" + info.source + "), phys_base from " + how + "; " + found->detail;
          return found;
        }
      }
    evidence.fail(info.source + ": " + why.text);
    return std::nullopt;
  }

  // Physical roots P, one per 2 MiB, such that the table at P maps the
  // root's own virtual address to P: what init_top_pgt does.
  std::vector<std::pair<uint64_t, std::string>> search_self_mapping(uint64_t root, const std::vector<int>& levels) {
    std::vector<std::pair<uint64_t, std::string>> bases;
    std::vector<Range> ranges;
    physical_.ranges([&](const Range& r) {
      ranges.push_back(r);
      return true;
    });
    uint64_t tried = 0;
    for (const Range& r : ranges) {
      uint64_t first = (r.start & ~(kLargePage - 1)) + (root & (kLargePage - 1));
      if (first < r.start) first += kLargePage;
      for (uint64_t p = first; p - r.start < r.size && r.end() - p >= kPage && bases.size() < 8; p += kLargePage) {
        if (++tried > kMaxSelfMapCandidates || p < first) return bases;
        for (int level : levels)
          if (walk_table(physical_, p, level, root) == p) {
            bases.emplace_back(p - (root - kStartKernelMap), "a page-table self-map search");
            break;
          }
      }
    }
    return bases;
  }

  std::optional<Found> validate_vmcoreinfo(const VmcoreInfo& info, uint64_t phys_base, int levels, Why& why) {
    const uint64_t root = *info.top_page_table();
    const uint64_t dtb = root - kStartKernelMap + phys_base;
    if (dtb % kPage || !physical_.is_readable(dtb, kPage)) {
      why.set(Why::kNotInImage,
              "page-table root " + hex(dtb) + " (phys_base " + hex(phys_base) + ") is not a page in the image");
      return std::nullopt;
    }
    X86_64Paging paging(physical_, dtb, levels, "", kProbeCachePages);
    auto self = paging.translate(root);
    if (!self || self->physical != dtb) {
      why.set(Why::kNoSelfMap, "the table at " + hex(dtb) + " does not map " + hex(root) + " to itself (" +
                                   std::to_string(levels) + "-level)");
      return std::nullopt;
    }
    Found found;
    found.dtb = dtb;
    found.levels = levels;
    // What reads back proves the text belongs to this kernel: the release
    // in init_uts_ns, else _stext where phys_base puts it.
    std::optional<uint64_t> uts = info.symbol("init_uts_ns");
    std::optional<uint64_t> name_offset = info.offset("uts_namespace.name");
    if (uts && name_offset) {
      char name[65 * 3] = {};
      if (!paging.read(*uts + *name_offset, name, sizeof name).ok()) {
        why.set(Why::kNoReadBack, "init_uts_ns (" + hex(*uts) + ") is not mapped");
        return std::nullopt;
      }
      std::string sysname = fixed_string(name, 65), release = fixed_string(name + 130, 65);
      if (sysname != "Linux" || release != info.os_release) {
        why.set(Why::kNoReadBack, "init_uts_ns reads \"" + sysname.substr(0, 16) + "\" release \"" +
                                      release.substr(0, 64) + "\", VMCOREINFO says \"" + info.os_release + "\"");
        return std::nullopt;
      }
      found.detail = "validated by reading OSRELEASE back from init_uts_ns";
    } else if (auto stext = info.symbol("_stext")) {
      auto t = paging.translate(*stext);
      if (!t || t->physical != *stext - kStartKernelMap + phys_base) {
        why.set(Why::kNoReadBack, "_stext (" + hex(*stext) + ") does not translate to where phys_base puts it");
        return std::nullopt;
      }
      found.detail = "validated by translating _stext";
    } else {
      why.set(Why::kNoReadBack,
              "nothing to read back (no SYMBOL(init_uts_ns) with OFFSET(uts_namespace.name), no SYMBOL(_stext))");
      return std::nullopt;
    }

    if (info.kernel_offset) {
      found.virtual_shift = *info.kernel_offset;
    } else if (facts_.top_page_table) {
      found.virtual_shift = root - *facts_.top_page_table;
    } else {
      found.warnings.push_back("VMCOREINFO has no KERNELOFFSET: virtual shift assumed to be 0");
    }
    found.physical_shift = phys_base + found.virtual_shift;
    found.vmcoreinfo = info;

    // With a profile, the kernel must be the profile's.
    if (facts_.top_page_table && *facts_.top_page_table + found.virtual_shift != root) {
      why.set(Why::kProfileMismatch, "the profile's " + facts_.top_page_table_name + " (" +
                                         hex(*facts_.top_page_table) + ") + KERNELOFFSET " + hex(found.virtual_shift) +
                                         " is not SYMBOL(" + facts_.top_page_table_name + ") " + hex(root) +
                                         ": the profile is for another kernel build");
      return std::nullopt;
    }
    if (facts_.linux_banner && !read_profile_banner(paging, found, why)) return std::nullopt;
    return found;
  }

  // Reads linux_banner through `paging` at the profile's address + shift
  // and checks it against the profile's banner.
  bool read_profile_banner(X86_64Paging& paging, Found& found, Why& why) {
    uint64_t address = *facts_.linux_banner + found.virtual_shift;
    auto t = paging.translate(address);
    std::string banner = t ? read_banner(paging, address) : "";
    if (!looks_like_linux_banner(banner)) {
      why.set(Why::kNoReadBack, "the profile's linux_banner + shift (" + hex(address) + ") " +
                                    (t ? "does not hold a banner" : "is not mapped"));
      return false;
    }
    if (!facts_.banner.empty() && banner != facts_.banner) {
      why.set(Why::kProfileMismatch, "banner \"" + banner.substr(0, 80) + "\" differs from the profile's \"" +
                                         facts_.banner.substr(0, 80) + "\"");
      return false;
    }
    found.banner = banner;
    found.banner_address = address;
    found.banner_physical = t->physical;
    return true;
  }

  // --- Profile symbols at a candidate physical shift ----------------------

  // Virtual shifts voted by init_task's pointers to other kernel-image
  // objects (init_task.files == &init_files, ...), most votes first.
  std::vector<uint64_t> virtual_shift_votes(uint64_t physical_shift) {
    std::vector<uint64_t> result;
    if (!facts_.init_task) return result;
    uint64_t task = *facts_.init_task - kStartKernelMap + physical_shift;
    std::map<uint64_t, int> votes;
    for (const auto& [offset, target] : facts_.pointers) {
      uint64_t value = 0;
      if (physical_.read(task + offset, &value, 8).done != 8) continue;
      uint64_t shift = value - target;
      if (shift % kPage == 0 && shift < kKernelImageSpan) ++votes[shift];
    }
    std::vector<std::pair<int, uint64_t>> ranked;
    for (const auto& [shift, count] : votes) ranked.emplace_back(count, shift);
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t i = 0; i < ranked.size() && i < 3; ++i) result.push_back(ranked[i].second);
    return result;
  }

  // Checks a (physical, virtual) shift pair through `paging` (built on the
  // DTB the physical shift gives): the table maps itself, and linux_banner
  // (else init_task.comm) reads back where the shifts put it.
  std::optional<Found> validate_shifts(X86_64Paging& paging, uint64_t physical_shift, uint64_t shift, Why& why) {
    const uint64_t root = *facts_.top_page_table;
    auto self = paging.translate(root + shift);
    if (!self || self->physical != paging.table_base()) {
      why.set(Why::kNoSelfMap, "the table at " + hex(paging.table_base()) + " does not map " +
                                   facts_.top_page_table_name + " + " + hex(shift) + " to itself (" +
                                   std::to_string(paging.levels()) + "-level)");
      return std::nullopt;
    }
    Found found;
    found.dtb = paging.table_base();
    found.levels = paging.levels();
    found.virtual_shift = shift;
    found.physical_shift = physical_shift;
    if (facts_.linux_banner) {
      if (!read_profile_banner(paging, found, why)) return std::nullopt;
      if (*found.banner_physical != *facts_.linux_banner - kStartKernelMap + physical_shift) {
        why.set(Why::kNoReadBack,
                "linux_banner translates to " + hex(*found.banner_physical) + ", not where the physical shift puts it");
        return std::nullopt;
      }
      found.detail = "validated by reading linux_banner through the page tables";
    } else if (facts_.init_task && facts_.comm_offset) {
      uint64_t comm = *facts_.init_task + shift + *facts_.comm_offset;
      std::string name = read_c_string(paging, comm, 16);
      if (name != kInitTaskComm) {
        why.set(Why::kNoReadBack, "init_task.comm reads \"" + name + "\", not \"swapper/0\"");
        return std::nullopt;
      }
      found.detail = "validated by reading init_task.comm through the page tables";
    } else {
      why.set(Why::kProfileMismatch,
              "the profile has neither linux_banner nor init_task with task_struct.comm to read back");
      return std::nullopt;
    }
    return found;
  }

  std::optional<Found> try_physical_shift(uint64_t physical_shift, const std::string& method,
                                          const std::string& evidence_text, Evidence& evidence) {
    ++evidence.tried;
    const uint64_t root = *facts_.top_page_table;
    const uint64_t dtb = root - kStartKernelMap + physical_shift;
    if (physical_shift % kPage || !physical_.is_readable(dtb, kPage)) {
      evidence.fail(evidence_text + ": " + facts_.top_page_table_name + " would be at " + hex(dtb) +
                    ", not a page of the image");
      return std::nullopt;
    }
    std::vector<uint64_t> votes = virtual_shift_votes(physical_shift);
    Why why;
    why.set(Why::kNoSelfMap, "no virtual shift maps " + facts_.top_page_table_name + " to " + hex(dtb));
    for (int levels : levels_order(std::nullopt)) {
      X86_64Paging paging(physical_, dtb, levels, "", kProbeCachePages);
      for (uint64_t shift : votes)
        if (auto found = validate_shifts(paging, physical_shift, shift, why)) {
          found->method = method;
          found->detail = evidence_text + "; virtual shift from init_task's pointers; " + found->detail;
          return found;
        }
      // No pointer evidence (no init_task or task_struct in the profile), or
      // pointers that lie: the shifts at which the table maps its own
      // address.
      size_t candidates = 0;
      for (uint64_t shift = 0; shift < kKernelImageSpan && candidates < 4; shift += kLargePage) {
        auto t = paging.translate(root + shift);
        if (!t || t->physical != dtb || std::find(votes.begin(), votes.end(), shift) != votes.end()) continue;
        ++candidates;
        if (auto found = validate_shifts(paging, physical_shift, shift, why)) {
          found->method = method;
          found->detail = evidence_text + "; virtual shift from the page table's self-map; " + found->detail;
          return found;
        }
      }
    }
    evidence.fail(evidence_text + ": " + why.text);
    return std::nullopt;
  }

  // --- The banner probe -------------------------------------------------

  // With a profile, linux_banner can only be at a 2 MiB step from its
  // link-time place: the kernel is loaded 2 MiB-aligned (head64.c stops
  // otherwise) and linked 2 MiB-aligned. Reading the banner's first bytes at
  // each such place the image holds, lowest first, touches one page per
  // 2 MiB instead of every page up to the kernel, and usually ends at the
  // first place. Candidates are validated as the scan's are, with the same
  // bound (max_candidates); the scan still runs if none validates, and does
  // not validate the same shift again.
  std::optional<Found> probe_banner() {
    Evidence evidence{"linux_banner at 2 MiB-aligned load addresses"};
    std::optional<Found> found;
    if (!facts_.linux_banner || !facts_.top_page_table) {
      evidence.note = has_profile_ ? "the profile lacks linux_banner or init_top_pgt" : "no profile";
      evidence_.push_back(evidence);
      return found;
    }
    const uint64_t link_offset = *facts_.linux_banner - kStartKernelMap;
    std::vector<Range> ranges;
    physical_.ranges([&](const Range& r) {
      ranges.push_back(r);
      return true;
    });
    uint64_t probes = 0;
    for (const Range& r : ranges) {
      uint64_t first = (r.start & ~(kLargePage - 1)) + (link_offset & (kLargePage - 1));
      if (first < r.start) first += kLargePage;
      for (uint64_t at = first; !found && at >= first && at - r.start < r.size; at += kLargePage) {
        if (++probes > kMaxSelfMapCandidates || evidence.tried >= options_.max_candidates) break;
        char head[kBannerMarker.size()];
        if (physical_.read(at, head, sizeof head).done != sizeof head ||
            std::string_view(head, sizeof head) != kBannerMarker)
          continue;
        std::string banner = read_banner(physical_, at);
        if (!looks_like_linux_banner(banner)) continue;
        note_banner(at, banner);
        uint64_t shift = at - link_offset;
        if (!shifts_tried_.insert(shift).second) continue;
        found = try_physical_shift(shift, "banner probe",
                                   "banner at physical " + hex(at) + " (linux_banner's place for a 2 MiB-aligned load)",
                                   evidence);
      }
      if (found) break;
    }
    if (!found && evidence.tried == 0) evidence.note = std::to_string(probes) + " place(s) read, no banner there";
    evidence_.push_back(evidence);
    return found;
  }

  // --- The memory scan --------------------------------------------------

  void note_banner(uint64_t address, const std::string& banner) {
    auto same = std::find_if(banners_.begin(), banners_.end(), [&](const auto& seen) { return seen.second == banner; });
    if (same != banners_.end()) {
      same->first = std::min(same->first, address);
      return;
    }
    if (banners_.size() < options_.max_banners_listed) banners_.emplace_back(address, banner);
  }

  std::vector<std::string> banners_in_address_order() const {
    auto ordered = banners_;
    std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> out;
    for (auto& [address, banner] : ordered) out.push_back(std::move(banner));
    return out;
  }

  void scan(std::optional<Found>& found) {
    enum : size_t { kVmcoreinfo, kBanner, kSwapper };
    std::vector<ScanPattern> patterns{{std::string(kVmcoreinfoMarker)}, {std::string(kBannerMarker)}};
    const bool banners_locate = facts_.linux_banner && facts_.top_page_table;
    const bool swapper_locates = facts_.init_task && facts_.comm_offset && facts_.top_page_table;
    if (swapper_locates) {
      // init_task.comm sits at a fixed page offset: physical and virtual
      // shifts are multiples of 4 KiB.
      uint64_t comm_link = *facts_.init_task + *facts_.comm_offset;
      patterns.push_back(ScanPattern{std::string(kInitTaskComm) + '\0', kPage, comm_link % kPage});
    }
    Evidence in_memory{"VMCOREINFO in memory"};
    Evidence banners{"banners"};
    Evidence tasks{"init_task (swapper/0)"};
    if (!banners_locate) banners.note = has_profile_ ? "the profile lacks linux_banner or init_top_pgt" : "no profile";
    if (!swapper_locates)
      tasks.note = has_profile_ ? "the profile lacks init_task, task_struct.comm or init_top_pgt" : "no profile";
    size_t vmcoreinfo_texts = 0, texts_read = 0;

    auto visit = [&](const ScanHit& hit) -> bool {
      if (found && !options_.list_all_banners) return false;
      switch (hit.pattern) {
        case kVmcoreinfo: {
          // Copies are cheap to plant: bound the texts read, not only the
          // ones validated.
          if (found || in_memory.tried >= options_.max_candidates ||
              texts_read >= kTextsReadPerCandidate * options_.max_candidates)
            return true;
          ++texts_read;
          std::optional<VmcoreInfo> info = read_vmcoreinfo_at(physical_, hit.address);
          if (!info) return true;
          ++vmcoreinfo_texts;
          // The kernel keeps two copies (vmcoreinfo_data and the note), and
          // an attacker may plant thousands: validate each text once.
          if (!texts_seen_.insert(info->text).second) return true;
          ++in_memory.tried;
          found = try_vmcoreinfo(*info, "vmcoreinfo in memory", in_memory);
          break;
        }
        case kBanner: {
          uint64_t link_offset = banners_locate ? *facts_.linux_banner - kStartKernelMap : 0;
          bool locates = banners_locate && (hit.address - link_offset) % kPage == 0;
          uint64_t shift = hit.address - link_offset;
          bool will_try = locates && !found && banners.tried < options_.max_candidates && !shifts_tried_.count(shift);
          if (banners_.size() >= options_.max_banners_listed && !will_try) return true;
          std::string banner = read_banner(physical_, hit.address);
          if (!looks_like_linux_banner(banner)) return true;
          note_banner(hit.address, banner);
          if (!will_try) return true;
          shifts_tried_.insert(shift);
          found = try_physical_shift(shift, "banner scan", "banner at physical " + hex(hit.address), banners);
          break;
        }
        case kSwapper: {
          if (found || tasks.tried >= options_.max_candidates) return true;
          uint64_t shift = hit.address - *facts_.comm_offset - (*facts_.init_task - kStartKernelMap);
          if (!shifts_tried_.insert(shift).second) return true;
          found = try_physical_shift(shift, "init_task scan",
                                     "\"swapper/0\" at physical " + hex(hit.address) + " (init_task.comm)", tasks);
          break;
        }
      }
      return !found || options_.list_all_banners;
    };
    ScanOptions scan_options;
    scan_options.threads = options_.threads;
    scan_options.progress = "searching for the kernel";
    ScanStats stats = scan_physical(physical_, patterns, visit, scan_options);
    if (in_memory.tried == 0) in_memory.note = vmcoreinfo_texts ? "only copies of a text already tried" : "none found";
    Evidence scanned{"memory scan"};
    scanned.note = std::to_string(stats.bytes_scanned >> 20) + " MiB scanned" +
                   (stats.bytes_skipped ? ", " + std::to_string(stats.bytes_skipped >> 20) + " MiB of holes skipped" : "") +
                   (stats.interrupted          ? " (interrupted)"
                    : stats.stopped_early      ? " (stopped at the first validated answer)"
                                               : "");
    evidence_.push_back(scanned);
    evidence_.push_back(in_memory);
    evidence_.push_back(banners);
    evidence_.push_back(tasks);
  }

  // --- CPU registers ----------------------------------------------------

  // A CPU's CR3 maps the kernel image in its upper half whatever process
  // ran: find linux_banner (or init_task) through it, at each possible
  // 2 MiB-aligned virtual shift.
  std::optional<Found> try_cpu_notes() {
    Evidence evidence{"CPU notes (CR3)"};
    std::set<uint64_t> seen;
    for (const CpuState& cpu : notes_.cpus)
      if (cpu.cr3) seen.insert(*cpu.cr3 & kTableAddressMask);
    if (seen.empty()) {
      evidence.note = "no CR3 in the image's notes";
    } else if (!facts_.top_page_table || !(facts_.linux_banner || (facts_.init_task && facts_.comm_offset))) {
      evidence.note = has_profile_ ? "the profile lacks the symbols to look up through CR3"
                                   : "without a profile a CR3 alone does not locate the kernel's symbols";
    } else {
      seen.clear();
      for (const CpuState& cpu : notes_.cpus) {
        if (!cpu.cr3 || !seen.insert(*cpu.cr3 & kTableAddressMask).second) continue;
        if (seen.size() > options_.max_candidates) break;
        std::vector<int> levels = cpu.cr4 && !options_.paging_levels
                                      ? std::vector<int>{paging_levels_from_cr4(*cpu.cr4)}
                                      : levels_order(std::nullopt);
        for (int level : levels) {
          X86_64Paging paging(physical_, *cpu.cr3, level, "", kProbeCachePages);
          uint64_t probe = facts_.linux_banner ? *facts_.linux_banner : *facts_.init_task + *facts_.comm_offset;
          std::string_view expect = facts_.linux_banner ? kBannerMarker : kInitTaskComm;
          for (uint64_t shift = 0; shift < kKernelImageSpan; shift += kLargePage) {
            auto t = paging.translate(probe + shift);
            if (!t) continue;
            char head[16] = {};
            if (physical_.read(t->physical, head, expect.size()).done != expect.size() ||
                std::string_view(head, expect.size()) != expect)
              continue;
            uint64_t link_offset = probe - kStartKernelMap;
            std::optional<Found> found =
                try_physical_shift(t->physical - link_offset, "cpu note",
                                   "CR3 " + hex(*cpu.cr3) + " of CPU " + std::to_string(cpu.index), evidence);
            if (found) {
              evidence_.push_back(evidence);
              return found;
            }
          }
        }
      }
    }
    evidence_.push_back(evidence);
    return std::nullopt;
  }

  // --- The answer -------------------------------------------------------

  // Without a profile the banner's address is not known: ask kallsyms
  // (6.x VMCOREINFO gives its tables), else look for this release's banner
  // in the kernel image's physical pages.
  void find_banner_without_profile(Found& found) {
    if (!found.banner.empty() || !found.vmcoreinfo) return;
    const VmcoreInfo& info = *found.vmcoreinfo;
    X86_64Paging paging(physical_, found.dtb, found.levels, "", kProbeCachePages);
    if (auto tables = kallsyms_tables(info)) {
      try {
        auto symbols = lookup_kallsyms(paging, *tables, {"linux_banner"});
        if (auto it = symbols.find("linux_banner"); it != symbols.end()) {
          std::string banner = read_banner(paging, it->second);
          if (looks_like_linux_banner(banner) && linux_release_of(banner) == info.os_release) {
            found.banner = banner;
            found.banner_address = it->second;
            if (auto t = paging.translate(it->second)) found.banner_physical = t->physical;
            found.detail += "; banner located with kallsyms";
            return;
          }
        }
      } catch (const Error& e) {
        found.warnings.push_back(std::string("kallsyms unreadable: ") + e.what());
      }
    }
    std::optional<uint64_t> text = info.symbol("_stext");
    auto start = text ? paging.translate(*text) : std::nullopt;
    if (!start) return;
    std::string wanted = std::string(kBannerMarker) + info.os_release + " ";
    ScanOptions window;
    window.threads = options_.threads;
    window.begin = start->physical;
    window.end = start->physical + kKernelBannerSearchSpan;
    scan_physical(
        physical_, {{wanted}},
        [&](const ScanHit& hit) {
          std::string banner = read_banner(physical_, hit.address);
          if (!looks_like_linux_banner(banner)) return true;
          found.banner = banner;
          found.banner_physical = hit.address;
          found.detail += "; banner found in the kernel image's pages";
          return false;
        },
        window);
  }

  LinuxKernelInfo finish(Found found) {
    find_banner_without_profile(found);
    LinuxKernelInfo info;
    info.banner = found.banner;
    info.os_release = found.vmcoreinfo ? found.vmcoreinfo->os_release : linux_release_of(found.banner);
    info.virtual_shift = found.virtual_shift;
    info.physical_shift = found.physical_shift;
    info.dtb = found.dtb;
    info.paging_levels = found.levels;
    info.method = found.method;
    info.method_detail = found.detail;
    info.banner_address = found.banner_address;
    info.banner_physical = found.banner_physical;
    info.vmcoreinfo = std::move(found.vmcoreinfo);
    info.warnings = std::move(found.warnings);
    if (info.banner.empty()) info.warnings.push_back("the kernel's banner could not be located");
    if (!info.banner.empty() && linux_release_of(info.banner) != info.os_release)
      info.warnings.push_back("banner release \"" + linux_release_of(info.banner) + "\" differs from OSRELEASE \"" +
                              info.os_release + "\"");
    info.banners_found = banners_in_address_order();
    if (!info.banner.empty() &&
        std::find(info.banners_found.begin(), info.banners_found.end(), info.banner) == info.banners_found.end())
      info.banners_found.push_back(info.banner);
    return info;
  }

  AddressSpace& physical_;
  const ImageNotes& notes_;
  ProfileFacts facts_;
  bool has_profile_;
  const DiscoveryOptions& options_;
  std::string image_;
  std::vector<Evidence> evidence_;
  // Distinct banners seen, with the lowest address each was seen at: the
  // probe and the scan see them in different orders.
  std::vector<std::pair<uint64_t, std::string>> banners_;
  // VMCOREINFO texts already validated (the note's text is also in RAM).
  std::set<std::string> texts_seen_;
  // Physical shifts already validated (the probe's are the scan's first).
  std::set<uint64_t> shifts_tried_;
  int self_map_searches_ = 0;
};

}  // namespace

LinuxKernelInfo discover_linux_kernel(AddressSpace& physical, const ImageNotes& notes, const Profile* profile,
                                      const DiscoveryOptions& options) {
  if (options.paging_levels && *options.paging_levels != 4 && *options.paging_levels != 5)
    throw Error("kernel discovery: " + std::to_string(*options.paging_levels) + "-level paging does not exist");
  std::string image = options.image_name;
  if (image.empty()) {
    const auto* layer = dynamic_cast<const PhysicalLayer*>(&physical);
    image = layer ? layer->path() : physical.name();
  }
  return Discovery(physical, notes, profile, options, image).run();
}

LinuxKernelInfo discover_linux_kernel(PhysicalLayer& layer, const Profile* profile, const DiscoveryOptions& options) {
  return discover_linux_kernel(layer, layer.notes(), profile, options);
}

std::optional<LinuxKernelInfo> confirm_linux_kernel(AddressSpace& physical, const LinuxKernelInfo& found,
                                                    const Profile& profile, const DiscoveryOptions& options) {
  if (found.paging_levels != 4 && found.paging_levels != 5) return std::nullopt;
  const ImageNotes no_notes;  // the candidate is given: nothing to look up
  return Discovery(physical, no_notes, &profile, options, options.image_name).confirm(found);
}

}  // namespace memscope
