// Writes a profile as a Volatility 3 ISF document (schema 6.2.0, laid out as
// dwarf2json lays it out): what `profile generate` writes, whether the
// profile was generated from BTF + System.map or recovered from an image.
// Volatility 3 loads the result; so does memscope.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/types/profile.h"

namespace memscope {

struct IsfExportOptions {
  // metadata.linux.symbols[0]: where the symbols came from. ISF knows the
  // kinds "dwarf", "symtab" and "system-map"; kallsyms is a system map the
  // kernel keeps in itself.
  std::string symbols_kind = "system-map";
  std::string symbols_name;    // e.g. "System.map-6.1.0-56-amd64"; "" leaves the entry out
  std::string symbols_sha256;  // hex; "" leaves the hash out
  bool big_endian = false;     // the profiled kernel's byte order
};

// Every defined base type, struct/union and enum of the profile, and every
// symbol (untyped ones as void). linux_banner carries the profile's banner
// as constant_data (its bytes, "\n", NUL), which is what Volatility 3 and
// memscope match images by.
nlohmann::json isf_from_profile(const Profile& profile, const IsfExportOptions& options = {});

// The banner bytes as stored in constant_data (before base64).
std::string linux_banner_constant_data(const std::string& banner);

// Standard base64 (RFC 4648, with padding), as ISF's constant_data uses.
std::string base64_encode(std::string_view bytes);

}  // namespace memscope
