// The one engine behind every whole-image pass: kernel discovery's pattern
// scan (core/scan/physical_scanner.h), `memscope info --all-banners`, and
// carvers that validate candidates field by field (psscan's task_struct
// carve, yarascan --kernel, module-structure scans). What it gives them:
//
// - All cores. The space is cut into chunks (4 MiB) searched by worker
//   threads, one per core.
// - Bounded memory, whatever the image size. At most a few chunks per
//   worker are in flight (capped by ScanOptions::memory_budget). Bytes
//   stored uncompressed in the evidence file are used in place from its
//   mapping, populated in one call per chunk and released (MADV_DONTNEED)
//   once visited, so a 256 GB scan keeps about as much resident as a
//   256 MB one. Compressed bytes are decompressed by the workers into
//   buffers they reuse, without filling the shared chunk cache.
// - Holes skipped unread. The bottom layer says, from its index, which
//   stretches are known zeros (PhysicalLayer::extents: holes of sparse
//   files via SEEK_DATA/SEEK_HOLE, all-zero chunks of compressed formats);
//   those are never read, and unmapped gaps between ranges never visited.
//   ScanStats reports what was skipped.
// - Progress and Ctrl-C. With ScanOptions::progress set, a bar on a
//   terminal (bytes, rate, ETA; silent with -q or when stderr is not a
//   terminal). The engine checks ScanOptions::cancel (the process's
//   interrupt token by default, which the memscope command's SIGINT
//   handler sets) between chunks, stops within a chunk per worker, and
//   returns what it found with ScanStats::interrupted set.
//
// Two kinds of pass:
//
// 1. scan_physical (physical_scanner.h): byte patterns; the visitor sees
//    each occurrence, in ascending address order, on the calling thread.
//
// 2. scan_chunks (below): a visitor per chunk of bytes, run on the worker
//    threads, for carvers. The visitor looks at the bytes (cheap field
//    checks: magic values, plausible lengths, printable names, aligned
//    pointers) and reports candidates; the candidate visitor then sees
//    every candidate, in ascending address order, on the calling thread,
//    where it may read any layer (translate pointers through the kernel's
//    page tables, follow lists) to validate it, and may stop the scan.
//
//      struct TaskCarve {...};
//      ScanOptions options;
//      options.lookahead = task_struct_size - 1;  // a candidate may straddle the chunk's end
//      options.progress = "carving task_struct";
//      ScanStats stats = scan_chunks(session.physical(),
//          [&](const ScanChunk& chunk, CandidateSink& out) {       // worker threads
//            for (size_t at = 0; at < chunk.size; at += 64)         // task_struct is cache-line aligned
//              if (at + task_struct_size <= chunk.readable && plausible(chunk.data + at))
//                out.add(chunk.address + at);
//          },
//          [&](const ScanCandidate& c) {                            // the calling thread, address order
//            if (auto task = validate(kernel, c.address)) rows.push_back(*task);
//            return true;                                           // false stops the scan
//          },
//          options);
//      if (stats.interrupted) warnings.add("incomplete: interrupted");
//
//    Rules for the chunk visitor: it runs on several threads at once and
//    must not touch any layer (layers are not thread-safe: use only
//    chunk.data), nor shared state without its own locking
//    (ScanChunk::worker indexes per-thread state). It may read
//    chunk.data[0, chunk.readable); candidates must start in [0,
//    chunk.size) (each byte belongs to exactly one chunk, so a candidate is
//    reported once); `readable - size` is at least min(lookahead, the
//    bytes that follow contiguously), so a structure of up to lookahead + 1
//    bytes starting anywhere in the chunk is entirely in `data`. What it
//    throws stops the scan and reaches the caller.
//
// Zero stretches are skipped: a visitor that looks for something made only
// of zero bytes must set skip_zero = false. Addresses are those of the
// space given (physical for a physical layer or the overlay on it); any
// AddressSpace works (a virtual space is scanned through its mapped
// ranges, read on the calling thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/layers/address_space.h"
#include "core/scan/cancel.h"

