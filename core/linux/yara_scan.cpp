#include "core/linux/yara_scan.h"

#include <yara.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "core/scan/scan_engine.h"
#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/util/progress.h"

namespace memscope::linux_kernel {
namespace {

// The lowest kernel-half address: user space lies below it with 4- and
// 5-level paging alike (bit 63 set is the kernel's half).
constexpr uint64_t kKernelHalf = uint64_t{1} << 63;

// Keeps libyara initialised while rules exist (yr_initialize counts).
void yara_initialize() {
  int error = yr_initialize();
  if (error != ERROR_SUCCESS) throw Error("libyara cannot be initialised (error " + std::to_string(error) + ")");
}

struct CompileErrors {
  std::string name;
  std::vector<std::string> messages;
};

void on_compile_message(int level, const char* file, int line, const YR_RULE*, const char* message, void* user) {
  auto* errors = static_cast<CompileErrors*>(user);
  if (level != YARA_ERROR_LEVEL_ERROR) return;
  errors->messages.push_back((file && *file ? std::string(file) : errors->name) + ":" + std::to_string(line) + ": " +
                             (message ? message : "error"));
}

// Compiles with `add` (which adds the source to the compiler and returns
// the number of errors); throws naming `name` and the lines.
YR_RULES* compile(const std::string& name, const std::function<int(YR_COMPILER*)>& add) {
  YR_COMPILER* compiler = nullptr;
  if (yr_compiler_create(&compiler) != ERROR_SUCCESS) throw Error("libyara: cannot create a compiler");
  CompileErrors errors{name, {}};
  yr_compiler_set_callback(compiler, on_compile_message, &errors);
  int count = add(compiler);
  YR_RULES* rules = nullptr;
  if (count == 0 && yr_compiler_get_rules(compiler, &rules) != ERROR_SUCCESS) errors.messages.push_back(name + ": cannot build the rules");
  yr_compiler_destroy(compiler);
  if (count > 0 || !rules) {
    std::string message = "YARA rules do not compile: ";
    for (size_t i = 0; i < errors.messages.size(); ++i) message += (i ? "; " : "") + errors.messages[i];
    if (errors.messages.empty()) message += name + ": " + std::to_string(count) + " errors";
    throw Error(message);
  }
  return rules;
}

// What YARA calls back with while scanning one process or chunk.
struct MatchSink {
  const YR_RULES* rules = nullptr;
  // Process scans: the matches, each string's addresses seen (blocks
  // overlap), and what was over the cap.
  std::vector<YaraMatch>* matches = nullptr;
  std::map<uint32_t, std::set<uint64_t>> seen;
  std::map<uint32_t, uint64_t> dropped;
  bool too_many = false;
  // Chunk scans: candidates starting in [0, chunk_size).
  CandidateSink* candidates = nullptr;
  uint64_t chunk_address = 0;
  size_t chunk_size = 0;
};

constexpr uint64_t kNoStringTag = uint64_t{1} << 32;  // tag of a rule matched without a string: | rule index

int on_scan_message(YR_SCAN_CONTEXT* context, int message, void* data, void* user) {
  auto* sink = static_cast<MatchSink*>(user);
  if (message == CALLBACK_MSG_TOO_MANY_MATCHES) {
    sink->too_many = true;
    return CALLBACK_CONTINUE;
  }
  if (message != CALLBACK_MSG_RULE_MATCHING) return CALLBACK_CONTINUE;
  auto* rule = static_cast<YR_RULE*>(data);
  const uint32_t rule_index = static_cast<uint32_t>(rule - sink->rules->rules_table);
  bool any = false;
  YR_STRING* string = nullptr;
  yr_rule_strings_foreach(rule, string) {
    if (STRING_IS_PRIVATE(string)) continue;
    // libyara 4.2 keeps matches in a notebook that does not align its
    // records, so each is copied out before any field is read: a member
    // access through a misaligned pointer is undefined (UBSan reports
    // it), a byte copy is not. This is the walk yr_string_matches_foreach
    // does, skipping private matches as it does.
    const YR_MATCH* next = context->matches[string->idx].head;
    while (next != nullptr) {
      YR_MATCH record;
      std::memcpy(&record, next, sizeof record);
      next = record.next;
      if (record.is_private) continue;
      const YR_MATCH* match = &record;
      const uint64_t offset = static_cast<uint64_t>(match->offset);
      if (sink->candidates) {
        if (offset >= sink->chunk_size) continue;  // the next chunk's: it starts there
        any = true;
        sink->candidates->add(sink->chunk_address + offset, string->idx, static_cast<uint64_t>(match->match_length));
        continue;
      }
      const uint64_t address = static_cast<uint64_t>(match->base) + offset;
      std::set<uint64_t>& seen = sink->seen[string->idx];
      if (!seen.insert(address).second) continue;  // found again where two blocks overlap
      any = true;
      if (seen.size() > YaraScanner::kMaxMatchesPerString) {
        ++sink->dropped[string->idx];
        continue;
      }
      YaraMatch out;
      out.rule = rule->identifier;
      out.string = string->identifier;
      out.address = address;
      out.length = static_cast<uint64_t>(match->match_length);
      size_t kept = std::min<size_t>(static_cast<size_t>(std::max(match->data_length, 0)), YaraScanner::kMatchBytes);
      out.data.assign(match->data, match->data + kept);
      sink->matches->push_back(std::move(out));
    }
  }
  if (!any) {
    // The condition held without a string match to show (`condition:
    // filesize > 0`, or only private strings matched).
    if (sink->candidates) {
      sink->candidates->add(sink->chunk_address, kNoStringTag | rule_index, 0);
    } else {
      YaraMatch out;
      out.rule = rule->identifier;
      sink->matches->push_back(std::move(out));
    }
  }
  return CALLBACK_CONTINUE;
}

struct ScannerHandle {
  YR_SCANNER* scanner = nullptr;
  explicit ScannerHandle(YR_RULES* rules) {
    int error = yr_scanner_create(rules, &scanner);
    if (error != ERROR_SUCCESS) throw Error("libyara: cannot create a scanner (error " + std::to_string(error) + ")");
  }
  ~ScannerHandle() {
    if (scanner) yr_scanner_destroy(scanner);
  }
  ScannerHandle(const ScannerHandle&) = delete;
  ScannerHandle& operator=(const ScannerHandle&) = delete;
};

std::string yara_error(int code) {
  switch (code) {
    case ERROR_INSUFFICIENT_MEMORY: return "out of memory";
    case ERROR_TOO_MANY_MATCHES: return "too many matches";
    default: return "libyara error " + std::to_string(code);
  }
}

// --- Processes: YARA on the workers, reads on the calling thread ---------------

struct ProcessJob {
  size_t index = 0;
  const YaraProcess* process = nullptr;
  std::vector<Range> blocks;
  std::unique_ptr<X86_64Paging> space;  // the calling thread's only
  YaraProcessResult result;
  std::map<uint32_t, uint64_t> dropped;
  bool too_many = false;
  std::string error;
  // Pages the page tables map that the image does not hold (a physical
  // range not captured, device memory), scanned as zeros, and the first.
  uint64_t unreadable_pages = 0;
  uint64_t first_unreadable = 0;
};

constexpr uint64_t kPage = 4096;

// Reads `block` of the job's process into `into`; a page that cannot be
// read is zeros, counted. Blocks are page-aligned (VMAs and mappings are).
void read_block(ProcessJob& job, const Range& block, uint8_t* into) {
  IoResult io = job.space->read(block.start, into, block.size);
  if (io.ok()) return;
  // Rare: page by page from the one that failed.
  for (uint64_t at = io.done & ~(kPage - 1); at < block.size; at += kPage) {
    const uint64_t n = std::min<uint64_t>(kPage, block.size - at);
    if (job.space->read(block.start + at, into + at, n).ok()) continue;
    std::memset(into + at, 0, n);
    if (job.unreadable_pages++ == 0) job.first_unreadable = block.start + at;
  }
}

// A batch of a process's blocks, asked for by a worker, copied in by the
// calling thread: blocks [first, end) one after the other in `buffer`.
// Small blocks go together (a process's memory is mostly small VMAs), so
// that a worker waits for the calling thread a few times per process
// rather than once per block.
struct BlockRequest {
  ProcessJob* job = nullptr;
  size_t first = 0, end = 0;
  uint8_t* buffer = nullptr;
  std::vector<uint8_t>* ok = nullptr;  // per block of the batch: read whole
  bool served = false;
};

// Bytes of blocks fetched together at most (a block larger than this, up
// to kMaxBlock, is fetched alone).
constexpr uint64_t kBatchBytes = uint64_t{4} << 20;

struct Pipeline {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<ProcessJob*> jobs;          // for the workers
  std::deque<BlockRequest*> requests;    // for the calling thread
  std::deque<ProcessJob*> finished;      // for the calling thread
  bool stop = false;
  const CancelToken* cancel = nullptr;
  bool cancelled() const { return cancel && cancel->requested(); }
};

// A worker's buffer for batches: grown, never zero-filled (every byte
// YARA is given is copied in first).
struct BatchBuffer {
  std::unique_ptr<uint8_t[]> bytes;
  uint64_t size = 0;
  uint8_t* at_least(uint64_t n) {
    if (size < n) {
      bytes.reset();
      bytes = std::make_unique_for_overwrite<uint8_t[]>(n);
      size = n;
    }
    return bytes.get();
  }
};

// The memory-block iterator YARA walks for one process. YARA asks for a
// block's bytes once, in order, and uses them until it asks for the next
// block's: a batch in the buffer serves the blocks it holds.
struct BlockIterator {
  Pipeline* pipeline = nullptr;
  ProcessJob* job = nullptr;
  BatchBuffer* buffer = nullptr;
  size_t next = 0;
  size_t batch_first = 0, batch_end = 0;  // the blocks in the buffer
  std::vector<uint64_t> offsets;          // of each of them in the buffer
  std::vector<uint8_t> ok;
  YR_MEMORY_BLOCK block{};
  YR_MEMORY_BLOCK_ITERATOR yara{};
};

const uint8_t* fetch_block(YR_MEMORY_BLOCK* block) {
  auto* it = static_cast<BlockIterator*>(block->context);
  const size_t index = it->next - 1;
  if (index < it->batch_first || index >= it->batch_end) {
    // The next batch: this block and the ones after it that fit.
    const std::vector<Range>& blocks = it->job->blocks;
    uint64_t bytes = blocks[index].size;
    size_t end = index + 1;
    while (end < blocks.size() && bytes + blocks[end].size <= kBatchBytes) bytes += blocks[end++].size;
    uint8_t* into = it->buffer->at_least(bytes);
    it->offsets.clear();
    for (size_t i = index, at = 0; i < end; at += blocks[i++].size) it->offsets.push_back(at);
    it->ok.assign(end - index, 0);
    it->batch_first = index;
    it->batch_end = end;
    Pipeline& p = *it->pipeline;
    BlockRequest request{it->job, index, end, into, &it->ok};
    std::unique_lock lock(p.mutex);
    p.requests.push_back(&request);
    p.changed.notify_all();
    p.changed.wait(lock, [&] { return request.served; });
  }
  const size_t k = index - it->batch_first;
  return it->ok[k] ? it->buffer->bytes.get() + it->offsets[k] : nullptr;
}

YR_MEMORY_BLOCK* next_block(YR_MEMORY_BLOCK_ITERATOR* iterator) {
  auto* it = static_cast<BlockIterator*>(iterator->context);
  iterator->last_error = ERROR_SUCCESS;
  if (it->next >= it->job->blocks.size() || it->pipeline->cancelled()) return nullptr;
  const Range& range = it->job->blocks[it->next++];
  it->block.base = range.start;
  it->block.size = static_cast<size_t>(range.size);
  it->block.context = it;
  it->block.fetch_data = fetch_block;
  return &it->block;
}

YR_MEMORY_BLOCK* first_block(YR_MEMORY_BLOCK_ITERATOR* iterator) {
  static_cast<BlockIterator*>(iterator->context)->next = 0;
  return next_block(iterator);
}

void worker(Pipeline& p, YR_RULES* rules) {
  std::unique_ptr<ScannerHandle> scanner;
  std::string scanner_error;
  try {
    scanner = std::make_unique<ScannerHandle>(rules);
  } catch (const std::exception& e) {
    scanner_error = e.what();
  }
  BatchBuffer buffer;
  for (;;) {
    ProcessJob* job = nullptr;
    {
      std::unique_lock lock(p.mutex);
      p.changed.wait(lock, [&] { return p.stop || !p.jobs.empty(); });
      if (p.jobs.empty()) return;
      job = p.jobs.front();
      p.jobs.pop_front();
    }
    if (!scanner) {
      job->error = scanner_error;
    } else {
      MatchSink sink;
      sink.rules = rules;
      sink.matches = &job->result.matches;
      BlockIterator it;
      it.pipeline = &p;
      it.job = job;
      it.buffer = &buffer;
      it.yara.context = &it;
      it.yara.first = first_block;
      it.yara.next = next_block;
      it.yara.file_size = nullptr;  // filesize is undefined for a process
      it.yara.last_error = ERROR_SUCCESS;
      yr_scanner_set_callback(scanner->scanner, on_scan_message, &sink);
      yr_scanner_set_flags(scanner->scanner, SCAN_FLAGS_PROCESS_MEMORY);
      int error = yr_scanner_scan_mem_blocks(scanner->scanner, &it.yara);
      if (error != ERROR_SUCCESS) job->error = yara_error(error);
      job->dropped = std::move(sink.dropped);
      job->too_many = sink.too_many;
    }
    std::lock_guard lock(p.mutex);
    p.finished.push_back(job);
    p.changed.notify_all();
  }
}

}  // namespace

// --- Rules ------------------------------------------------------------------------

YaraRules YaraRules::from_file(const std::string& path) {
  yara_initialize();
  try {
    FILE* file = std::fopen(path.c_str(), "r");
    if (!file) throw Error("cannot open the YARA rules file " + path + ": " + std::strerror(errno));
    YR_RULES* rules = nullptr;
    try {
      rules = compile(path, [&](YR_COMPILER* c) { return yr_compiler_add_file(c, file, nullptr, path.c_str()); });
    } catch (...) {
      std::fclose(file);
      throw;
    }
    std::fclose(file);
    return YaraRules(rules);
  } catch (...) {
    yr_finalize();
    throw;
  }
}

YaraRules YaraRules::from_string(const std::string& source, const std::string& name) {
  yara_initialize();
  try {
    return YaraRules(compile(name, [&](YR_COMPILER* c) { return yr_compiler_add_string(c, source.c_str(), nullptr); }));
  } catch (...) {
    yr_finalize();
    throw;
  }
}

std::string YaraRules::rule_for_text(const std::string& text, const std::string& name) {
  std::string literal;
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      literal += '\\';
      literal += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      static const char* digits = "0123456789abcdef";
      literal += "\\x";
      literal += digits[c >> 4];
      literal += digits[c & 15];
    } else {
      literal += static_cast<char>(c);
    }
  }
  return "rule " + name + " { strings: $a = \"" + literal + "\" condition: $a }";
}

