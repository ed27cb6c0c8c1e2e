// ELF core images of a whole machine (QEMU dump-guest-memory, VirtualBox
// dumpvmcore, a copy of the kdump kernel's /proc/vmcore): ELFCLASS64
// x86_64 ET_CORE files whose PT_LOAD segments hold physical memory at
// p_paddr and whose PT_NOTE segments carry VMCOREINFO and per-CPU state.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/layers/segmented_file_layer.h"

namespace memscope {

class ElfCoreLayer : public SegmentedFileLayer {
 public:
  // What the container held besides the bytes, for describe().
  struct Summary {
    uint64_t load_segments = 0;        // PT_LOAD headers seen
    uint64_t duplicate_segments = 0;   // PT_LOADs inside another one (kdump's kernel-text copy)
    uint64_t partial_segments = 0;     // PT_LOADs with p_memsz > p_filesz (tail not in the file)
    uint64_t note_segments = 0;        // PT_NOTE headers seen
    std::map<std::string, uint64_t> note_counts;  // "QEMU", "CORE/NT_PRSTATUS", ... -> count
  };

  // Parses the headers and notes of `file` (through libelf, read-only).
  // A file cut short (an acquisition that stopped, a disk that filled)
  // opens with a warning naming what is lost: the PT_LOAD bytes it holds
  // are served, reads of the rest fail naming the address. Throws
  // FormatError naming the file and the offending header's offset for
  // what is not an x86_64 core, or lies in a way no cut explains.
  static std::unique_ptr<ElfCoreLayer> open(std::shared_ptr<const MappedFile> file);

  const ImageNotes& notes() const override { return notes_; }
  LayerDescription describe() const override;
  const Summary& summary() const { return summary_; }

 private:
  // `source_warnings` (what a converted core repeats of its source) come
  // first among warnings(), before this file's own, whichever recorded them.
  ElfCoreLayer(std::shared_ptr<const MappedFile> file, std::vector<FileSegment> segments, ImageNotes notes,
               Summary summary, std::vector<std::string> source_warnings, std::vector<std::string> warnings);

  ImageNotes notes_;
  Summary summary_;
};

}  // namespace memscope