namespace memscope {

struct ScanOptions {
  // Worker threads; 0 means std::thread::hardware_concurrency().
  unsigned threads = 0;
  // Bytes per work item (rounded up to 4 KiB, and to the format's storage
  // unit for compressed images; lowered on many-core machines to stay
  // within memory_budget).
  size_t chunk_size = size_t{4} << 20;
  // Only addresses in [begin, end) are scanned.
  uint64_t begin = 0;
  uint64_t end = ~uint64_t{0};
  // scan_chunks: bytes past each chunk's end the visitor may read (when
  // the space continues there), at most 64 MiB; chunks are made at least
  // this long. scan_physical sets it to the longest pattern's length - 1.
  size_t lookahead = 0;
  // Bytes before the start of data that follows a skipped zero stretch
  // that are visited anyway (a pattern starting with NUL bytes may begin
  // in the zeros). scan_physical sets it from its patterns.
  size_t lookbehind = 0;
  // Candidates (hits) kept per chunk; more are counted as dropped.
  size_t max_hits_per_chunk = 4096;
  // Skip stretches the layer knows to be zeros without reading them.
  bool skip_zero = true;
  // Label of a progress bar drawn on a terminal ("" for none).
  std::string progress;
  // Checked between chunks; nullptr: the scan cannot be interrupted.
  const CancelToken* cancel = &interrupt_token();
  // Upper bound on the bytes of chunks in flight (buffers or mapped pages).
  size_t memory_budget = size_t{128} << 20;
};

struct ScanStats {
  uint64_t bytes_scanned = 0;   // bytes of chunks visited (not counting lookahead)
  uint64_t bytes_skipped = 0;   // bytes known to be zeros, skipped unread
  uint64_t bytes_unmapped = 0;  // gaps between ranges inside [begin, end) below the space's limit
  uint64_t hits = 0;            // candidates (pattern hits) handed to the visitor
  uint64_t dropped_hits = 0;    // over max_hits_per_chunk
  uint64_t chunks = 0;          // chunks visited
  uint64_t zero_copy_chunks = 0;  // of which visited in place (the file's mapping, a peek)
  uint64_t parallel_read_chunks = 0;  // of which read (decompressed) by the workers
  // Zero stretches skipped (adjacent ones merged): how many, and the
  // kMaxHolesListed largest of them, in address order.
  static constexpr size_t kMaxHolesListed = 64;
  uint64_t holes = 0;
  std::vector<Range> holes_listed;
  // Reads that failed (a corrupt compressed block): those bytes were
  // visited as zeros. The first few messages are kept.
  uint64_t read_faults = 0;
  std::vector<std::string> fault_messages;
  bool stopped_early = false;  // the visitor returned false
  bool interrupted = false;    // the cancel token was set: the result is partial
  unsigned threads = 0;        // workers used
  double seconds = 0;          // wall-clock time of the scan

  // "" for a complete scan (or one the visitor stopped), else why it is
  // partial: "interrupted".
  std::string incomplete() const { return interrupted ? "interrupted" : ""; }
};

// Bytes handed to a chunk visitor.
struct ScanChunk {
  uint64_t address = 0;        // address of data[0]
  const uint8_t* data = nullptr;
  size_t size = 0;             // the chunk's own bytes: candidates start in [0, size)
  size_t readable = 0;         // bytes readable at data (>= size: the lookahead)
  unsigned worker = 0;         // which worker thread, 0 .. ScanStats::threads - 1
};

// What a chunk visitor reports: an address and two values of its own
// (scan_physical: tag = pattern index).
struct ScanCandidate {
  uint64_t address = 0;
  uint64_t tag = 0;
  uint64_t value = 0;
};

// Where a chunk visitor puts its candidates. Bounded: past
// max_hits_per_chunk they are only counted (a hostile image full of fake
// structures costs bounded memory); a visitor that adds in ascending
// address order keeps the lowest.
class CandidateSink {
 public:
  CandidateSink(std::vector<ScanCandidate>& out, size_t max) : out_(out), max_(max) {}
  void add(uint64_t address, uint64_t tag = 0, uint64_t value = 0) {
    ++offered_;
    if (out_.size() < max_) out_.push_back(ScanCandidate{address, tag, value});
  }
  // Counts candidates the visitor found but did not add (its own cap).
  void dropped(uint64_t n) { offered_ += n; }
  uint64_t offered() const { return offered_; }

 private:
  std::vector<ScanCandidate>& out_;
  size_t max_;
  uint64_t offered_ = 0;
};

// Runs on the worker threads, several at once (see the rules above).
using ChunkVisitor = std::function<void(const ScanChunk&, CandidateSink&)>;
// Runs on the calling thread, in ascending (address, tag, value) order;
// returns false to stop the scan.
using CandidateVisitor = std::function<bool(const ScanCandidate&)>;

// Visits every chunk of `space`'s mapped ranges in [begin, end), except
// the zero stretches skipped, with `per_chunk` on the workers, and the
// candidates it reports with `per_candidate` (may be empty) on the calling
// thread. Rethrows what either visitor throws, after stopping the workers.
ScanStats scan_chunks(AddressSpace& space, const ChunkVisitor& per_chunk, const CandidateVisitor& per_candidate,
                      const ScanOptions& options = {});

}  // namespace memscope
