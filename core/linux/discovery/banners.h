// Linux kernel banners ("Linux version 6.1.0-... #1 SMP ...") found in
// physical memory: how an image is matched to a profile before the kernel's
// location is known.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/layers/address_space.h"
#include "core/scan/scan_engine.h"

namespace memscope {

// Longest banner read; real ones are a few hundred bytes.
constexpr size_t kMaxBannerBytes = 1024;

// True for printable text starting "Linux version <release> " with a
// plausible release: rejects the marker inside binary data and the
// "Linux version %s" format strings the kernel also holds.
bool looks_like_linux_banner(std::string_view text);

// "Linux version 6.1.0-56-amd64 (..." -> "6.1.0-56-amd64"; "" if not a banner.
std::string linux_release_of(std::string_view banner);

struct FoundBanner {
  uint64_t address = 0;  // where it was first seen
  std::string text;      // without its trailing newline
};

struct BannerListing {
  std::vector<FoundBanner> banners;  // distinct, in address order
  bool truncated = false;            // more than `max` distinct banners
  ScanStats scan;                    // what was read, skipped, and whether it was interrupted
};

// Every distinct banner in `physical` (at most `max`): a whole-image pass
// of the scanning engine (all cores, holes skipped; `options` sets the
// progress bar and the cancel token: an interrupted listing has
// scan.interrupted set and holds the banners seen until then).
BannerListing list_linux_banners(AddressSpace& physical, size_t max = 32, const ScanOptions& options = {});

// The texts of list_linux_banners(physical, max).banners.
std::vector<std::string> find_linux_banners(AddressSpace& physical, size_t max = 32);

}  // namespace memscope
