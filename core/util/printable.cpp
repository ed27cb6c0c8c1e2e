#include "core/util/printable.h"

namespace memscope {
namespace {

// The length of the valid UTF-8 sequence at text[i] (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF), or 0.
size_t utf8_sequence(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length = 0;
  unsigned char low = 0x80, high = 0xbf;  // the second byte's range
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (text.size() - i < length) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < length; ++k)
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
  return length;
}

}  // namespace

std::string printable_text(std::string_view text, size_t max_bytes) {
  std::string out;
  out.reserve(text.size() < max_bytes ? text.size() : max_bytes);
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t length = 1;
    bool shown = true;
    if (c >= 0x80) {
      length = utf8_sequence(text, i);
      // C1 controls (U+0080-U+009F) are 0xc2 0x80-0x9f.
      shown = length != 0 && !(c == 0xc2 && static_cast<unsigned char>(text[i + 1]) <= 0x9f);
      if (length == 0) length = 1;
    } else {
      shown = c >= 0x20 && c != 0x7f;
    }
    const size_t take = shown ? length : 1;
    if (out.size() + take > max_bytes) break;
    if (shown)
      out.append(text.substr(i, length));
    else
      out.push_back('.');
    i += length;
  }
  if (i < text.size()) out += " [cut at " + std::to_string(max_bytes) + " bytes]";
  return out;
}

}  // namespace memscope
