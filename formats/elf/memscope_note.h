// memscope's own ELF notes, owner "MEMSCOPE": where a converted ELF core came
// from. A core converted from damaged evidence (a LiME file cut short, say)
// keeps the warnings its source's reader gave, so that whoever opens the
// core later is told too (core/layers/source_warnings.h, which also bounds
// what the reader repeats). Other ELF readers skip notes they do not know.
#pragma once

#include <cstdint>

namespace memscope::memscope_note {

inline constexpr char kOwner[] = "MEMSCOPE";
// Descriptor: the source file's name, without its directory.
inline constexpr uint32_t kSourceName = 1;
// Descriptor: one warning of the source's reader, as text.
inline constexpr uint32_t kSourceWarning = 2;

}  // namespace memscope::memscope_note
