#include "core/scan/scan_engine.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "core/layers/mapped_file.h"
#include "core/layers/overlay.h"
#include "core/layers/physical_layer.h"
#include "core/util/error.h"
#include "core/util/progress.h"

namespace memscope {
namespace {

constexpr uint64_t kPage = 4096;
// Extents asked of the layer at a time: bounds the plan's memory on images
// whose holes are many (a sparse copy of a dump has one per zero page run).
constexpr size_t kExtentsPerQuery = 1024;
// Zero stretches shorter than this are read through rather than skipped:
// cutting chunks around every small hole costs more than reading it.
constexpr uint64_t kMinSkip = uint64_t{256} << 10;
constexpr size_t kMinChunk = size_t{256} << 10;
// A storage unit larger than this is not worth aligning chunks to.
constexpr uint64_t kMaxGranularity = uint64_t{64} << 20;
constexpr size_t kFaultMessagesKept = 3;
constexpr size_t kMaxLookahead = size_t{64} << 20;

uint64_t round_up(uint64_t value, uint64_t unit) { return (value + unit - 1) / unit * unit; }

// Where a chunk's bytes come from.
enum class Source : uint8_t {
  kMapped,      // in place in the evidence file's mapping (a worker populates and releases it)
  kWorkerRead,  // read by a worker with PhysicalLayer::scan_read into its own buffer
  kReady,       // read (or peeked) by the calling thread before it was queued
};

struct Job {
  uint64_t start = 0;
  size_t report = 0;     // the chunk's own bytes
  size_t data_size = 0;  // report + lookahead
  Source source = Source::kReady;
  const uint8_t* data = nullptr;  // kMapped and kReady
  uint64_t file_offset = 0;       // kMapped
  size_t buffer = SIZE_MAX;       // kReady from a pooled buffer
  bool peeked = false;            // kReady through peek(): released after
  std::string fault;              // a read that failed (kReady)
  // Filled by the worker.
  bool done = false;
  std::vector<ScanCandidate> candidates;
  uint64_t offered = 0;
};

// Where the address space's stretches come from, in ascending order, a
// bounded batch at a time: the bottom layer's extents when the space is a
// physical layer (or the overlay on one), else its mapped ranges (read by
// the calling thread).
class ExtentSource {
 public:
  ExtentSource(const AddressSpace& space, const PhysicalLayer* layer, uint64_t begin, uint64_t end)
      : layer_(layer), cursor_(begin), end_(end) {
    if (layer_) return;
    space.ranges([&](const Range& r) {
      uint64_t range_end = r.end() == 0 ? ~uint64_t{0} : r.end();
      uint64_t from = std::max(r.start, begin), to = std::min(range_end, end);
      if (from < to) ranges_.push_back(PhysicalExtent{from, to - from, ExtentKind::kStored});
      return r.start < end;
    });
  }

  // Appends the next batch to `plan`; false when there is nothing more.
  bool load(std::deque<PhysicalExtent>& plan) {
    if (done_) return false;
    if (!layer_) {
      done_ = true;
      plan.insert(plan.end(), ranges_.begin(), ranges_.end());
      ranges_.clear();
      return !plan.empty();
    }
    size_t got = 0;
    uint64_t last_end = cursor_;
    layer_->extents(cursor_, end_, [&](const PhysicalExtent& e) {
      if (e.size == 0) return true;
      if (e.start < last_end || e.end() <= e.start) {
        // Out of order or wrapping: a layer bug; stop rather than loop.
        got = 0;
        return false;
      }
      plan.push_back(e);
      last_end = e.end();
      return ++got < kExtentsPerQuery;
    });
    if (got < kExtentsPerQuery) done_ = true;
    cursor_ = last_end;
    return got > 0;
  }

 private:
  const PhysicalLayer* layer_;
  uint64_t cursor_, end_;
  bool done_ = false;
  std::vector<PhysicalExtent> ranges_;  // without a physical layer
};

// The workers and the queue between them and the calling thread.
class Workers {
 public:
  Workers(const ChunkVisitor& visit, size_t max_candidates, PhysicalLayer* layer, const MappedFile* file,
          size_t buffer_size)
      : visit_(visit), max_candidates_(max_candidates), layer_(layer), file_(file), buffer_size_(buffer_size) {}

  void start(unsigned threads) {
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this, i] { work(i); });
  }

  // Stops and joins the workers (queued jobs are dropped); safe to call twice.
  void finish() {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    work_ready_.notify_all();
    for (auto& thread : threads_)
      if (thread.joinable()) thread.join();
  }

  ~Workers() { finish(); }

