// Image formats are detected from content, never from the file name. Each
// format registers a handler (see MEMSCOPE_REGISTER_FORMAT); open_image asks
// every handler to probe the file's head and opens it with the most specific
// one that recognises it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/physical_layer.h"

namespace memscope {

struct FormatHandler {
  std::string name;         // "lime", "elf", ...
  std::string description;  // one line for `memscope formats` / docs
  // Higher is tried first. Formats with a magic number use 100; raw, which
  // accepts anything, uses 0.
  int priority = 100;
  // True if the file looks like this format (cheap: header bytes only).
  std::function<bool(const MappedFile&)> probe;
  // Parses the container; throws FormatError naming file and offset.
  std::function<std::unique_ptr<PhysicalLayer>(std::shared_ptr<const MappedFile>)> open;
};

void register_format(FormatHandler handler);
std::vector<FormatHandler> registered_formats();  // sorted by priority

// Opens `path` read-only and detects its format. Throws memscope::Error.
std::unique_ptr<PhysicalLayer> open_image(const std::string& path);

namespace detail {
struct FormatRegistrar {
  explicit FormatRegistrar(FormatHandler handler) { register_format(std::move(handler)); }
};
}  // namespace detail

}  // namespace memscope

#define MEMSCOPE_REGISTER_FORMAT_CAT2(a, b) a##b
#define MEMSCOPE_REGISTER_FORMAT_CAT(a, b) MEMSCOPE_REGISTER_FORMAT_CAT2(a, b)
// Registers a FormatHandler at library load time:
//   MEMSCOPE_REGISTER_FORMAT(FormatHandler{.name = "lime", ...});
#define MEMSCOPE_REGISTER_FORMAT(...)                                     \
  static ::memscope::detail::FormatRegistrar MEMSCOPE_REGISTER_FORMAT_CAT( \
      memscope_format_registrar_, __LINE__){__VA_ARGS__}
