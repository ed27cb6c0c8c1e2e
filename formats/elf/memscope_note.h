// memscope's own ELF notes, owner "MEMSCOPE": where a converted ELF core came
// from. A core converted from damaged evidence (a LiME file cut short, say)
// keeps the warnings its source's reader gave, so that whoever opens the
// core later is told too, as a converted seekable LZ4 file tells them
// (docs/formats/lz4-seekable.md, source_warnings). Other ELF readers skip
// notes they do not know.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace memscope::memscope_note {

inline constexpr char kOwner[] = "MEMSCOPE";
// Descriptor: the source file's name, without its directory.
inline constexpr uint32_t kSourceName = 1;
// Descriptor: one warning of the source's reader, as text.
inline constexpr uint32_t kSourceWarning = 2;

// The notes are untrusted input like the rest of the file: so many are
// repeated at most (the others are counted in one more warning), and so
// much of each text is kept.
inline constexpr size_t kMaxSourceWarnings = 1000;
inline constexpr size_t kMaxTextBytes = 4096;

// `text` made safe to print: at most kMaxTextBytes bytes (a cut says so)
// and control characters as '.' (a note must not drive the terminal).
std::string printable_text(std::string_view text);

// What the reader of `path` says for one source warning:
// "PATH: converted from NAME, whose reader warned: TEXT".
std::string repeated_warning(const std::string& path, std::string_view source_name, std::string_view text);

}  // namespace memscope::memscope_note
