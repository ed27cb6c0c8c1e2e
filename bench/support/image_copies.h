// Larger images made from a real one, for figures that depend on an
// image's size: the same machine's bytes, sparse or dense.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace memscope::bench {

// `source`'s bytes with its zero pages left as holes (what `cp
// --sparse=always` makes), then a hole up to `size` bytes (what `truncate
// -s` makes): a large raw dump of a machine that used little of its memory.
void make_sparse_copy(const std::string& source, const std::string& out, uint64_t size);

// `source`'s bytes repeated until `size` bytes, every page written (no
// holes), so that reading it costs what reading a real image of that size
// costs. Written `write_size` bytes at a time through a buffer of that
// size (not the whole image: this process's peak RSS is inherited by the
// children it spawns).
//
// The write size changes the figures: on Linux 6.x the copy's pages stay
// in the page cache in folios as large as the writes allow, and writes of
// 2 MiB or more fill PMD-sized folios, which a mapping of the file maps
// at once; a scan of such a copy costs less than one of a copy written
// 1 MiB at a time (bench_scanner's pattern scan of a 1 GiB copy of the 6.1
// fixture: about 30% less time; its chunk visitor doing nothing: a tenth).
// Each benchmark keeps the size its published figures were taken with.
void make_dense_copy(const std::string& source, const std::string& out, uint64_t size, size_t write_size);

}  // namespace memscope::bench
