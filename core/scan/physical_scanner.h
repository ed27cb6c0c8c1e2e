// A multi-threaded byte-pattern scanner over an address space's mapped
// ranges: the engine behind kernel discovery (banners, VMCOREINFO texts,
// `swapper/0`) and, later, psscan-style carving.
//
// How it works: the ranges are cut into chunks; each chunk is searched with
// `pattern length - 1` bytes of the next one appended, so a pattern that
// straddles a chunk border is found exactly once (by the chunk it starts in).
// The calling thread is the only one that touches the layer: it asks for a
// zero-copy pointer with peek() and, when the layer cannot give one, reads the
// chunk into a pooled buffer; a zero-copy chunk is release()d once its hits
// are visited, so the pages scanned do not stay in the process. Worker threads (hardware_concurrency of them)
// only search bytes, so any layer works, thread-safe or not. Results are
// handed to the visitor on the calling thread in ascending address order, so
// the visitor may read the same layer (to validate a hit) and may stop the
// scan: the workers then stop after their current chunk.
//
// Bounded: at most `window` chunks are in flight, and each chunk keeps at most
// `max_hits_per_chunk` hits (the rest are counted in ScanStats::dropped_hits),
// so an image stuffed with millions of fake banners costs bounded memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/layers/address_space.h"

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

struct ScanOptions {
  // Worker threads; 0 means std::thread::hardware_concurrency().
  unsigned threads = 0;
  // Bytes per work item (rounded up to 4 KiB).
  size_t chunk_size = size_t{4} << 20;
  // Only addresses in [begin, end) are scanned.
  uint64_t begin = 0;
  uint64_t end = ~uint64_t{0};
  // Hits kept per chunk; more are counted as dropped.
  size_t max_hits_per_chunk = 4096;
};

struct ScanStats {
  uint64_t bytes_scanned = 0;     // bytes of chunks searched (not counting overlaps)
  uint64_t hits = 0;              // hits handed to the visitor
  uint64_t dropped_hits = 0;      // hits over max_hits_per_chunk
  uint64_t chunks = 0;            // chunks searched
  uint64_t zero_copy_chunks = 0;  // of which served by peek()
  bool stopped_early = false;     // the visitor returned false
  unsigned threads = 0;           // workers used
  double seconds = 0;             // wall-clock time of the scan
};

// Called on the scanning thread, in ascending (address, pattern) order.
// Returns false to stop the scan.
using ScanVisitor = std::function<bool(const ScanHit&)>;

// Scans `space`'s mapped ranges for `patterns`. Throws memscope::Error for
// an empty pattern list or an empty pattern; rethrows what the visitor throws
// (after stopping the workers).
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
