// Saving and loading an overlay (the analyst's writes) to a file of its own,
// so a session's patches can be kept apart from the evidence and replayed.
// The format is versioned, little-endian and checksummed; it is described
// in docs/overlay-format.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/layers/overlay.h"

namespace memscope {

// Version written by save_overlay and the only one load_overlay reads.
constexpr uint32_t kOverlayFormatVersion = 1;

// Which image an overlay belongs to. Stored in the file; compared on load.
struct ImageIdentity {
  std::string path;         // where the image was (informational: images move)
  uint64_t size = 0;        // evidence file size in bytes
  std::string fingerprint;  // chosen by the caller (a hash, ...); may be empty
  bool operator==(const ImageIdentity&) const = default;
};

enum class IdentityCheck {
  // A different size, or a different non-empty fingerprint, throws Error.
  strict,
  // Differences are reported in OverlayFileInfo::warnings instead.
  warn,
};

struct OverlayFileInfo {
  uint32_t version = 0;
  ImageIdentity image;  // as stored in the file
  uint64_t pages = 0;
  // Identity differences accepted under IdentityCheck::warn, and a
  // different image path (never an error).
  std::vector<std::string> warnings;
};

struct OverlayFileContents {
  OverlayFileInfo info;
  Overlay::PageMap pages;
};

// Writes the overlay's written pages to `path`: into a temporary file in the
// same folder, flushed, then renamed over `path`, so a crash never leaves a
// half-written overlay under that name. Throws Error naming the path.
// Strings longer than 4096 bytes in `image` are refused.
void save_overlay(const Overlay& overlay, const ImageIdentity& image, const std::string& path);

// Reads and validates the whole file (magic, version, checksums, sizes,
// order) without touching any overlay. Throws FormatError naming the file
// and the offset of the first problem. Allocation is bounded by the file size.
OverlayFileContents read_overlay_file(const std::string& path);

// Loads `path` into `overlay`, replacing its pages, all or nothing: the file
// is validated, then compared with `image` (see IdentityCheck), and every
// page must be readable in the layer below the overlay (an overlay cannot
// hold memory the image lacks); only then are the pages swapped in.
// Throws FormatError for a corrupt file, Error for a mismatch.
OverlayFileInfo load_overlay(Overlay& overlay, const ImageIdentity& image, const std::string& path,
                             IdentityCheck check = IdentityCheck::strict);

}  // namespace memscope
