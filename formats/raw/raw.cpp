// Raw physical image: a plain dump of memory from address 0 (QEMU pmemsave,
// dd of /dev/mem, a VM's .mem file). No header, no holes. It accepts any
// file, so it is tried last.
#include <string>

#include "core/layers/format_registry.h"
#include "core/layers/segmented_file_layer.h"
#include "core/util/hex.h"

namespace memscope {
namespace {

// Memory comes in pages: every acquisition tool writes whole ones.
constexpr uint64_t kPageSize = 4096;

class RawLayer : public SegmentedFileLayer {
 public:
  explicit RawLayer(std::shared_ptr<const MappedFile> file)
      : SegmentedFileLayer(file, "raw", std::vector<FileSegment>{{0, file->size(), 0}}) {
    // A raw file has no header to say how long it should be: a size that
    // is not a whole number of pages is the one sign of a copy cut short.
    const uint64_t size = file->size();
    if (size % kPageSize)
      add_warning(file->path() + ": " + std::to_string(size) + " bytes is not a whole number of 4 KiB pages: the " +
                  "image may be truncated (its last page is cut at physical " + hex(size) +
                  "; whatever lay above is not in the file)");
  }
};

MEMSCOPE_REGISTER(format_registry(), FormatHandler{
    .name = "raw",
    .description = "flat physical memory from address 0, no header",
    .priority = 0,
    .probe = [](const MappedFile&) { return true; },
    .open = [](std::shared_ptr<const MappedFile> file) -> std::unique_ptr<PhysicalLayer> {
      return std::make_unique<RawLayer>(std::move(file));
    }});

}  // namespace
}  // namespace memscope
