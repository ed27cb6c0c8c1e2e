// Volatility 3 Intermediate Symbol Format (ISF, schema 6.x) into a Profile.
//
// The JSON is parsed as a stream of SAX events straight into the compact
// model: no document tree of the (tens of MB) file is ever built. Files may
// be plain, xz or gzip (recognised by their magic bytes). Every error is a
// FormatError naming the file and where in the document it was found.
#pragma once

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>

#include "core/types/profile.h"

namespace memscope {

// Parses an ISF file (plain, .xz or .gz) without any cache.
std::shared_ptr<const Profile> parse_isf_file(const std::string& path);
// Parses ISF JSON text held in memory; `source` names it in messages.
std::shared_ptr<const Profile> parse_isf_text(std::string_view json, const std::string& source);

// What identifies an ISF file's kernel, read without building the model.
struct IsfSummary {
  std::string banner;          // "" when the file has no linux_banner constant_data
  std::string format_version;  // metadata.format
  std::string os;              // "linux", "windows", "mac" or ""
};
// Stops parsing as soon as metadata and the banner have been seen (dwarf2json
// writes symbols last, so that is usually near the end: callers cache it).
IsfSummary read_isf_summary(const std::string& path);

struct LoadOptions {
  bool use_cache = true;
  std::string cache_dir;  // "" = default_cache_dir() (see profile_cache.h)
  // Where the warning about a damaged cache entry goes; empty: stderr.
  std::function<void(const std::string&)> warn{};
  // Parse the source and rewrite its cache entry even if one exists (an
  // entry that verify() refused).
  bool rebuild = false;
};

// The entry point: a profile from an ISF file, mapped from the binary cache
// when an entry exists for this exact version of the file (same device,
// inode, size, mtime and ctime), parsed (and cached) otherwise. A stale
// entry is rewritten; a damaged one is rewritten with a warning.
std::shared_ptr<const Profile> load_profile(const std::string& path, bool use_cache = true);
std::shared_ptr<const Profile> load_profile(const std::string& path, const LoadOptions& options);

}  // namespace memscope
