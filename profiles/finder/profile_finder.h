// Finding the profile that fits an image: among the ISF files of the symbol
// directories (each `-s DIR`, then the user's default directory), the one
// whose linux_banner equals a banner found in the image.
//
// Reading a banner out of an ISF means parsing most of it (dwarf2json writes
// symbols last), so banners are kept in a small index in the cache
// directory, keyed by each file's path and identity (device, inode, size,
// mtime, ctime: core/util/file_identity.h): a second search only stats the
// files. Files the index does not know are read once (from the binary
// profile cache when it has them).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types/profile.h"

namespace memscope {

struct ProfileCandidate {
  std::string path;
  std::string banner;  // "" if the file has none
  std::string error;   // why the file could not be read, if it could not
};

struct FinderOptions {
  bool include_default_dir = true;  // add default_symbols_dir() after the given ones
  std::string cache_dir;            // where the banner index lives; "" = default_cache_dir()
  bool use_index = true;
  size_t max_files = 100000;        // bounds the directory walk
  int max_depth = 6;
};

class ProfileFinder {
 public:
  // `dirs` may also name single ISF files. Directories that do not exist
  // throw memscope::Error (a mistyped -s), except the default one.
  explicit ProfileFinder(std::vector<std::string> dirs, FinderOptions options = {});

  // "$XDG_DATA_HOME/memscope/symbols", else "~/.local/share/memscope/symbols".
  static std::string default_symbols_dir();

  const std::vector<std::string>& dirs() const { return dirs_; }
  // Every ISF file found (sorted by path), with its banner.
  const std::vector<ProfileCandidate>& candidates();
  // The file whose banner equals one of `banners` (compared without
  // trailing newlines/NULs), or nullopt.
  std::optional<ProfileCandidate> find(const std::vector<std::string>& banners);
  // Same, or ProfileError listing the banners searched for, the directories
  // and the closest banners that were found.
  ProfileCandidate require(const std::vector<std::string>& banners);

 private:
  void scan();
  std::vector<std::string> dirs_;
  FinderOptions options_;
  bool scanned_ = false;
  std::vector<ProfileCandidate> candidates_;
};

// A banner as compared: trailing '\n', '\r', ' ' and NULs removed.
std::string normalize_banner(std::string_view banner);

// The candidates closest to `banner` (longest common prefix, then smallest
// edit distance), at most `n`.
std::vector<ProfileCandidate> closest_banners(const std::vector<ProfileCandidate>& candidates,
                                              std::string_view banner, size_t n = 3);

// find + load_profile (through the binary cache).
std::shared_ptr<const Profile> find_profile(const std::vector<std::string>& dirs,
                                            const std::vector<std::string>& banners,
                                            const FinderOptions& options = {});

}  // namespace memscope
