#include "formats/registry.h"

#include <algorithm>
#include <mutex>

#include "core/error.h"

namespace memscope {
namespace {

std::vector<FormatHandler>& handlers() {
  static std::vector<FormatHandler> list;
  return list;
}
std::mutex& handlers_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

void register_format(FormatHandler handler) {
  std::lock_guard lock(handlers_mutex());
  handlers().push_back(std::move(handler));
}

std::vector<FormatHandler> registered_formats() {
  std::lock_guard lock(handlers_mutex());
  std::vector<FormatHandler> list = handlers();
  std::stable_sort(list.begin(), list.end(),
                   [](const FormatHandler& a, const FormatHandler& b) { return a.priority > b.priority; });
  return list;
}

std::unique_ptr<PhysicalLayer> open_image(const std::string& path) {
  auto file = std::make_shared<const MappedFile>(path);
  for (const FormatHandler& handler : registered_formats()) {
    if (handler.probe && handler.probe(*file)) return handler.open(file);
  }
  throw FormatError(path + ": unrecognised image format");
}

}  // namespace memscope
