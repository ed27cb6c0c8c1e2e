#include "core/layers/format_registry.h"

#include <algorithm>

#include "core/util/error.h"

namespace memscope {
Registry<FormatHandler>& format_registry() {
  static Registry<FormatHandler> registry(
      "image format", [](const FormatHandler& h) -> std::string_view { return h.name; },
      [](const FormatHandler& a, const FormatHandler& b) {
        return a.priority != b.priority ? a.priority > b.priority : a.name < b.name;
      });
  return registry;
}

std::unique_ptr<PhysicalLayer> open_image(const std::string& path) {
  auto file = std::make_shared<const MappedFile>(path);
  for (const FormatHandler& handler : format_registry().entries()) {
    if (handler.probe && handler.probe(*file)) return handler.open(file);
  }
  throw FormatError(path + ": unrecognised image format");
}

}  // namespace memscope
