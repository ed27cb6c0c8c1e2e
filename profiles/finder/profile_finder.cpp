#include "profiles/finder/profile_finder.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/util/error.h"
#include "core/util/file_identity.h"
#include "profiles/isf/isf_loader.h"
#include "profiles/cache/profile_cache.h"

namespace memscope {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// 2: files are keyed by their full identity (device, inode, size, mtime, ctime).
constexpr int kIndexVersion = 2;
constexpr size_t kMaxIndexBytes = 64 << 20;

bool looks_like_profile(const std::string& name) {
  for (std::string_view suffix : {".json", ".json.xz", ".json.gz", ".isf", ".isf.xz", ".isf.gz"})
    if (name.size() > suffix.size() && name.ends_with(suffix)) return true;
  return false;
}


std::string absolute(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

// The banner index: path -> {identity, banner, error}. Small JSON, read
// and rewritten whole (temp file + rename). An entry holds while the file's
// identity (core/util/file_identity.h) is unchanged: ctime catches an edit
// that keeps the size and restores the mtime.
class BannerIndex {
 public:
  explicit BannerIndex(std::string path) : path_(std::move(path)) {
    if (path_.empty()) return;
    std::error_code ec;
    auto size = fs::file_size(path_, ec);
    if (ec || size > kMaxIndexBytes) return;
    try {
      std::ifstream in(path_);
      json doc = json::parse(in);
      if (doc.value("version", 0) != kIndexVersion || !doc["files"].is_object()) return;
      for (auto& [file, entry] : doc["files"].items()) {
        Entry e;
        e.identity.device = entry.at("device").get<uint64_t>();
        e.identity.inode = entry.at("inode").get<uint64_t>();
        e.identity.size = entry.at("size").get<uint64_t>();
        e.identity.mtime_ns = entry.at("mtime_ns").get<int64_t>();
        e.identity.ctime_ns = entry.at("ctime_ns").get<int64_t>();
        e.banner = entry.value("banner", "");
        e.error = entry.value("error", "");
        entries_[file] = std::move(e);
      }
    } catch (const std::exception&) {
      entries_.clear();  // a damaged index is rebuilt
    }
  }

  const ProfileCandidate* lookup(const std::string& file, const FileIdentity& identity, ProfileCandidate& out) const {
    auto it = entries_.find(file);
    if (it == entries_.end() || !(it->second.identity == identity)) return nullptr;
    out = ProfileCandidate{file, it->second.banner, it->second.error};
    return &out;
  }

  void record(const ProfileCandidate& c, const FileIdentity& identity) {
    entries_[c.path] = Entry{identity, c.banner, c.error};
    dirty_ = true;
  }

  void save() {
    if (!dirty_ || path_.empty()) return;
    json files = json::object();
    for (const auto& [file, e] : entries_) {
      // Forget files that are gone.
      if (!find_file_identity(file)) continue;
      json entry = {{"device", e.identity.device}, {"inode", e.identity.inode},   {"size", e.identity.size},
                    {"mtime_ns", e.identity.mtime_ns}, {"ctime_ns", e.identity.ctime_ns}, {"banner", e.banner}};
      if (!e.error.empty()) entry["error"] = e.error;
      files[file] = std::move(entry);
    }
    json doc = {{"version", kIndexVersion}, {"files", std::move(files)}};
    std::error_code ec;
    fs::create_directories(fs::path(path_).parent_path(), ec);
    std::string temp = path_ + ".tmp" + std::to_string(::getpid());
    {
      std::ofstream out(temp, std::ios::trunc);
      // Banners and paths from a forged file may not be UTF-8: replace, never throw.
      out << doc.dump(1, ' ', false, json::error_handler_t::replace);
      if (!out) {
        fs::remove(temp, ec);
        return;  // best effort
      }
    }
    fs::rename(temp, path_, ec);
    if (ec) fs::remove(temp, ec);
  }

 private:
  struct Entry {
    FileIdentity identity;
    std::string banner, error;
  };
  std::string path_;
  std::map<std::string, Entry> entries_;
  bool dirty_ = false;
};

ProfileCandidate summarize(const std::string& file, const std::string& cache_dir) {
  ProfileCandidate c{file, "", ""};
  try {
    if (!cache_dir.empty()) {
      ProfileCache cache(cache_dir);
      if (auto banner = cache.cached_banner(source_key(file))) {
        c.banner = *banner;
        return c;
      }
    }
    c.banner = normalize_banner(read_isf_summary(file).banner);
  } catch (const Error& e) {
    c.error = e.what();
  }
  return c;
}

size_t common_prefix(std::string_view a, std::string_view b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  // Banners are a few hundred bytes; longer input is cut (this only ranks).
  a = a.substr(0, 512);
  b = b.substr(0, 512);
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string normalize_banner(std::string_view banner) {
  while (!banner.empty() && (banner.back() == '\0' || banner.back() == '\n' || banner.back() == '\r' ||
                             banner.back() == ' '))
    banner.remove_suffix(1);
  return std::string(banner);
}

std::string ProfileFinder::default_symbols_dir() {
  const char* xdg = std::getenv("XDG_DATA_HOME");
  if (xdg && *xdg == '/') return (fs::path(xdg) / "memscope" / "symbols").string();
  const char* home = std::getenv("HOME");
  if (home && *home) return (fs::path(home) / ".local" / "share" / "memscope" / "symbols").string();
  return "";
}

ProfileFinder::ProfileFinder(std::vector<std::string> dirs, FinderOptions options) : options_(std::move(options)) {
  for (const std::string& dir : dirs) {
    std::error_code ec;
    if (!fs::exists(dir, ec)) throw Error("symbol directory " + dir + " does not exist");
    dirs_.push_back(absolute(dir));
  }
  if (options_.include_default_dir) {
    std::string fallback = default_symbols_dir();
    std::error_code ec;
    if (!fallback.empty() && fs::is_directory(fallback, ec)) dirs_.push_back(fallback);
  }
  if (options_.cache_dir.empty()) options_.cache_dir = default_cache_dir();
}

void ProfileFinder::scan() {
  scanned_ = true;
  std::set<std::string> files;
  for (const std::string& dir : dirs_) {
    std::error_code ec;
    if (fs::is_regular_file(dir, ec)) {
      files.insert(dir);
      continue;
    }
    auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it.depth() >= options_.max_depth) it.disable_recursion_pending();
      std::error_code type_ec;
      if (!it->is_regular_file(type_ec) || !looks_like_profile(it->path().filename().string())) continue;
      files.insert(it->path().lexically_normal().string());
      if (files.size() >= options_.max_files) break;
    }
  }

  std::string index_path =
      options_.use_index && !options_.cache_dir.empty() ? (fs::path(options_.cache_dir) / "banner-index.json").string() : "";
  BannerIndex index(index_path);
  for (const std::string& file : files) {
    // Identity first, then the banner: a file that changes meanwhile is
    // recorded with its old identity, so it is read again next time.
    auto identity = find_file_identity(file);
    if (!identity) continue;
    ProfileCandidate candidate;
    if (!index.lookup(file, *identity, candidate)) {
      candidate = summarize(file, options_.use_index ? options_.cache_dir : "");
      index.record(candidate, *identity);
    }
    candidates_.push_back(std::move(candidate));
  }
  index.save();
}

const std::vector<ProfileCandidate>& ProfileFinder::candidates() {
  if (!scanned_) scan();
  return candidates_;
}

std::optional<ProfileCandidate> ProfileFinder::find(const std::vector<std::string>& banners) {
  for (const std::string& wanted : banners) {
    std::string banner = normalize_banner(wanted);
    if (banner.empty()) continue;
    for (const ProfileCandidate& c : candidates())
      if (c.banner == banner) return c;
  }
  return std::nullopt;
}

std::vector<ProfileCandidate> closest_banners(const std::vector<ProfileCandidate>& candidates,
                                              std::string_view banner, size_t n) {
  struct Scored {
    size_t prefix, distance;
    const ProfileCandidate* candidate;
  };
  std::vector<Scored> scored;
  for (const ProfileCandidate& c : candidates)
    if (!c.banner.empty()) scored.push_back(Scored{common_prefix(c.banner, banner), edit_distance(c.banner, banner), &c});
  std::sort(scored.begin(), scored.end(), [](const Scored& a, const Scored& b) {
    if (a.prefix != b.prefix) return a.prefix > b.prefix;
    if (a.distance != b.distance) return a.distance < b.distance;
    return a.candidate->path < b.candidate->path;
  });
  std::vector<ProfileCandidate> out;
  for (size_t i = 0; i < scored.size() && i < n; ++i) out.push_back(*scored[i].candidate);
  return out;
}

ProfileCandidate ProfileFinder::require(const std::vector<std::string>& banners) {
  if (auto found = find(banners)) return *found;
  std::string message = "no profile matches the image's banner";
  if (banners.empty()) message = "no banner was found in the image to choose a profile";
  for (const std::string& b : banners) message += "\n  wanted:  " + normalize_banner(b);
  message += "\nsearched:";
  if (dirs_.empty()) message += " no directory (give one with -s DIR)";
  for (const std::string& d : dirs_) message += " " + d;
  const auto& all = candidates();
  size_t with_banner = std::count_if(all.begin(), all.end(), [](const ProfileCandidate& c) { return !c.banner.empty(); });
  message += "\n" + std::to_string(all.size()) + " profile files, " + std::to_string(with_banner) + " with a banner";
  if (!banners.empty()) {
    for (const ProfileCandidate& c : closest_banners(all, normalize_banner(banners.front())))
      message += "\n  closest: " + c.banner + "\n           (" + c.path + ")";
  }
  size_t unreadable = 0;
  for (const ProfileCandidate& c : all)
    if (!c.error.empty() && unreadable++ < 3) message += "\n  unreadable: " + c.error;
  throw ProfileError(message);
}

std::shared_ptr<const Profile> find_profile(const std::vector<std::string>& dirs,
                                            const std::vector<std::string>& banners, const FinderOptions& options) {
  ProfileFinder finder(dirs, options);
  ProfileCandidate match = finder.require(banners);
  LoadOptions load;
  load.cache_dir = options.cache_dir;
  load.use_cache = options.use_index;
  return load_profile(match.path, load);
}

}  // namespace memscope