  void submit(Job* job) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(job);
    }
    work_ready_.notify_one();
  }

  // Waits until a worker has visited `job`; rethrows a worker's failure.
  void wait(Job* job) {
    std::unique_lock lock(mutex_);
    result_ready_.wait(lock, [&] { return job->done || failure_; });
    if (failure_) std::rethrow_exception(failure_);
  }

 private:
  void work(unsigned index) {
    std::unique_ptr<uint8_t[]> buffer;  // for kWorkerRead, reused
    std::vector<ScanCandidate> candidates;
    for (;;) {
      Job* job = nullptr;
      {
        std::unique_lock lock(mutex_);
        work_ready_.wait(lock, [&] { return closing_ || !queue_.empty(); });
        if (closing_) return;
        job = queue_.front();
        queue_.pop_front();
      }
      candidates.clear();
      uint64_t offered = 0;
      std::string fault;
      std::exception_ptr failure;
      try {
        const uint8_t* data = job->data;
        if (job->source == Source::kMapped) {
          // One call maps the chunk's pages instead of a fault per 64 KiB.
          file_->populate(job->file_offset, job->data_size);
        } else if (job->source == Source::kWorkerRead) {
          if (!buffer) buffer = std::make_unique_for_overwrite<uint8_t[]>(buffer_size_);
          IoResult r = layer_->scan_read(job->start, buffer.get(), job->data_size);
          if (r.done < job->data_size) std::memset(buffer.get() + r.done, 0, job->data_size - r.done);
          if (r.fault) fault = r.fault->message();
          data = buffer.get();
        }
        CandidateSink sink(candidates, max_candidates_);
        visit_(ScanChunk{job->start, data, job->report, job->data_size, index}, sink);
        offered = sink.offered();
        std::sort(candidates.begin(), candidates.end(), [](const ScanCandidate& a, const ScanCandidate& b) {
          if (a.address != b.address) return a.address < b.address;
          return a.tag != b.tag ? a.tag < b.tag : a.value < b.value;
        });
        // Done with these pages: without this, scanning an image maps all
        // of it into the process (peak RSS = bytes scanned).
        if (job->source == Source::kMapped) file_->release(job->file_offset, job->data_size);
      } catch (...) {
        failure = std::current_exception();
      }
      {
        std::lock_guard lock(mutex_);
        job->candidates.assign(candidates.begin(), candidates.end());
        job->offered = offered;
        if (!fault.empty() && job->fault.empty()) job->fault = std::move(fault);
        job->done = true;
        if (failure && !failure_) failure_ = failure;
      }
      result_ready_.notify_all();
    }
  }

  const ChunkVisitor& visit_;
  size_t max_candidates_;
  PhysicalLayer* layer_;
  const MappedFile* file_;
  size_t buffer_size_;
  std::mutex mutex_;
  std::condition_variable work_ready_, result_ready_;
  std::deque<Job*> queue_;
  bool closing_ = false;
  std::exception_ptr failure_;
  std::vector<std::thread> threads_;
};

// Cuts the space into jobs, on the calling thread.
class Planner {
 public:
  Planner(AddressSpace& space, PhysicalLayer* layer, const MappedFile* file, bool worker_reads,
          std::vector<uint64_t> dirty, const ScanOptions& options, size_t chunk_size, uint64_t granularity,
          uint64_t begin, uint64_t end)
      : file_(file),
        worker_reads_(worker_reads),
        dirty_(std::move(dirty)),
        options_(options),
        chunk_size_(chunk_size),
        granularity_(granularity),
        lookbehind_(std::min<uint64_t>(options.lookbehind, kMinSkip / 2)),
        source_(space, layer, begin, end),
        cursor_(begin),
        end_(end) {}

  // The next job, or nullopt at the end. Skipped stretches and gaps are
  // counted in `stats` and reported to `progress`.
  std::optional<Job> next(ScanStats& stats, Progress* progress) {
    for (;;) {
      if (plan_.empty() && !source_.load(plan_)) {
        if (cursor_ < end_) stats.bytes_unmapped += end_ - cursor_;
        cursor_ = end_;
        return std::nullopt;
      }
      PhysicalExtent& front = plan_.front();
      if (front.start > cursor_) stats.bytes_unmapped += front.start - cursor_;
      cursor_ = front.start;
      if (!skippable(front)) return make_job();
      // A written overlay page inside a zero stretch is data.
      if (auto page = first_dirty(front.start, front.end())) {
        split_at_dirty_page(*page);
        continue;
      }
      uint64_t skip = front.size;
      if (lookbehind_ && skip > lookbehind_) skip -= lookbehind_;  // the zeros' tail is searched
      note_hole(stats, Range{front.start, skip});
      if (progress) progress->advance(skip);
      advance_front(skip);
    }
  }

