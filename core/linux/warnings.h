// The one way kernel walkers report trouble with single items: a task whose
// cred cannot be read, a module with a wild name pointer, a list that breaks
// half-way. The analysis goes on; the analyst gets a warning that names the
// item and the address, and the rest of the output.
//
//   ItemFailures failed;
//   failed.attempt("comm", [&] { out.comm = t[comm_].as_string(); });
//   failed.attempt("cred", [&] { ... });
//   failed.report(warnings, "task", out.label());
//   // -> "task 0xffff8f0bc49f8000 (pid 201 bash): cannot read cred: <ReadError naming the address>"
//
// Everything ends in one `Warnings` per analysis, which keeps a smeared or
// forged image from burying the output under a million lines: an exact
// repeat is counted, and warnings of one kind (every task whose cred cannot
// be read) are shown up to kShownPerKind, then counted.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/util/error.h"

namespace memscope {

class Warnings {
 public:
  // Warnings of one kind shown before the rest are only counted: enough to
  // see the pattern and the first addresses, few enough to read.
  static constexpr size_t kShownPerKind = 20;

  // A warning that is its own kind ("task list: cycle at node 0x...").
  void add(std::string message);
  // A warning of a kind shared by many items ("task: cannot read cred").
  void add(std::string_view kind, std::string message);

  bool empty() const { return entries_.empty(); }
  // Every warning added, repeats and hidden ones included.
  size_t total() const { return total_; }
  // What to show, in the order first met: a repeated message once with
  // "(N times)", then one line per kind that went over its share.
  std::vector<std::string> lines() const;

 private:
  struct Entry {
    std::string message;
    size_t count = 1;
  };
  struct Kind {
    size_t shown = 0;
    size_t hidden = 0;
  };

  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;  // message -> entries_
  std::vector<std::pair<std::string, Kind>> kinds_;  // in order first met
  std::map<std::string, size_t, std::less<>> kind_index_;  // kind -> kinds_
  size_t total_ = 0;
};

// What failed while reading one item (a task, a module, later a socket or a
// mapping), gathered into at most one warning for it so that one smeared
// structure gives one line, not ten.
class ItemFailures {
 public:
  // Runs `read`. A memscope::Error it throws (ReadError, ProfileError) is
  // noted under `what` and false returned; the caller's value stays empty.
  // Anything else (out of memory, a bug) is not the image's fault and
  // goes through.
  template <typename Read>
  bool attempt(std::string_view what, Read&& read) {
    try {
      read();
      return true;
    } catch (const Error& e) {
      failures_.emplace_back(std::string(what), e.what());
      return false;
    }
  }

  bool empty() const { return failures_.empty(); }

  // Adds "<label>: cannot read <what>: <error>; <what>: <error>" to
  // `warnings`, of the kind "<item_kind>: cannot read <what>, <what>". The
  // label names the item and its address (Task::label(): "task 0x... (pid
  // 201 bash)"); the errors name the address that failed. Nothing if
  // nothing failed.
  void report(Warnings& warnings, std::string_view item_kind, const std::string& label) const;

 private:
  std::vector<std::pair<std::string, std::string>> failures_;  // what, error
};

}  // namespace memscope