YaraRules::YaraRules(YaraRules&& other) noexcept : rules_(other.rules_) { other.rules_ = nullptr; }

YaraRules& YaraRules::operator=(YaraRules&& other) noexcept {
  if (this != &other) {
    if (rules_) {
      yr_rules_destroy(rules_);
      yr_finalize();
    }
    rules_ = other.rules_;
    other.rules_ = nullptr;
  }
  return *this;
}

YaraRules::~YaraRules() {
  if (rules_) {
    yr_rules_destroy(rules_);
    yr_finalize();
  }
}

size_t YaraRules::rule_count() const {
  size_t count = 0;
  YR_RULE* rule = nullptr;
  yr_rules_foreach(rules_, rule) ++count;
  return count;
}

std::string format_match_bytes(const std::vector<uint8_t>& data) {
  static const char* digits = "0123456789abcdef";
  std::string hex_part, text;
  for (size_t i = 0; i < data.size(); ++i) {
    if (i) hex_part += ' ';
    hex_part += digits[data[i] >> 4];
    hex_part += digits[data[i] & 15];
    text += data[i] >= 0x20 && data[i] < 0x7f ? static_cast<char>(data[i]) : '.';
  }
  return hex_part + "  " + text;
}

// --- Blocks ---------------------------------------------------------------------