 private:
  bool skippable(const PhysicalExtent& e) const {
    return options_.skip_zero && e.kind == ExtentKind::kZero && e.size >= kMinSkip;
  }

  std::optional<uint64_t> first_dirty(uint64_t from, uint64_t to) const {
    auto it = std::lower_bound(dirty_.begin(), dirty_.end(), from >= kPage ? from - kPage + 1 : 0);
    if (it != dirty_.end() && *it < to) return *it;
    return std::nullopt;
  }

  // front (a zero stretch) = [zeros][the dirty page: data][zeros]
  void split_at_dirty_page(uint64_t page) {
    PhysicalExtent zero = plan_.front();
    plan_.pop_front();
    uint64_t from = std::max(page, zero.start), to = std::min(page + kPage, zero.end());
    auto piece = [&](uint64_t a, uint64_t b, ExtentKind kind) {
      PhysicalExtent e{a, b - a, kind, zero.in_file() ? zero.file_offset + (a - zero.start) : PhysicalExtent::kNoFileOffset};
      if (kind == ExtentKind::kStored) e.file_offset = PhysicalExtent::kNoFileOffset;
      return e;
    };
    if (to < zero.end()) plan_.push_front(piece(to, zero.end(), ExtentKind::kZero));
    plan_.push_front(piece(from, to, ExtentKind::kStored));
    if (from > zero.start) plan_.push_front(piece(zero.start, from, ExtentKind::kZero));
  }

  // Counts a skipped stretch; one that continues the previous one (a
  // zero stretch the layer reported in pieces) is the same hole. The list
  // keeps the largest holes (sorted by address at the end).
  void note_hole(ScanStats& stats, const Range& hole) {
    stats.bytes_skipped += hole.size;
    auto& listed = stats.holes_listed;
    if (stats.holes > 0 && last_hole_end_ == hole.start) {
      if (last_listed_ != kNotListed) listed[last_listed_].size += hole.size;
    } else {
      ++stats.holes;
      last_listed_ = kNotListed;
      if (listed.size() < ScanStats::kMaxHolesListed) {
        last_listed_ = listed.size();
        listed.push_back(hole);
      } else {
        auto smallest = std::min_element(listed.begin(), listed.end(),
                                         [](const Range& a, const Range& b) { return a.size < b.size; });
        if (smallest->size < hole.size) {
          *smallest = hole;
          last_listed_ = static_cast<size_t>(smallest - listed.begin());
        }
      }
    }
    last_hole_end_ = hole.end();
  }

  // Drops the first `n` bytes of the plan's front extent.
  void advance_front(uint64_t n) {
    PhysicalExtent& front = plan_.front();
    if (n >= front.size) {
      cursor_ = front.end();
      plan_.pop_front();
      return;
    }
    front.start += n;
    front.size -= n;
    if (front.in_file()) front.file_offset += n;
    cursor_ = front.start;
  }

  // Makes sure plan_[index] exists if the source has it.
  bool have(size_t index) {
    while (index >= plan_.size())
      if (!source_.load(plan_)) return false;
    return true;
  }

  Job make_job() {
    const uint64_t start = plan_.front().start;
    const uint64_t limit = start + std::min<uint64_t>(chunk_size_, ~uint64_t{0} - start);
    // The chunk's own bytes: contiguous extents up to the chunk size,
    // stopping at a gap or a zero stretch to skip. With a storage unit
    // (compressed formats), whole extents only, so no unit is decompressed
    // by two workers (the first one is cut if it alone is too long).
    uint64_t report_end = start;
    size_t index = 0;
    while (have(index)) {
      const PhysicalExtent& e = plan_[index];
      if (e.start != report_end || (index > 0 && skippable(e))) break;
      if (granularity_ && index > 0 && e.end() > limit) break;
      report_end = std::min(e.end(), limit);
      ++index;
      if (report_end == limit) break;
    }
    // The lookahead: whatever follows contiguously, zeros included.
    uint64_t data_end = report_end;
    const uint64_t want_end = report_end + std::min<uint64_t>(options_.lookahead, ~uint64_t{0} - report_end);
    for (size_t i = index ? index - 1 : 0; data_end < want_end && have(i); ++i) {
      const PhysicalExtent& e = plan_[i];
      if (e.start > data_end) break;
      data_end = std::max(data_end, std::min(e.end(), want_end));
    }

    Job job;
    job.start = start;
    job.report = static_cast<size_t>(report_end - start);
    job.data_size = static_cast<size_t>(data_end - start);
    classify(job);
    // Consume the chunk's own bytes from the plan.
    while (!plan_.empty() && plan_.front().end() <= report_end) plan_.pop_front();
    if (!plan_.empty() && plan_.front().start < report_end) advance_front(report_end - plan_.front().start);
    cursor_ = report_end;
    return job;
  }

