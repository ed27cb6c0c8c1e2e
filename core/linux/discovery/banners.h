// Linux kernel banners ("Linux version 6.1.0-... #1 SMP ...") found in
// physical memory: how an image is matched to a profile before the kernel's
// location is known.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/layers/address_space.h"

namespace memscope {

// Longest banner read; real ones are a few hundred bytes.
constexpr size_t kMaxBannerBytes = 1024;

// True for printable text starting "Linux version <release> " with a
// plausible release: rejects the marker inside binary data and the
// "Linux version %s" format strings the kernel also holds.
bool looks_like_linux_banner(std::string_view text);

// "Linux version 6.1.0-56-amd64 (..." -> "6.1.0-56-amd64"; "" if not a banner.
std::string linux_release_of(std::string_view banner);

// Distinct banners in `physical`, in address order, at most `max`, each
// without its trailing newline. Scans all mapped ranges (multi-threaded).
std::vector<std::string> find_linux_banners(AddressSpace& physical, size_t max = 32);

}  // namespace memscope