std::vector<Range> yara_blocks(const X86_64Paging& space, const std::vector<Range>& vmas) {
  // The user half's mapped pages, merged where virtually contiguous. The
  // walk is in address order: it stops at the kernel's half.
  std::vector<Range> runs;
  space.for_each_mapping([&](uint64_t vaddr, uint64_t, uint64_t size, const Translation&) {
    if (vaddr >= kKernelHalf) return false;
    if (!runs.empty() && runs.back().end() == vaddr)
      runs.back().size += size;
    else
      runs.push_back({vaddr, size});
    return true;
  });
  std::vector<Range> blocks;
  size_t r = 0;
  for (const Range& vma : vmas) {
    while (r < runs.size() && runs[r].end() <= vma.start) ++r;
    for (size_t k = r; k < runs.size() && runs[k].start < vma.end(); ++k) {
      uint64_t start = std::max(runs[k].start, vma.start);
      uint64_t end = std::min(runs[k].end(), vma.end());
      // Long stretches in overlapping blocks: a match across a cut is whole in one.
      for (uint64_t at = start; at < end;) {
        uint64_t size = std::min<uint64_t>(end - at, YaraScanner::kMaxBlock);
        blocks.push_back({at, size});
        if (at + size >= end) break;
        at += size - YaraScanner::kBlockOverlap;
      }
    }
  }
  return blocks;
}

