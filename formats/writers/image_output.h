// What the image writers (raw, LiME, ELF core, each in its format's folder)
// share: a sequential output file that leaves holes sparse, the rules for
// the ranges they are given, and a bounded copier from any address space.
//
// Common rules of every writer:
//  - `ranges` are physical ranges of `source` to copy; they are sorted by
//    start, empty ones are skipped, overlapping ones are refused. Every byte
//    of every range must be readable: a fault stops the write with an Error
//    (a converted image never holds invented bytes). collect_ranges()
//    gives all of a layer's ranges.
//  - out_path is created or truncated and written directly; a caller that
//    wants an atomic result writes to a temporary name and renames it.
//    Writing over the evidence file `source` reads from is refused.
//  - Errors are memscope::Error naming out_path; the partial file is left
//    for the caller to remove.
//  - progress, when set, is called after each chunk with bytes done and the
//    total to do (for raw: holes included).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/layers/address_space.h"

namespace memscope {

using ProgressFn = std::function<void(uint64_t done_bytes, uint64_t total_bytes)>;

inline constexpr size_t kWriteChunk = size_t{1} << 20;

// The mapped ranges of `source`, as its ranges() visitor reports them.
std::vector<Range> collect_ranges(const AddressSpace& source);

// The output file: written sequentially, with holes left by seeking.
class OutputFile {
 public:
  explicit OutputFile(std::string path);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  const std::string& path() const { return path_; }
  void write(const void* data, size_t n);
  // Advances over n zero bytes: a sparse hole on files that can seek,
  // written zeros on pipes.
  void skip_zeros(uint64_t n);
  // Sets the final size (a trailing hole exists only once the size covers
  // it) and closes the file.
  void finish();

 private:
  [[noreturn]] void fail(const std::string& what) const;

  std::string path_;
  int fd_ = -1;
  uint64_t position_ = 0;
  bool seeked_ = false;
};

// Opening out_path truncates it: if it is the very file the source reads
// from, the evidence would be destroyed (and the mmap would fault).
void refuse_to_overwrite_evidence(const AddressSpace& source, const std::string& out_path);

// Sorted, non-empty, non-overlapping copies of `ranges`.
std::vector<Range> normalize_ranges(std::vector<Range> ranges, const std::string& out_path);

uint64_t total_bytes(const std::vector<Range>& ranges);

// Copies ranges from the source to the output in bounded chunks.
class Copier {
 public:
  Copier(AddressSpace& source, OutputFile& out, const ProgressFn& progress, uint64_t total)
      : source_(source), out_(out), progress_(progress), total_(total) {}
  void copy(const Range& range);
  void advance(uint64_t n);

 private:
  AddressSpace& source_;
  OutputFile& out_;
  const ProgressFn& progress_;
  uint64_t total_;
  uint64_t done_ = 0;
  std::vector<uint8_t> buffer_;
};

}  // namespace memscope
