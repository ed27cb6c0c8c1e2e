// The one registry behind every "things that register themselves" list:
// image formats, image writers, profile sources, plugins, subcommands.
//
// A part of memscope adds an entry from its own file, at load time, with
//
//   MEMSCOPE_REGISTER(plugin_registry(), Plugin{.info = {...}, .run = ...});
//
// so that adding a format or a plugin is adding a file: no list to edit,
// and the code that uses the registry (core) never names the code that
// fills it (formats/, profiles/, plugins/). Entries are kept in the
// registry's order (by name, or by priority then name) and found by key.
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

  // `what` names the kind of entry in messages ("plugin", "image format").
  // Without `before`, entries are sorted by key.
  Registry(std::string what, KeyOf key, Before before = {})
      : what_(std::move(what)), key_(std::move(key)), before_(std::move(before)) {}
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Adds an entry in order. Throws Error for an empty or duplicate key.
  void add(Entry entry) {
    std::lock_guard lock(mutex_);
    std::string_view key = key_(entry);
    if (key.empty()) throw Error(what_ + " registered without a name");
    if (find_locked(key)) throw Error(what_ + " '" + std::string(key) + "' is registered twice");
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
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

namespace detail {
// Runs a registration at load time; a failure (a duplicate name) cannot be
// thrown out of a static initialiser, so it is reported and the process
// stops: two entries with one name is a build mistake, not bad input.
template <typename Entry>
bool register_at_load(Registry<Entry>& registry, Entry entry) noexcept {
  try {
    registry.add(std::move(entry));
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
// expression giving a Registry<Entry>&) when the file is loaded.
#define MEMSCOPE_REGISTER(registry, ...)                                                              \
  [[maybe_unused]] static const bool MEMSCOPE_REGISTER_CAT(memscope_registered_, __LINE__) = \
      ::memscope::detail::register_at_load(registry, __VA_ARGS__)