// --- Kernel addresses -----------------------------------------------------------

KernelAddresses::KernelAddresses(const KernelView& kernel) : kernel_(kernel) {
  const Profile& profile = kernel.profile();
  X86_64Paging& space = kernel.kernel();
  auto text = profile.symbol("_text"), end = profile.symbol("_end");
  if (text && end && *end > *text) {
    uint64_t start = *text + kernel.virtual_shift();
    if (auto t = space.translate(start)) {
      image_virtual_ = start;
      image_physical_ = t->physical;
      image_size_ = *end - *text;
    }
  }
  // Init code and data are freed after boot and their pages reused: the
  // direct map is where the kernel knows them now.
  auto init_begin = profile.symbol("__init_begin"), init_end = profile.symbol("__init_end");
  if (image_physical_ && init_begin && init_end && *init_begin >= *text && *init_end > *init_begin) {
    init_offset_ = *init_begin - *text;
    init_size_ = *init_end - *init_begin;
  }
  // page_offset_base is a variable (the direct map moves with KASLR).
  if (auto symbol = profile.symbol("page_offset_base")) {
    uint64_t value = 0;
    if (space.read(*symbol + kernel.virtual_shift(), &value, 8).ok() && value >= kKernelHalf) page_offset_base_ = value;
  }
}

