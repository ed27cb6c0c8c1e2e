#include "core/linux/discovery/banners.h"

#include <algorithm>
#include <cstring>

#include "core/scan/physical_scanner.h"

namespace memscope {
namespace {

constexpr std::string_view kMarker = "Linux version ";

}  // namespace

std::string linux_release_of(std::string_view banner) {
  if (banner.substr(0, kMarker.size()) != kMarker) return "";
  banner.remove_prefix(kMarker.size());
  return std::string(banner.substr(0, std::min(banner.find(' '), banner.size())));
}

bool looks_like_linux_banner(std::string_view text) {
  std::string release = linux_release_of(text);
  if (release.empty() || release.size() > 64 || release.find('%') != std::string::npos) return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= ' ' && c < 127) || c == '\n' || c == '\t'; });
}

std::vector<std::string> find_linux_banners(AddressSpace& physical, size_t max) {
  std::vector<std::string> banners;
  if (max == 0) return banners;
  std::vector<ScanPattern> patterns = {{std::string(kMarker)}};
  char buffer[kMaxBannerBytes];
  scan_physical(physical, patterns, [&](const ScanHit& hit) {
    IoResult r = physical.read(hit.address, buffer, sizeof buffer, kReadPad);
    size_t length = strnlen(buffer, r.done);
    std::string_view text(buffer, length);
    // The banner is one line; the log buffer holds copies followed by more text.
    text = text.substr(0, text.find('\n'));
    if (looks_like_linux_banner(text) && std::find(banners.begin(), banners.end(), text) == banners.end())
      banners.emplace_back(text);
    return banners.size() < max;
  });
  return banners;
}

}  // namespace memscope
