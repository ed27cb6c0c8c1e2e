#include "core/scan/physical_scanner.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope {
namespace {

// Hits are gathered and sorted per sub-block, which keeps the sort cheap and
// lets max_hits keep the lowest addresses.
constexpr size_t kSubBlock = size_t{64} << 10;
constexpr size_t kPage = 4096;

bool wanted(const ScanPattern& pattern, uint64_t address) {
  return pattern.modulus <= 1 || address % pattern.modulus == pattern.remainder;
}

// The search kernel. Every pattern is looked for in one pass: each vector of
// candidate start positions is compared with every pattern's first byte
// and, at the pattern's length, its last byte; only positions where both
// match for some pattern are checked with memcmp. Memory images are mostly
// zeros, code and text, in which this filter rejects nearly every position,
// so the scan runs at memory speed. Positions [start, stop) are candidates;
// bytes up to `size` may be read.
struct Needles {
  const std::vector<ScanPattern>& patterns;
  size_t longest = 0;
  explicit Needles(const std::vector<ScanPattern>& p) : patterns(p) {
    for (const auto& pattern : p) longest = std::max(longest, pattern.bytes.size());
  }
  const uint8_t* bytes(size_t p) const { return reinterpret_cast<const uint8_t*>(patterns[p].bytes.data()); }
  size_t length(size_t p) const { return patterns[p].bytes.size(); }
};

// Checks every pattern at position `at` (where some pattern's first and last
// bytes matched, or in the scalar tail).
template <typename OnHit>
inline void check_position(const uint8_t* data, size_t size, size_t at, const Needles& needles, OnHit& on_hit) {
  for (size_t p = 0; p < needles.patterns.size(); ++p) {
    size_t m = needles.length(p);
    if (at + m <= size && data[at] == needles.bytes(p)[0] && std::memcmp(data + at, needles.bytes(p), m) == 0)
      on_hit(at, p);
  }
}

template <typename OnHit>
size_t scan_scalar(const uint8_t* data, size_t size, size_t start, size_t stop, const Needles& needles, OnHit& on_hit) {
  for (size_t i = start; i < stop; ++i) check_position(data, size, i, needles, on_hit);
  return stop;
}

#if defined(__x86_64__) && defined(__GNUC__)
// Up to this many patterns keep their broadcast bytes in registers; more
// patterns use the scalar loop (discovery uses three).
constexpr size_t kMaxVectorPatterns = 8;

template <typename OnHit>
__attribute__((target("avx2"))) size_t scan_avx2(const uint8_t* data, size_t size, size_t start, size_t stop,
                                                 const Needles& needles, OnHit& on_hit) {
  const size_t count = needles.patterns.size();
  __m256i first[kMaxVectorPatterns], last[kMaxVectorPatterns];
  size_t tail[kMaxVectorPatterns];
  for (size_t p = 0; p < count; ++p) {
    first[p] = _mm256_set1_epi8(static_cast<char>(needles.bytes(p)[0]));
    last[p] = _mm256_set1_epi8(static_cast<char>(needles.bytes(p)[needles.length(p) - 1]));
    tail[p] = needles.length(p) - 1;
  }
  size_t i = start;
  for (; i + 32 <= stop && i + 32 + needles.longest - 1 <= size; i += 32) {
    __m256i head = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + i));
    __m256i any = _mm256_setzero_si256();
    for (size_t p = 0; p < count; ++p) {
      __m256i end = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + i + tail[p]));
      any = _mm256_or_si256(any, _mm256_and_si256(_mm256_cmpeq_epi8(head, first[p]), _mm256_cmpeq_epi8(end, last[p])));
    }
    auto mask = static_cast<uint32_t>(_mm256_movemask_epi8(any));
    while (mask) {
      check_position(data, size, i + static_cast<size_t>(__builtin_ctz(mask)), needles, on_hit);
      mask &= mask - 1;
    }
  }
  return i;
}

template <typename OnHit>
size_t scan_sse2(const uint8_t* data, size_t size, size_t start, size_t stop, const Needles& needles, OnHit& on_hit) {
  const size_t count = needles.patterns.size();
  __m128i first[kMaxVectorPatterns], last[kMaxVectorPatterns];
  size_t tail[kMaxVectorPatterns];
  for (size_t p = 0; p < count; ++p) {
    first[p] = _mm_set1_epi8(static_cast<char>(needles.bytes(p)[0]));
    last[p] = _mm_set1_epi8(static_cast<char>(needles.bytes(p)[needles.length(p) - 1]));
    tail[p] = needles.length(p) - 1;
  }
  size_t i = start;
  for (; i + 16 <= stop && i + 16 + needles.longest - 1 <= size; i += 16) {
    __m128i head = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
    __m128i any = _mm_setzero_si128();
    for (size_t p = 0; p < count; ++p) {
      __m128i end = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i + tail[p]));
      any = _mm_or_si128(any, _mm_and_si128(_mm_cmpeq_epi8(head, first[p]), _mm_cmpeq_epi8(end, last[p])));
    }
    auto mask = static_cast<unsigned>(_mm_movemask_epi8(any));
    while (mask) {
      check_position(data, size, i + static_cast<size_t>(__builtin_ctz(mask)), needles, on_hit);
      mask &= mask - 1;
    }
  }
  return i;
}

bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#endif

// Calls on_hit(offset, pattern) for every occurrence starting in
// [start, stop) that ends within data[0, size).
template <typename OnHit>
void find_all(const uint8_t* data, size_t size, size_t start, size_t stop, const Needles& needles, OnHit on_hit) {
  size_t i = start;
#if defined(__x86_64__) && defined(__GNUC__)
  if (needles.patterns.size() <= kMaxVectorPatterns)
    i = cpu_has_avx2() ? scan_avx2(data, size, start, stop, needles, on_hit)
                       : scan_sse2(data, size, start, stop, needles, on_hit);
#endif
  scan_scalar(data, size, i, stop, needles, on_hit);
}

}  // namespace

uint64_t search_block(const uint8_t* data, size_t size, size_t report_end, uint64_t base,
                      const std::vector<ScanPattern>& patterns, size_t max_hits, std::vector<ScanHit>& hits) {
  report_end = std::min(report_end, size);
  const Needles needles(patterns);
  uint64_t found = 0;
  size_t kept = 0;
  std::vector<ScanHit> block_hits;
  for (size_t block = 0; block < report_end; block += kSubBlock) {
    size_t block_end = std::min(report_end, block + kSubBlock);
    block_hits.clear();
    find_all(data, size, block, block_end, needles, [&](size_t offset, size_t p) {
      if (wanted(patterns[p], base + offset)) block_hits.push_back(ScanHit{base + offset, p});
    });
    found += block_hits.size();
    if (kept >= max_hits) continue;  // keep counting what a hostile image throws at us
    std::sort(block_hits.begin(), block_hits.end(), [](const ScanHit& a, const ScanHit& b) {
      return a.address != b.address ? a.address < b.address : a.pattern < b.pattern;
    });
    size_t take = std::min(block_hits.size(), max_hits - kept);
    hits.insert(hits.end(), block_hits.begin(), block_hits.begin() + static_cast<ptrdiff_t>(take));
    kept += take;
  }
  return found;
}

namespace {

// One unit of work: report hits starting in [start, start + report_size);
// the bytes extend `data_size - report_size` further (the border overlap).
struct Chunk {
  uint64_t start = 0;
  size_t report_size = 0;
  size_t data_size = 0;
  const uint8_t* data = nullptr;
  size_t buffer = SIZE_MAX;  // index of the pooled buffer holding the bytes, if copied
  // Filled by a worker.
  bool done = false;
  std::vector<ScanHit> hits;
  uint64_t found = 0;
};

// The shared state between the scanning thread and its workers.
class Pipeline {
 public:
  Pipeline(const std::vector<ScanPattern>& patterns, size_t max_hits) : patterns_(patterns), max_hits_(max_hits) {}

  void start(unsigned threads) {
    for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }

  // Stops and joins the workers; safe to call twice.
  void finish() {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    work_ready_.notify_all();
    for (auto& worker : workers_)
      if (worker.joinable()) worker.join();
  }

  ~Pipeline() { finish(); }

  void submit(Chunk* chunk) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(chunk);
    }
    work_ready_.notify_one();
  }

  // Waits until a worker has searched `chunk`; rethrows a worker's failure.
  void wait(Chunk* chunk) {
    std::unique_lock lock(mutex_);
    result_ready_.wait(lock, [&] { return chunk->done || failure_; });
    if (failure_) std::rethrow_exception(failure_);
  }

 private:
  void work() {
    for (;;) {
      Chunk* chunk = nullptr;
      {
        std::unique_lock lock(mutex_);
        work_ready_.wait(lock, [&] { return closing_ || !queue_.empty(); });
        if (closing_) return;
        chunk = queue_.front();
        queue_.pop_front();
      }
      std::vector<ScanHit> hits;
      uint64_t found = 0;
      std::exception_ptr failure;
      try {
        found =
            search_block(chunk->data, chunk->data_size, chunk->report_size, chunk->start, patterns_, max_hits_, hits);
      } catch (...) {
        failure = std::current_exception();
      }
      {
        std::lock_guard lock(mutex_);
        chunk->hits = std::move(hits);
        chunk->found = found;
        chunk->done = true;
        if (failure && !failure_) failure_ = failure;
      }
      result_ready_.notify_all();
    }
  }

  const std::vector<ScanPattern>& patterns_;
  size_t max_hits_;
  std::mutex mutex_;
  std::condition_variable work_ready_, result_ready_;
  std::deque<Chunk*> queue_;
  bool closing_ = false;
  std::exception_ptr failure_;
  std::vector<std::thread> workers_;
};

}  // namespace