std::optional<uint64_t> KernelAddresses::virtual_of(uint64_t physical) const {
  X86_64Paging& space = kernel_.kernel();
  auto maps_to = [&](uint64_t candidate) {
    auto t = space.translate(candidate);
    return t && t->physical == physical;
  };
  const uint64_t in_image = physical - image_physical_.value_or(0);
  if (image_physical_ && in_image < image_size_ && !(in_image - init_offset_ < init_size_)) {
    uint64_t candidate = *image_virtual_ + in_image;
    if (maps_to(candidate)) return candidate;
  }
  if (page_offset_base_ && physical < kKernelHalf) {
    uint64_t candidate = *page_offset_base_ + physical;
    if (candidate > *page_offset_base_ && maps_to(candidate)) return candidate;
  }
  return std::nullopt;
}

// --- Scanning -------------------------------------------------------------------

YaraScanner::YaraScanner(const KernelView& kernel, const YaraRules& rules, YaraScanOptions options)
    : kernel_(kernel), rules_(rules), options_(std::move(options)) {}

std::vector<YaraProcessResult> YaraScanner::scan_processes(const std::vector<YaraProcess>& processes,
                                                           Warnings& warnings) {
  std::vector<ProcessJob> jobs(processes.size());
  uint64_t total = 0;
  // First the blocks of every process (page tables only), so that progress
  // knows the total; each space is made again when its scan starts.
  for (size_t i = 0; i < processes.size(); ++i) {
    jobs[i].index = i;
    jobs[i].process = &processes[i];
    try {
      auto space = kernel_.process_space(processes[i].pgd_physical, processes[i].label);
      jobs[i].blocks = yara_blocks(*space, processes[i].vmas);
    } catch (const Error& e) {
      jobs[i].error = std::string("cannot walk its page tables: ") + e.what();
    }
    for (const Range& b : jobs[i].blocks) total += b.size;
  }

  Pipeline p;
  p.cancel = options_.cancel;
  unsigned threads = options_.threads ? options_.threads : std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<size_t>(threads, std::max<size_t>(processes.size(), 1)));
  std::unique_ptr<Progress> progress;
  if (!options_.progress.empty()) progress = std::make_unique<Progress>(options_.progress, total);
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker, std::ref(p), rules_.get());

  size_t next = 0, active = 0, not_started = 0;
  std::exception_ptr failure;
  {
    std::unique_lock lock(p.mutex);
    for (;;) {
      while (active < threads && next < jobs.size() && !p.cancelled() && !failure) {
        ProcessJob& job = jobs[next++];
        if (!job.error.empty()) continue;
        lock.unlock();
        try {
          job.space = kernel_.process_space(job.process->pgd_physical, job.process->label);
        } catch (const Error& e) {
          job.error = std::string("cannot open its address space: ") + e.what();
        }
        lock.lock();
        if (!job.space) continue;
        p.jobs.push_back(&job);
        ++active;
        p.changed.notify_all();
      }
      if (active == 0) break;
      p.changed.wait(lock, [&] { return !p.requests.empty() || !p.finished.empty(); });
      while (!p.requests.empty()) {
        BlockRequest* request = p.requests.front();
        p.requests.pop_front();
        lock.unlock();
        uint8_t* into = request->buffer;
        for (size_t i = request->first; i < request->end; ++i) {
          const Range& block = request->job->blocks[i];
          try {
            read_block(*request->job, block, into);
            (*request->ok)[i - request->first] = 1;
            request->job->result.bytes_scanned += block.size;
            ++request->job->result.blocks;
            if (progress) progress->advance(block.size);
          } catch (...) {
            if (!failure) failure = std::current_exception();
            break;
          }
          into += block.size;
        }
        lock.lock();
        request->served = true;
        p.changed.notify_all();
      }
      while (!p.finished.empty()) {
        ProcessJob* job = p.finished.front();
        p.finished.pop_front();
        job->space.reset();
        --active;
      }
    }
    for (size_t i = next; i < jobs.size(); ++i)
      if (jobs[i].error.empty()) ++not_started;
    p.stop = true;
    p.changed.notify_all();
  }
  for (std::thread& t : pool) t.join();
  if (progress) progress->finish();
  if (failure) std::rethrow_exception(failure);

  std::vector<YaraProcessResult> out(jobs.size());
  for (ProcessJob& job : jobs) {
    const std::string& label = job.process->label;
    if (!job.error.empty()) warnings.add("yarascan", label + ": " + job.error);
    for (const auto& [string, count] : job.dropped)
      warnings.add("yarascan", label + ": " + std::to_string(count) + " more matches of string " +
                                   std::string(rules_.get()->strings_table[string].identifier) + " not listed (at most " +
                                   std::to_string(kMaxMatchesPerString) + " per string)");
    if (job.too_many)
      warnings.add("yarascan", label + ": a string matched more often than libyara records; some matches are missing");
    if (job.unreadable_pages)
      warnings.add("yarascan", label + ": " + std::to_string(job.unreadable_pages) +
                                   " pages its page tables map are not in the image (the first at " +
                                   hex_address(job.first_unreadable) + "); scanned as zeros");
    out[job.index] = std::move(job.result);
  }
  if (p.cancelled() && not_started)
    warnings.add("incomplete: interrupted; " + std::to_string(not_started) + " processes were not scanned");
  else if (p.cancelled())
    warnings.add("incomplete: interrupted; the last processes may be scanned only in part");
  return out;
}

