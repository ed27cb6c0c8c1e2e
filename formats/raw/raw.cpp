// Raw physical image: a plain dump of memory from address 0 (QEMU pmemsave,
// dd of /dev/mem, a VM's .mem file). No header, no holes. It accepts any
// file, so it is tried last.
#include "core/layers/segmented_file_layer.h"
#include "core/layers/format_registry.h"

namespace memscope {
namespace {

MEMSCOPE_REGISTER(format_registry(), FormatHandler{
    .name = "raw",
    .description = "flat physical memory from address 0, no header",
    .priority = 0,
    .probe = [](const MappedFile&) { return true; },
    .open = [](std::shared_ptr<const MappedFile> file) -> std::unique_ptr<PhysicalLayer> {
      uint64_t size = file->size();
      return std::make_unique<SegmentedFileLayer>(std::move(file), "raw",
                                                  std::vector<FileSegment>{{0, size, 0}});
    }});

}  // namespace
}  // namespace memscope