  // Mapped when every byte lies in the file, contiguously; read by the
  // workers when the layer allows; else by the calling thread.
  void classify(Job& job) {
    const uint64_t end = job.start + job.data_size;
    if (first_dirty(job.start, end)) {
      job.source = Source::kReady;  // the overlay's written pages: read through the space
      return;
    }
    bool in_file = file_ != nullptr;
    uint64_t base = 0;
    for (size_t i = 0; in_file && i < plan_.size() && plan_[i].start < end; ++i) {
      const PhysicalExtent& e = plan_[i];
      if (e.kind == ExtentKind::kStored || !e.in_file()) {
        in_file = false;
        break;
      }
      uint64_t at = std::max(e.start, job.start);
      uint64_t offset = e.file_offset + (at - e.start);
      if (i == 0) base = offset - (at - job.start);
      else if (offset != base + (at - job.start)) in_file = false;
    }
    if (in_file && file_->contains(base, job.data_size)) {
      job.source = Source::kMapped;
      job.file_offset = base;
      job.data = file_->data() + base;
      return;
    }
    job.source = worker_reads_ ? Source::kWorkerRead : Source::kReady;
  }

  const MappedFile* file_;
  bool worker_reads_;
  std::vector<uint64_t> dirty_;
  const ScanOptions& options_;
  uint64_t chunk_size_;
  uint64_t granularity_;
  uint64_t lookbehind_;
  ExtentSource source_;
  std::deque<PhysicalExtent> plan_;
  uint64_t cursor_, end_;
  static constexpr size_t kNotListed = SIZE_MAX;
  uint64_t last_hole_end_ = 0;
  size_t last_listed_ = kNotListed;  // where the last hole is in ScanStats::holes_listed
};

uint64_t mapped_bytes(const AddressSpace& space, uint64_t begin, uint64_t end) {
  uint64_t total = 0;
  space.ranges([&](const Range& r) {
    uint64_t range_end = r.end() == 0 ? ~uint64_t{0} : r.end();
    uint64_t from = std::max(r.start, begin), to = std::min(range_end, end);
    if (from < to) total += to - from;
    return r.start < end;
  });
  return total;
}

}  // namespace

