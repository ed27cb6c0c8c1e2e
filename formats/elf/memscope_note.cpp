#include "formats/elf/memscope_note.h"

namespace memscope::memscope_note {

std::string printable_text(std::string_view text) {
  const bool cut = text.size() > kMaxTextBytes;
  std::string out(text.substr(0, kMaxTextBytes));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '.';
  if (cut) out += " [cut at " + std::to_string(kMaxTextBytes) + " bytes]";
  return out;
}

std::string repeated_warning(const std::string& path, std::string_view source_name, std::string_view text) {
  const std::string name = source_name.empty() ? std::string("a source") : printable_text(source_name);
  return path + ": converted from " + name + ", whose reader warned: " + printable_text(text);
}

}  // namespace memscope::memscope_note
