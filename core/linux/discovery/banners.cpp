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

BannerListing list_linux_banners(AddressSpace& physical, size_t max, const ScanOptions& options) {
  BannerListing listing;
  std::vector<ScanPattern> patterns = {{std::string(kMarker)}};
  char buffer[kMaxBannerBytes];
  listing.scan = scan_physical(
      physical, patterns,
      [&](const ScanHit& hit) {
        IoResult r = physical.read(hit.address, buffer, sizeof buffer, kReadPad);
        size_t length = strnlen(buffer, r.done);
        std::string_view text(buffer, length);
        // The banner is one line; the log buffer holds copies followed by more text.
        text = text.substr(0, text.find('\n'));
        if (!looks_like_linux_banner(text)) return true;
        auto same = std::find_if(listing.banners.begin(), listing.banners.end(),
                                 [&](const FoundBanner& seen) { return seen.text == text; });
        if (same != listing.banners.end()) return true;
        if (listing.banners.size() >= max) {
          // One more distinct banner than asked for: the list is cut.
          listing.truncated = true;
          return false;
        }
        listing.banners.push_back(FoundBanner{hit.address, std::string(text)});
        return true;
      },
      options);
  return listing;
}

std::vector<std::string> find_linux_banners(AddressSpace& physical, size_t max) {
  std::vector<std::string> texts;
  if (max == 0) return texts;
  for (FoundBanner& banner : list_linux_banners(physical, max).banners) texts.push_back(std::move(banner.text));
  return texts;
}

}  // namespace memscope
