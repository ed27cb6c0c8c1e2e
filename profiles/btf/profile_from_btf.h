// Builds a kernel profile straight from the kernel's BTF and a symbol table
// (System.map, or the kernel's own kallsyms read from an image), through
// ProfileBuilder: no ISF document is made or parsed, which is what lets a
// profile recovered from an image be ready in a fraction of a second.
//
// The conventions are dwarf2json's (docs/profile-generation.md), so that the
// ISF that `isf_from_profile` writes from this profile is interchangeable
// with dwarf2json's:
// - typedefs are resolved (ISF has none); a typedef of a struct/union is
//   referred to by the typedef's name and defined under it as a copy;
// - anonymous structs/unions/enums are named "unnamed_<16 hex digits>" (a
//   hash of their definition, so identical ones share a name); anonymous
//   members are "unnamed_field_<n in hex>", flagged anonymous;
// - bitfields: offset = bit offset / 8, bit position = bit offset % 8;
// - an enum's base is the first integer base type (by name) of its size and
//   signedness;
// - every symbol has a type: from BTF variables (per-CPU ones), else from
//   the table of known globals (global_types.h), else void.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/types/profile.h"
#include "profiles/btf/btf.h"
#include "profiles/system_map.h"

namespace memscope {

struct ProfileFromBtfOptions {
  // The kernel's banner ("Linux version ..."), the profile's banner.
  std::optional<std::string> banner;
  // What the profile names as its source (messages, cache key); "" = the
  // BTF's source.
  std::string source;
  // The producer's version in the metadata; empty: memscope's own.
  std::string producer_version;
};

// What the generator did, for the commands to print.
struct IsfFromBtfReport {
  size_t base_types = 0, user_types = 0, enums = 0;
  size_t symbols = 0;               // in the output
  size_t symbols_typed_by_btf = 0;  // variables BTF describes (per-CPU)
  size_t symbols_typed_by_table = 0;
  size_t percpu_symbols_added = 0;  // BTF per-CPU variables missing from the symbol table
  size_t duplicate_symbols = 0;     // names seen more than once (the last wins)
  std::vector<std::string> warnings;
};

// The ISF "format" the generated profiles follow.
inline constexpr const char* kGeneratedIsfFormat = "6.2.0";

// Builds the profile. Throws FormatError for BTF it cannot use, ProfileError
// when the model refuses it.
std::shared_ptr<const Profile> profile_from_btf(const Btf& btf, const SystemMap& symbols,
                                                const ProfileFromBtfOptions& options,
                                                IsfFromBtfReport* report = nullptr);

}  // namespace memscope
