// One kdump page's data to its bytes, with the codec its descriptor's flags
// name: zlib (compress2 output, zlib header), LZO1X, Snappy (raw block),
// zstd (one frame), or stored as is. Debian's codec libraries do the work;
// contexts are kept per thread, so this is safe to call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace memscope::kdump {

// Decodes `size` bytes at `data` into exactly `page_size` bytes at `out`.
// Returns std::nullopt on success, else why the data is not a valid page
// ("zlib: invalid distance too far back", "decompresses to 1234 bytes, not
// 4096").
std::optional<std::string> decode_page(uint32_t flags, const uint8_t* data, size_t size, uint8_t* out,
                                       size_t page_size);

// True if memscope can decode pages with these flags (one codec bit or 0).
bool codec_supported(uint32_t flags);

}  // namespace memscope::kdump