ScanStats scan_physical(AddressSpace& space, const std::vector<ScanPattern>& patterns, const ScanVisitor& visit,
                        const ScanOptions& options) {
  auto started = std::chrono::steady_clock::now();
  if (patterns.empty()) throw Error("physical scan of " + space.name() + ": no pattern given");
  size_t longest = 0;
  for (const ScanPattern& p : patterns) {
    if (p.bytes.empty()) throw Error("physical scan of " + space.name() + ": empty pattern");
    longest = std::max(longest, p.bytes.size());
  }
  const size_t overlap = longest - 1;
  size_t chunk_size = std::max(options.chunk_size, kPage);
  chunk_size = (chunk_size + kPage - 1) / kPage * kPage;

  // The ranges, clipped to [begin, end). Adjacent ranges arrive merged, so
  // a pattern can only straddle chunk borders, never range borders.
  std::vector<Range> ranges;
  space.ranges([&](const Range& r) {
    uint64_t start = std::max(r.start, options.begin);
    uint64_t end = r.end() == 0 ? ~uint64_t{0} : r.end();  // a range ending at 2^64
    end = std::min(end, options.end);
    if (start < end) ranges.push_back(Range{start, end - start});
    return r.start < options.end;
  });

  ScanStats stats;
  unsigned threads = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  stats.threads = threads;
  // Enough chunks in flight to keep every worker busy while the visitor
  // looks at the oldest one, and no more: this bounds memory.
  const size_t window = size_t{2} * threads + 1;

  std::vector<std::vector<uint8_t>> buffers;  // pooled copies for layers without peek()
  std::vector<size_t> free_buffers;
  std::deque<Chunk> in_flight;

  Pipeline pipeline(patterns, options.max_hits_per_chunk);
  pipeline.start(threads);

  size_t range_index = 0;
  uint64_t next_start = ranges.empty() ? 0 : ranges[0].start;
  auto prepare_next = [&]() -> bool {
    while (range_index < ranges.size() && next_start - ranges[range_index].start >= ranges[range_index].size) {
      if (++range_index < ranges.size()) next_start = ranges[range_index].start;
    }
    if (range_index >= ranges.size()) return false;
    const Range& range = ranges[range_index];
    uint64_t left = range.size - (next_start - range.start);
    Chunk chunk;
    chunk.start = next_start;
    chunk.report_size = static_cast<size_t>(std::min<uint64_t>(left, chunk_size));
    chunk.data_size = static_cast<size_t>(std::min<uint64_t>(left, uint64_t{chunk.report_size} + overlap));
    chunk.data = space.peek(chunk.start, chunk.data_size);
    if (chunk.data) {
      ++stats.zero_copy_chunks;
    } else {
      if (free_buffers.empty()) {
        buffers.emplace_back(chunk_size + overlap);
        free_buffers.push_back(buffers.size() - 1);
      }
      chunk.buffer = free_buffers.back();
      free_buffers.pop_back();
      // ranges() said these bytes are mapped; a layer that still cannot read
      // some of them yields zeros there rather than ending the scan.
      space.read(chunk.start, buffers[chunk.buffer].data(), chunk.data_size, kReadPad);
      chunk.data = buffers[chunk.buffer].data();
    }
    next_start += chunk.report_size;
    in_flight.push_back(std::move(chunk));
    pipeline.submit(&in_flight.back());  // std::deque keeps addresses stable on push_back
    return true;
  };

  bool more = true;
  while (true) {
    while (more && in_flight.size() < window) more = prepare_next();
    if (in_flight.empty()) break;
    Chunk& oldest = in_flight.front();
    pipeline.wait(&oldest);
    ++stats.chunks;
    stats.bytes_scanned += oldest.report_size;
    stats.dropped_hits += oldest.found - oldest.hits.size();
    bool keep_going = true;
    for (const ScanHit& hit : oldest.hits) {
      ++stats.hits;
      if (!visit(hit)) {
        keep_going = false;
        break;
      }
    }
    if (oldest.buffer != SIZE_MAX)
      free_buffers.push_back(oldest.buffer);
    else
      // Done with these mapped pages: without this, scanning an image maps
      // all of it into the process (peak RSS = bytes scanned).
      space.release(oldest.start, oldest.report_size);
    in_flight.pop_front();
    if (!keep_going) {
      stats.stopped_early = true;
      break;
    }
  }
  // Workers still holding chunks finish them before they are joined, so the
  // chunks (and buffers) they point to outlive them.
  pipeline.finish();
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return stats;
}

}  // namespace memscope
