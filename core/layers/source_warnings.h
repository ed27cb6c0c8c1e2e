// A converted image repeats the warnings its source's reader gave (a
// truncated acquisition, a damaged chunk): seekable LZ4 keeps them in its
// metadata (`source_warnings`), an ELF core in MEMSCOPE notes. Whoever opens
// the converted file is told, so converting never makes damaged evidence
// look whole. Read back, those texts are untrusted input like the rest of
// the file: one rule for every format bounds them and makes them printable.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace memscope {

struct SourceWarningLimits {
  static constexpr size_t kMaxWarnings = 1000;
  static constexpr size_t kMaxTextBytes = 4096;       // one warning
  static constexpr size_t kMaxNameBytes = 255;        // the source's file name (NAME_MAX)
  static constexpr size_t kMaxTotalBytes = 64 << 10;  // all the warnings' texts
};

// The lines the reader of `path` adds for the warnings of its source
// `source_name`, in order: "PATH: converted from NAME, whose reader warned:
// TEXT", each printable and bounded, then, if the limits left any out (or
// the caller did not even keep `more` of them), one line counting them.
// Empty when there are none.
std::vector<std::string> repeat_source_warnings(const std::string& path, std::string_view source_name,
                                                const std::vector<std::string>& texts, size_t more = 0);

}  // namespace memscope
