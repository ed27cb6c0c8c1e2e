// A file format's view of an image: the bottom of every stack. It maps
// physical addresses to bytes of the evidence file (opened read-only) and
// carries what the container says about the machine.
#pragma once

#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "core/layers/address_space.h"
#include "core/layers/image_notes.h"

namespace memscope {

class MappedFile;

// How a stretch of physical memory is held, known from the format's own
// index without reading the bytes: what lets a whole-image scan skip holes
// and read the rest the cheapest way (core/scan/scan_engine.h).
enum class ExtentKind : uint8_t {
  // Stored uncompressed in the evidence file at `file_offset`
  // (mapped_file() maps it): a scanner reads it from any thread.
  kFile,
  // Known to read as zeros: a hole of a sparse file (`file_offset` then
  // says where the hole lies in the file), an all-zero chunk of a
  // compressed format (no file offset). Scanners skip it unread.
  kZero,
  // Held some other way (compressed): read with read() or scan_read().
  kStored,
};

struct PhysicalExtent {
  static constexpr uint64_t kNoFileOffset = ~uint64_t{0};
  uint64_t start = 0;  // physical address
  uint64_t size = 0;
  ExtentKind kind = ExtentKind::kStored;
  uint64_t file_offset = kNoFileOffset;
  uint64_t end() const { return start + size; }
  bool in_file() const { return file_offset != kNoFileOffset; }
};

class PhysicalLayer : public AddressSpace {
 public:
  AddressSpace* below() const override { return nullptr; }

  // Format name as detected ("raw", "lime", "elf", "lz4-seekable", ...).
  virtual std::string format() const = 0;
  // Path of the evidence file.
  virtual const std::string& path() const = 0;
  // Size of the evidence file in bytes.
  virtual uint64_t file_size() const = 0;
  // The evidence file's mapping when the layer maps all of it, else
  // nullptr: lets callers that need the file's bytes (its fingerprint) use
  // the mapping instead of opening the file again.
  virtual const MappedFile* mapped_file() const { return nullptr; }

  // --- For whole-image scans (core/scan). A format implements what it can;
  // the defaults are always correct, only slower. ---

  // Visits, in ascending order, extents that exactly cover the mapped
  // addresses of [begin, end) (clipped to it; unmapped addresses, the gaps
  // between ranges, are not visited); the visitor returns false to stop.
  // Answered from the format's index (and lseek(SEEK_DATA/SEEK_HOLE) for
  // sparse files), never by reading or decompressing data, so that asking
  // about a 256 GB image costs microseconds. Adjacent extents may have the
  // same kind. kFile extents require mapped_file(). Default: each range of
  // ranges() as one kStored extent.
  virtual void extents(uint64_t begin, uint64_t end, const std::function<bool(const PhysicalExtent&)>& visit) const;

  // True when scan_read() may run on several threads at once, while the
  // calling thread reads the layer too. Then scanners decompress on every
  // core; otherwise only the calling thread reads kStored extents.
  virtual bool concurrent_scan_reads() const { return false; }

  // Reads [address, address + n) for a scanner, which reads every byte once:
  // zeros where the image has none (as kReadPad), and no shared cache
  // filled with blocks nobody reads again. A format that can should go on
  // past a corrupt block (zeros there) and return done == n with the
  // first fault; the caller zero-fills whatever lies past `done`.
  // Default: read(kReadPad), which stops at a fault.
  virtual IoResult scan_read(uint64_t address, uint8_t* out, size_t n);

  // The size of the format's unit of storage (a compressed chunk), or 0:
  // scanners cut their work at multiples of it so that no unit is
  // decompressed twice.
  virtual uint64_t storage_granularity() const { return 0; }

  // What is wrong with the evidence without stopping it from being read (a
  // truncated ELF, LiME or LZ4 file, an incomplete kdump, ranges that
  // overlap), one line each naming the file and what is missing. Shown by
  // `memscope info` and with every plugin's warnings: what was not in the
  // image cannot be in the results. Default: what the format recorded with
  // add_warning() while opening the file.
  virtual const std::vector<std::string>& warnings() const { return open_warnings_; }

  // Notes found in the container; empty for formats that have none.
  virtual const ImageNotes& notes() const;
  // Extra lines for `memscope info` (format-specific metadata).
  virtual LayerDescription describe() const { return {}; }

  std::string name() const override { return format(); }

 protected:
  // For a format's open(): records one line of warnings() (a file cut
  // short, a range that could not be kept), naming the file and what the
  // analyst loses.
  void add_warning(std::string message) { open_warnings_.push_back(std::move(message)); }
  // For a converted file's open(): what it repeats of its source's warnings
  // (core/layers/source_warnings.h) goes before the file's own, recorded
  // before or after.
  void add_leading_warnings(std::vector<std::string> messages) {
    open_warnings_.insert(open_warnings_.begin(), std::make_move_iterator(messages.begin()),
                          std::make_move_iterator(messages.end()));
  }

 private:
  ImageNotes empty_notes_;
  std::vector<std::string> open_warnings_;
};

}  // namespace memscope
