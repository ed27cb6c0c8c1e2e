// Generates a Volatility 3 ISF profile (schema 6.2.0, the layout dwarf2json
// produces) from a kernel's BTF and its System.map: what
// `memscope profile generate --btf FILE --system-map FILE` runs. The
// profile is built by profile_from_btf.h (which also serves analysis
// directly, without an ISF) and written by isf_from_profile.h, so that the
// ISF and a profile used in memory are one and the same.
//
// Conventions follow dwarf2json (docs/profile-generation.md lists them).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "profiles/btf/btf.h"
#include "profiles/btf/isf_from_profile.h"
#include "profiles/btf/profile_from_btf.h"
#include "profiles/system_map.h"

namespace memscope {

struct IsfFromBtfOptions {
  // The kernel's banner ("Linux version ..."), stored as linux_banner's
  // constant_data the way dwarf2json stores it: the bytes, a trailing "\n"
  // (added when missing) and a NUL. Volatility matches images by it.
  std::optional<std::string> banner;
  // producer.version in the metadata; empty: memscope's own version.
  std::string producer_version;
  // SHA-256 (hex) of the System.map, recorded in the metadata when given.
  std::string system_map_sha256;
};

// Builds the ISF document. Throws FormatError for BTF it cannot use.
nlohmann::json isf_from_btf(const Btf& btf, const SystemMap& system_map, const IsfFromBtfOptions& options,
                            IsfFromBtfReport* report = nullptr);

// Loads both files (BTF raw or from a vmlinux ELF) and builds the document.
nlohmann::json isf_from_btf_files(const std::string& btf_path, const std::string& system_map_path,
                                  const IsfFromBtfOptions& options, IsfFromBtfReport* report = nullptr);

}  // namespace memscope
