// The one registry behind every "things that register themselves" list:
// image formats, image writers, profile sources, plugins, subcommands.
//
// A part of memscope adds an entry from its own file, at load time, with
//
//   MEMSCOPE_REGISTER(format_registry(), FormatHandler{.name = "lime", ...});
//
// so that adding a format or a plugin is adding a file: no list to edit,
// and the code that uses the registry (core) never names the code that
// fills it (formats/, profiles/, plugins/). Entries are kept in the
// registry's order (by name, or by priority then name) and found by key; a
// registry may check each entry (a plugin's column names, say) and refuses
// one with problems, naming them.
// Entries are only added at load time (static initialisers, or dlopen of a
// plugin library), so reads need no lock once main() runs; adds are
// serialised all the same.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/error.h"

namespace memscope {

template <typename Entry>
class Registry {
 public:
  using KeyOf = std::function<std::string_view(const Entry&)>;
  using Before = std::function<bool(const Entry&, const Entry&)>;
  // What is wrong with an entry (empty: nothing).
  using Check = std::function<std::vector<std::string>(const Entry&)>;

  // `what` names the kind of entry in messages ("plugin", "image format").
  // Without `before`, entries are sorted by key.
  Registry(std::string what, KeyOf key, Before before = {}, Check check = {})
      : what_(std::move(what)), key_(std::move(key)), before_(std::move(before)), check_(std::move(check)) {}
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Adds an entry in order. Throws Error "cannot register <what> <key>:
  // <problems>" for an empty or duplicate key or what the check finds.
  void add(Entry entry) {
    std::lock_guard lock(mutex_);
    std::string_view key = key_(entry);
    if (key.empty()) throw Error("cannot register a " + what_ + " without a name");
    std::vector<std::string> problems = check_ ? check_(entry) : std::vector<std::string>{};
    if (find_locked(key)) problems.push_back("the name is registered twice");
    if (!problems.empty()) {
      std::string text = "cannot register " + what_ + " " + std::string(key) + ": ";
      for (size_t i = 0; i < problems.size(); ++i) text += (i ? "; " : "") + problems[i];
      throw Error(text);
    }
    auto at = std::upper_bound(entries_.begin(), entries_.end(), entry,
                               [this](const Entry& a, const Entry& b) { return less(a, b); });
    entries_.insert(at, std::move(entry));
  }

  // Every entry, in the registry's order.
  const std::vector<Entry>& entries() const { return entries_; }

  // The entry whose key is `key`, or nullptr.
  const Entry* find(std::string_view key) const {
    std::lock_guard lock(mutex_);
    return find_locked(key);
  }

  const std::string& what() const { return what_; }

 private:
  bool less(const Entry& a, const Entry& b) const { return before_ ? before_(a, b) : key_(a) < key_(b); }
  const Entry* find_locked(std::string_view key) const {
    for (const Entry& e : entries_)
      if (key_(e) == key) return &e;
    return nullptr;
  }

  std::string what_;
  KeyOf key_;
  Before before_;
  Check check_;
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

namespace detail {
// Makes an entry and adds it, at load time. A failure (a duplicate name, a
// problem the registry's check finds, an exception while making the entry)
// cannot be thrown out of a static initialiser: it is reported and the
// process stops, before any analysis could use the entry. It is a build
// mistake, not bad input.
template <typename Entry, typename Make>
bool register_at_load(Registry<Entry>& registry, Make make) noexcept {
  try {
    registry.add(make());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "memscope: %s\n", e.what());
    std::abort();
  }
  return true;
}
}  // namespace detail

}  // namespace memscope

#define MEMSCOPE_REGISTER_CAT2(a, b) a##b
#define MEMSCOPE_REGISTER_CAT(a, b) MEMSCOPE_REGISTER_CAT2(a, b)
// MEMSCOPE_REGISTER(registry, entry): adds `entry` to `registry` (an
// expression giving a Registry<Entry>&) when the file is loaded. `entry` is
// evaluated inside the registration, so that an error in making it is
// reported like any other.
#define MEMSCOPE_REGISTER(registry, ...)                                                      \
  [[maybe_unused]] static const bool MEMSCOPE_REGISTER_CAT(memscope_registered_, __LINE__) = \
      ::memscope::detail::register_at_load(registry, []() { return __VA_ARGS__; })
