// Text from an image (a note, a metadata string) made safe to print in a
// message: it must not drive the terminal that shows it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace memscope {

// `text` with every control character (C0, DEL, and C1 as UTF-8:
// U+0080-U+009F) and every byte that is not part of valid UTF-8 shown as
// '.', cut to at most `max_bytes` bytes on a character boundary; a cut
// text ends with " [cut at N bytes]".
std::string printable_text(std::string_view text, size_t max_bytes);

// The limit for text shown whole (a warning, a table cell, an error, a
// line of `info`): it only guards the terminal, no real text comes near it.
inline constexpr size_t kMaxShownTextBytes = size_t{1} << 20;

}  // namespace memscope