ScanStats scan_chunks(AddressSpace& space, const ChunkVisitor& per_chunk, const CandidateVisitor& per_candidate,
                      const ScanOptions& options) {
  auto started = std::chrono::steady_clock::now();
  if (!per_chunk) throw Error("scan of " + space.name() + ": no chunk visitor given");
  ScanStats stats;

  // The bottom layer, when the space is one or the overlay on one: its
  // extents tell the holes, its file can be read in place, and a written
  // overlay page is read through the overlay.
  auto* layer = dynamic_cast<PhysicalLayer*>(&space);
  std::vector<uint64_t> dirty;
  if (!layer)
    if (auto* overlay = dynamic_cast<Overlay*>(&space)) {
      layer = dynamic_cast<PhysicalLayer*>(overlay->below());
      if (layer) dirty = overlay->dirty_page_addresses();
    }
  const MappedFile* file = layer ? layer->mapped_file() : nullptr;
  const bool worker_reads = layer && layer->concurrent_scan_reads();

  const unsigned threads = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  stats.threads = threads;
  const size_t budget = std::max(options.memory_budget, kMinChunk * 2);
  uint64_t chunk_size = round_up(std::max<uint64_t>(options.chunk_size, kPage), kPage);
  uint64_t granularity = layer ? layer->storage_granularity() : 0;
  if (granularity % kPage != 0 || granularity > kMaxGranularity) granularity = 0;
  if (granularity) {
    chunk_size = round_up(chunk_size, granularity);
  } else {
    // Enough chunks in flight to keep every worker busy, within the budget.
    uint64_t fit = budget / (size_t{2} * threads + 1) / kPage * kPage;
    chunk_size = std::min(chunk_size, std::max<uint64_t>(fit, kMinChunk));
  }
  // A chunk is at least as long as its lookahead, or most bytes would be
  // read twice.
  if (options.lookahead > kMaxLookahead)
    throw Error("scan of " + space.name() + ": lookahead of " + std::to_string(options.lookahead) +
                " bytes is more than the engine's " + std::to_string(kMaxLookahead));
  const size_t lookahead = options.lookahead;
  chunk_size = std::max<uint64_t>(chunk_size, round_up(lookahead, granularity ? granularity : kPage));
  const size_t job_bytes = static_cast<size_t>(chunk_size) + lookahead;
  // Chunks in flight: enough to keep the workers busy while the calling
  // thread visits the oldest one's candidates, and no more.
  const size_t window = std::clamp<size_t>(budget / job_bytes, 2, size_t{2} * threads + 1);

  uint64_t end = options.end;
  if (uint64_t limit = space.limit(); limit != 0) end = std::min(end, limit);
  const uint64_t begin = options.begin;
  if (begin >= end) {
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return stats;
  }

  std::optional<Progress> progress;
  if (!options.progress.empty() && !Progress::quiet()) progress.emplace(options.progress, mapped_bytes(space, begin, end));
  Progress* bar = progress && progress->visible() ? &*progress : nullptr;

  ScanOptions effective = options;
  effective.lookahead = lookahead;
  Planner planner(space, layer, file, worker_reads, std::move(dirty), effective, chunk_size, granularity, begin, end);

  std::vector<std::unique_ptr<uint8_t[]>> buffers;  // for chunks the calling thread reads
  std::vector<size_t> free_buffers;
  std::deque<Job> in_flight;  // before `workers`: outlives the threads that point into it
  Workers workers(per_chunk, options.max_hits_per_chunk, layer, file, job_bytes);
  workers.start(threads);

  auto prepare = [&](Job job) {
    if (job.source == Source::kMapped) {
      ++stats.zero_copy_chunks;
    } else if (job.source == Source::kWorkerRead) {
      ++stats.parallel_read_chunks;
    } else if ((job.data = space.peek(job.start, job.data_size))) {
      job.peeked = true;
      ++stats.zero_copy_chunks;
    } else {
      if (free_buffers.empty()) {
        buffers.push_back(std::make_unique_for_overwrite<uint8_t[]>(job_bytes));
        free_buffers.push_back(buffers.size() - 1);
      }
      job.buffer = free_buffers.back();
      free_buffers.pop_back();
      uint8_t* bytes = buffers[job.buffer].get();
      // The ranges say these bytes are mapped; a layer that still cannot
      // read some (a corrupt block) yields zeros there, and the fault is
      // reported, rather than ending the scan.
      IoResult r = space.read(job.start, bytes, job.data_size, kReadPad);
      if (r.done < job.data_size) std::memset(bytes + r.done, 0, job.data_size - r.done);
      if (r.fault) job.fault = r.fault->message();
      job.data = bytes;
    }
    in_flight.push_back(std::move(job));
    workers.submit(&in_flight.back());  // std::deque keeps addresses stable on push_back
  };

  bool more = true;
  for (;;) {
    if (options.cancel && options.cancel->requested()) {
      stats.interrupted = true;
      break;
    }
    while (more && in_flight.size() < window) {
      std::optional<Job> job = planner.next(stats, bar);
      if (!job) {
        more = false;
        break;
      }
      prepare(std::move(*job));
    }
    if (in_flight.empty()) break;
    Job& oldest = in_flight.front();
    workers.wait(&oldest);
    ++stats.chunks;
    stats.bytes_scanned += oldest.report;
    stats.dropped_hits += oldest.offered - oldest.candidates.size();
    if (!oldest.fault.empty()) {
      ++stats.read_faults;
      if (stats.fault_messages.size() < kFaultMessagesKept) stats.fault_messages.push_back(oldest.fault);
    }
    bool keep_going = true;
    for (const ScanCandidate& candidate : oldest.candidates) {
      ++stats.hits;
      if (per_candidate && !per_candidate(candidate)) {
        keep_going = false;
        break;
      }
    }
    if (oldest.buffer != SIZE_MAX) free_buffers.push_back(oldest.buffer);
    if (oldest.peeked) space.release(oldest.start, oldest.report);
    if (bar) bar->advance(oldest.report);
    in_flight.pop_front();
    if (!keep_going) {
      stats.stopped_early = true;
      break;
    }
  }
  // Workers still holding chunks finish them before they are joined, so the
  // chunks (and buffers) they point to outlive them.
  workers.finish();
  std::sort(stats.holes_listed.begin(), stats.holes_listed.end(),
            [](const Range& a, const Range& b) { return a.start < b.start; });
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // A bar is drawn after a fifth of a second; a quick scan leaves no line.
  if (bar && stats.seconds > 0.2 && !stats.stopped_early && !stats.interrupted) bar->finish();
  return stats;
}

}  // namespace memscope
