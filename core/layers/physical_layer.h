// A file format's view of an image: the bottom of every stack. It maps
// physical addresses to bytes of the evidence file (opened read-only) and
// carries what the container says about the machine.
#pragma once

#include <memory>
#include <string>

#include "core/layers/address_space.h"
#include "core/layers/image_notes.h"

namespace memscope {

class MappedFile;

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

  // Notes found in the container; empty for formats that have none.
  virtual const ImageNotes& notes() const;
  // Extra lines for `memscope info` (format-specific metadata).
  virtual LayerDescription describe() const { return {}; }

  std::string name() const override { return format(); }

 private:
  ImageNotes empty_notes_;
};

}  // namespace memscope
