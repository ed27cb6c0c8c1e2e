#include "core/layers/image_notes.h"

namespace memscope {

void ImageNotes::set_vmcoreinfo(std::string text) {
  vmcoreinfo = std::move(text);
  vmcoreinfo_keys.clear();
  size_t pos = 0;
  while (pos < vmcoreinfo.size()) {
    size_t eol = vmcoreinfo.find('\n', pos);
    if (eol == std::string::npos) eol = vmcoreinfo.size();
    std::string_view line(vmcoreinfo.data() + pos, eol - pos);
    size_t eq = line.find('=');
    if (eq != std::string_view::npos && eq > 0)
      vmcoreinfo_keys.emplace(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
    pos = eol + 1;
  }
}

std::optional<uint64_t> ImageNotes::first_cr3() const {
  for (const auto& cpu : cpus)
    if (cpu.cr3) return cpu.cr3;
  return std::nullopt;
}

}  // namespace memscope
