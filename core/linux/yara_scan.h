// YARA over a memory image, through Debian's libyara: rules compiled once,
// then each process's memory scanned as the process sees it, and, for the
// kernel, physical memory scanned by core/scan's engine.
//
// Processes. A process's memory is its VMAs; the bytes are the pages its
// page tables map that the image holds (pages not present, swapped out or
// never touched, are not there to scan). Each stretch of pages that is
// contiguous in virtual memory inside one VMA is one YARA memory block,
// copied together from wherever the pages lie physically, so a string
// that spans two pages far apart in RAM is found. All blocks of a process
// go to one yr_scanner_scan_mem_blocks call through YARA's memory-block
// iterator: a rule's condition sees the whole process (`#a > 2` counts
// over every VMA). A stretch longer than kMaxBlock is cut into blocks that
// overlap by kBlockOverlap bytes, so that a match across the cut is still
// whole in one of them (the one reported twice is reported once).
//
// Reads stay on the calling thread (layers are not thread-safe): YARA
// scans on worker threads, one process each, and when YARA asks for a
// block's bytes the calling thread copies them, with the blocks after it
// up to 4 MiB in all, into that worker's buffer (so a worker waits a few
// times per process, not once per block). Memory in flight is one buffer
// per worker (at most kMaxBlock), whatever the processes' sizes.
//
// Kernel. Physical memory through scan_chunks (core/scan/scan_engine.h):
// every core, the evidence used in place, holes skipped, progress and
// Ctrl-C; each chunk is one YARA scan (conditions see one chunk) with a
// lookahead, so a match across a chunk's end is found in the chunk it
// starts in.
//
// Bounded: at most kMaxMatchesPerString matches of one string in one
// process (or in the kernel scan) are kept, the rest counted; YARA's own
// per-string limit applies below that.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/layers/address_space.h"
#include "core/layers/x86_64_paging.h"
#include "core/linux/kernel_view.h"
#include "core/linux/warnings.h"
#include "core/scan/cancel.h"

struct YR_RULES;

namespace memscope::linux_kernel {

// Compiled YARA rules. Compilation errors are an Error naming the file
// (or "--yara-string") and the line: "rules.yar:3: syntax error, ...".
class YaraRules {
 public:
  static YaraRules from_file(const std::string& path);
  // `name` stands for the file in messages.
  static YaraRules from_string(const std::string& source, const std::string& name = "--yara-string");
  // A rule `name` matching `text` as a plain string (the --yara-string
  // convenience when the text is not a rule): the text is escaped.
  static std::string rule_for_text(const std::string& text, const std::string& name = "yara_string");

  YaraRules(YaraRules&& other) noexcept;
  YaraRules& operator=(YaraRules&& other) noexcept;
  YaraRules(const YaraRules&) = delete;
  YaraRules& operator=(const YaraRules&) = delete;
  ~YaraRules();

  YR_RULES* get() const { return rules_; }
  size_t rule_count() const;

 private:
  explicit YaraRules(YR_RULES* rules) : rules_(rules) {}
  YR_RULES* rules_ = nullptr;
};

struct YaraMatch {
  std::string rule;
  std::string string;  // "$a"; empty for a rule that matched without a string match
  std::optional<uint64_t> address;
  uint64_t length = 0;         // bytes matched
  std::vector<uint8_t> data;   // the first of them (at most kMatchBytes)
};

// What a match is shown as: the bytes in hex, two spaces, then printable
// ASCII with '.' for the rest.
std::string format_match_bytes(const std::vector<uint8_t>& data);

struct YaraScanOptions {
  unsigned threads = 0;  // 0: every core
  std::string progress;  // progress bar label ("" for none)
  const CancelToken* cancel = &interrupt_token();
};

// One process to scan: its page tables and its VMAs.
struct YaraProcess {
  std::string label;  // Task::label(), for messages
  uint64_t pgd_physical = 0;
  std::vector<Range> vmas;  // [start, start + size), ascending
};

struct YaraProcessResult {
  std::vector<YaraMatch> matches;
  uint64_t bytes_scanned = 0;
  uint64_t blocks = 0;
};

// A process's memory as YARA blocks: the pages of `space` mapped inside
// `vmas`, cut into virtually contiguous stretches (see above).
std::vector<Range> yara_blocks(const X86_64Paging& space, const std::vector<Range>& vmas);

// Where the kernel sees a physical address: inside the kernel image (its
// text and data, from _text to _end, loaded contiguously, but for the init
// sections freed after boot) at the image's address, else at its
// direct-map address (page_offset_base + physical),
// each checked by translating it back through the kernel's page tables;
// nullopt when neither maps there (memory the kernel does not map, such
// as firmware ranges in some images).
class KernelAddresses {
 public:
  explicit KernelAddresses(const KernelView& kernel);
  std::optional<uint64_t> virtual_of(uint64_t physical) const;

 private:
  const KernelView& kernel_;
  std::optional<uint64_t> image_virtual_, image_physical_, page_offset_base_;
  uint64_t image_size_ = 0;
  uint64_t init_offset_ = 0, init_size_ = 0;  // __init_begin.. __init_end in the image, freed after boot
};

class YaraScanner {
 public:
  static constexpr size_t kMaxBlock = size_t{16} << 20;
  static constexpr size_t kBlockOverlap = size_t{64} << 10;
  static constexpr size_t kMatchBytes = 64;
  static constexpr size_t kMaxMatchesPerString = 1000;

  YaraScanner(const KernelView& kernel, const YaraRules& rules, YaraScanOptions options = {});

  // Scans each process, results in the order given. Problems (an
  // unreadable page table, too many matches, an interrupted scan) go to
  // `warnings`, naming the process.
  std::vector<YaraProcessResult> scan_processes(const std::vector<YaraProcess>& processes, Warnings& warnings);

  // Scans `physical` (the layer below the kernel's space) and calls
  // `found` on the calling thread, in address order, with each match at
  // its physical address. Returns false when interrupted.
  bool scan_physical(AddressSpace& physical, const std::function<void(const YaraMatch&)>& found,
                     Warnings& warnings);

 private:
  const KernelView& kernel_;
  const YaraRules& rules_;
  YaraScanOptions options_;
};

}  // namespace memscope::linux_kernel
