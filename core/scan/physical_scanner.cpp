#include "core/scan/physical_scanner.h"

#include <algorithm>
#include <cstring>

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

ScanStats scan_physical(AddressSpace& space, const std::vector<ScanPattern>& patterns, const ScanVisitor& visit,
                        const ScanOptions& options) {
  if (patterns.empty()) throw Error("physical scan of " + space.name() + ": no pattern given");
  size_t longest = 0, leading_zeros = 0;
  bool all_zero_pattern = false;
  for (const ScanPattern& p : patterns) {
    if (p.bytes.empty()) throw Error("physical scan of " + space.name() + ": empty pattern");
    longest = std::max(longest, p.bytes.size());
    size_t zeros = p.bytes.find_first_not_of('\0');
    if (zeros == std::string::npos) all_zero_pattern = true;
    else leading_zeros = std::max(leading_zeros, zeros);
  }
  ScanOptions effective = options;
  effective.lookahead = longest - 1;
  // A pattern starting with NULs may begin in the zeros before data; one
  // made only of NULs matches inside them.
  effective.lookbehind = leading_zeros;
  if (all_zero_pattern) effective.skip_zero = false;
  const size_t max_hits = options.max_hits_per_chunk;
  return scan_chunks(
      space,
      [&](const ScanChunk& chunk, CandidateSink& out) {
        thread_local std::vector<ScanHit> hits;
        hits.clear();
        uint64_t found = search_block(chunk.data, chunk.readable, chunk.size, chunk.address, patterns, max_hits, hits);
        for (const ScanHit& hit : hits) out.add(hit.address, hit.pattern);
        out.dropped(found - hits.size());
      },
      [&](const ScanCandidate& candidate) {
        return visit(ScanHit{candidate.address, static_cast<size_t>(candidate.tag)});
      },
      effective);
}

}  // namespace memscope
