// The byte-pattern pass of the scanning engine (core/scan/scan_engine.h):
// every occurrence of a few patterns in an address space's mapped ranges,
// handed to a visitor on the calling thread in ascending address order.
// Kernel discovery uses it (banners, VMCOREINFO texts, `swapper/0`), and
// `memscope info --all-banners`.
//
// The engine cuts the space into chunks searched by worker threads, skips
// the zero stretches the layer knows of (holes of sparse files, all-zero
// compressed chunks), keeps memory bounded, draws progress and stops on
// Ctrl-C (ScanOptions, ScanStats). Each chunk is searched with `longest
// pattern - 1` bytes of what follows appended, so a pattern that straddles
// a chunk border is found exactly once (by the chunk it starts in); patterns
// never match across a hole between ranges. The visitor runs on the calling
// thread, so it may read the same layer (to validate a hit) and may stop
// the scan: the workers then stop after their current chunk.
//
// Bounded: each chunk keeps at most `max_hits_per_chunk` hits (the rest are
// counted in ScanStats::dropped_hits), so an image stuffed with millions of
// fake banners costs bounded memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/layers/address_space.h"
#include "core/scan/scan_engine.h"

namespace memscope {

struct ScanPattern {
  std::string bytes;  // non-empty; may contain NULs
  // Report only hits whose address % modulus == remainder (modulus 0 or 1:
  // every hit). Filtering here, in the workers, keeps hostile images that
  // repeat a pattern millions of times from flooding the visitor.
  uint64_t modulus = 0;
  uint64_t remainder = 0;
};

struct ScanHit {
  uint64_t address = 0;  // where the pattern starts
  size_t pattern = 0;    // index in the pattern list
};

// Called on the scanning thread, in ascending (address, pattern) order.
// Returns false to stop the scan.
using ScanVisitor = std::function<bool(const ScanHit&)>;

// Scans `space`'s mapped ranges for `patterns`. Throws memscope::Error for
// an empty pattern list or an empty pattern; rethrows what the visitor throws
// (after stopping the workers). options.lookahead and lookbehind are set
// from the patterns; zero stretches are not skipped when a pattern is all
// zero bytes.
ScanStats scan_physical(AddressSpace& space, const std::vector<ScanPattern>& patterns, const ScanVisitor& visit,
                        const ScanOptions& options = {});

// The search kernel, exposed for tests and benchmarks: appends to `hits`
// every occurrence of the patterns in data[0, size) that starts before
// `report_end` (<= size), with address = base + offset, sorted by (address,
// pattern), at most `max_hits` of them; returns how many were found in all
// (so found - hits added = dropped).
uint64_t search_block(const uint8_t* data, size_t size, size_t report_end, uint64_t base,
                      const std::vector<ScanPattern>& patterns, size_t max_hits, std::vector<ScanHit>& hits);

}  // namespace memscope
