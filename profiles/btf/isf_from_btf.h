// Generates a Volatility 3 ISF profile (schema 6.2.0, the layout dwarf2json
// produces) from a kernel's BTF and its System.map: what
// `memscope profile generate --btf FILE --system-map FILE` runs.
//
// Conventions follow dwarf2json so that the result is interchangeable with
// its profiles (docs/profile-generation.md lists them):
// - typedefs are resolved (ISF has none); a typedef of a struct/union is
//   referred to by the typedef's name and defined under it as a copy;
// - anonymous structs/unions/enums are named "unnamed_<16 hex digits>" (a
//   hash of their definition, so identical ones share a name); anonymous
//   members are "unnamed_field_<n in hex>" with "anonymous": true;
// - bitfields: offset = bit offset / 8, bit_position = bit offset % 8;
// - enum constants are signed 64-bit; an enum's base is the first base type
//   (by name) of its size and signedness;
// - symbols carry a "type" ({"kind": "base", "name": "void"} when unknown).
// Types come from BTF; symbol addresses from System.map; symbol types from
// BTF variables (per-CPU ones) and, for the globals plugins need, from the
// table in global_types.h.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "profiles/btf/btf.h"
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

// What the generator did, for the command to print.
struct IsfFromBtfReport {
  size_t base_types = 0, user_types = 0, enums = 0;
  size_t symbols = 0;               // in the output
  size_t symbols_typed_by_btf = 0;  // variables BTF describes (per-CPU)
  size_t symbols_typed_by_table = 0;
  size_t percpu_symbols_added = 0;  // BTF per-CPU variables missing from System.map
  size_t duplicate_symbols = 0;     // System.map names seen more than once (the last wins)
  std::vector<std::string> warnings;
};

// Builds the ISF document. Throws FormatError for BTF it cannot use.
nlohmann::json isf_from_btf(const Btf& btf, const SystemMap& system_map, const IsfFromBtfOptions& options,
                            IsfFromBtfReport* report = nullptr);

// Loads both files (BTF raw or from a vmlinux ELF) and builds the document.
nlohmann::json isf_from_btf_files(const std::string& btf_path, const std::string& system_map_path,
                                  const IsfFromBtfOptions& options, IsfFromBtfReport* report = nullptr);

// The banner bytes as stored in constant_data (before base64).
std::string linux_banner_constant_data(const std::string& banner);

// Standard base64 (RFC 4648, with padding), as ISF's constant_data uses.
std::string base64_encode(std::string_view bytes);

}  // namespace memscope