bool YaraScanner::scan_physical(AddressSpace& physical, const std::function<void(const YaraMatch&)>& found,
                                Warnings& warnings) {
  YR_RULES* rules = rules_.get();
  // One scanner per worker, made by that worker on its first chunk.
  constexpr size_t kMaxWorkers = 1024;
  std::vector<std::unique_ptr<ScannerHandle>> scanners(kMaxWorkers);
  ScanOptions options;
  options.threads = options_.threads;
  options.lookahead = kBlockOverlap;
  options.progress = options_.progress;
  options.cancel = options_.cancel;
  std::map<uint64_t, uint64_t> per_string;  // tag -> matches kept
  std::map<uint64_t, uint64_t> dropped;
  bool too_many = false;
  std::mutex too_many_mutex;
  ScanStats stats = scan_chunks(
      physical,
      [&](const ScanChunk& chunk, CandidateSink& candidates) {
        if (chunk.worker >= kMaxWorkers) throw Error("yarascan: more scan workers than expected");
        std::unique_ptr<ScannerHandle>& scanner = scanners[chunk.worker];
        if (!scanner) scanner = std::make_unique<ScannerHandle>(rules);
        MatchSink sink;
        sink.rules = rules;
        sink.candidates = &candidates;
        sink.chunk_address = chunk.address;
        sink.chunk_size = chunk.size;
        yr_scanner_set_callback(scanner->scanner, on_scan_message, &sink);
        int error = yr_scanner_scan_mem(scanner->scanner, chunk.data, chunk.readable);
        if (error != ERROR_SUCCESS && error != ERROR_TOO_MANY_MATCHES)
          throw Error("yarascan: chunk at " + hex_address(chunk.address) + ": " + yara_error(error));
        if (sink.too_many || error == ERROR_TOO_MANY_MATCHES) {
          std::lock_guard lock(too_many_mutex);
          too_many = true;
        }
      },
      [&](const ScanCandidate& c) {
        if (++per_string[c.tag] > kMaxMatchesPerString) {
          ++dropped[c.tag];
          return true;
        }
        YaraMatch match;
        if (c.tag & kNoStringTag) {
          match.rule = rules->rules_table[c.tag & ~kNoStringTag].identifier;
        } else {
          const YR_STRING& string = rules->strings_table[c.tag];
          match.rule = rules->rules_table[string.rule_idx].identifier;
          match.string = string.identifier;
          match.address = c.address;
          match.length = c.value;
          match.data.resize(std::min<uint64_t>(c.value, kMatchBytes));
          IoResult io = physical.read(c.address, match.data.data(), match.data.size(), kReadPad);
          match.data.resize(io.done);
        }
        found(match);
        return true;
      },
      options);
  for (const auto& [tag, count] : dropped)
    warnings.add("yarascan", "kernel: " + std::to_string(count) + " more matches of " +
                                 (tag & kNoStringTag ? std::string("rule ") + rules->rules_table[tag & ~kNoStringTag].identifier
                                                     : std::string("string ") + rules->strings_table[tag].identifier) +
                                 " not listed (at most " + std::to_string(kMaxMatchesPerString) + ")");
  if (too_many) warnings.add("yarascan", "kernel: a string matched more often than libyara records in one chunk; some matches are missing");
  if (stats.dropped_hits)
    warnings.add("yarascan", "kernel: " + std::to_string(stats.dropped_hits) + " matches over the per-chunk limit not listed");
  if (stats.read_faults)
    warnings.add("yarascan", "kernel: " + std::to_string(stats.read_faults) + " chunks could not be read and were scanned as zeros" +
                                 (stats.fault_messages.empty() ? "" : ": " + stats.fault_messages.front()));
  if (stats.interrupted) warnings.add("incomplete: interrupted");
  return !stats.interrupted;
}

}  // namespace memscope::linux_kernel
