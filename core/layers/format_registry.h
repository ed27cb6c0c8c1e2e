// Image formats are detected from content, never from the file name. Each
// format registers a handler (see format_registry()); open_image asks
// every handler to probe the file's head and opens it with the most specific
// one that recognises it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/layers/mapped_file.h"
#include "core/layers/physical_layer.h"
#include "core/util/registry.h"

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

// Every format, most specific (highest priority) first. A format file
// registers itself:
//   MEMSCOPE_REGISTER(format_registry(), FormatHandler{.name = "lime", ...});
Registry<FormatHandler>& format_registry();

// Opens `path` read-only and detects its format. Throws memscope::Error.
std::unique_ptr<PhysicalLayer> open_image(const std::string& path);

}  // namespace memscope
