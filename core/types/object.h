// Typed access to kernel memory: what plugins are written against.
//
//   Object task = symbol_object(profile, kernel, "init_task", slide);
//   int pid = task["pid"].value<int>();
//   std::string comm = task["comm"].as_string();
//   uint64_t arg_start = task["mm->arg_start"].as_u64();
//   for (Object t : list_entries(task["tasks"], "task_struct", "tasks")) ...
//
// An Object is a typed address: {profile, address space, type, address}.
// It is cheap to copy (32 bytes) and reads nothing until asked for a value.
// It refers to the Profile and the AddressSpace without owning them: keep
// them alive while objects are in use (the analysis session does).
//
// Member paths: "a" names a member (also one inside anonymous structs and
// unions); "a.b" goes into an embedded struct; "a->b" follows the pointer
// `a` (one read) and names a member of what it points to. A pointer is never
// followed silently: "mm.arg_start" on a `struct mm_struct *` is an error
// that suggests "->". Plugins that touch the same field on many objects
// resolve it once with Profile::field() and pass the FieldRef instead.
//
// Errors: a read that cannot be completed throws ReadError (from
// AddressSpace::read_exact) naming the address; a missing member or type,
// or a read that does not fit the type (an integer out of a struct), throws
// ProfileError naming it and the profile's source.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <vector>

#include "core/layers/address_space.h"
#include "core/types/profile.h"
#include "core/util/limits.h"

namespace memscope {

class Object {
 public:
  Object(const Profile& profile, AddressSpace& space, TypeRef type, uint64_t address);
  Object(const Profile& profile, AddressSpace& space, std::string_view type_name, uint64_t address);

  const Profile& profile() const { return *profile_; }
  AddressSpace& space() const { return *space_; }
  uint64_t address() const { return address_; }
  const TypeInfo& type() const { return *type_; }
  TypeRef type_ref() const { return type_->id; }
  std::string type_name() const { return profile_->type_name(type_->id); }
  uint64_t size() const { return type_->size; }

  // --- Navigation (no reads, except "->" in a path) -------------------
  Object member(std::string_view path) const;
  Object member(const FieldRef& field) const;
  Object operator[](std::string_view path) const { return member(path); }
  Object operator[](const FieldRef& field) const { return member(field); }
  // True if this struct/union (or the struct a pointer points to) has the
  // member, anonymous members included. Never throws for absent members.
  bool has_member(std::string_view name) const;
  // The object a pointer points to (one read). Throws ReadError for NULL.
  Object deref() const;
  // Element `index` of an array (bounds-checked unless the array is
  // flexible, count 0), or of the memory a pointer points to.
  Object at(uint64_t index) const;
  // Number of elements of an array type; 0 for anything else.
  uint64_t count() const { return type_->kind == TypeKind::kArray ? type_->count : 0; }
  // Same address, another type.
  Object cast(std::string_view type_name) const;
  Object cast(TypeRef type) const;
  // The struct `type_name` whose member `member_path` is this object.
  Object container_of(std::string_view type_name, std::string_view member_path) const;

  // --- Values ----------------------------------------------------------
  // Integers, chars, bools, enums, pointers and bitfields (little-endian,
  // up to 8 bytes), zero-extended.
  uint64_t as_u64() const;
  // Same, sign-extended when the type is signed.
  int64_t as_i64() const;
  bool as_bool() const { return as_u64() != 0; }
  // float or double.
  double as_double() const;
  // The address a pointer holds.
  uint64_t pointer() const;
  bool is_null() const { return pointer() == 0; }
  // A char array (up to its length) or a char pointer (the string it points
  // to), stopping at the first NUL or after max_len bytes. For a pointer,
  // a string cut by unreadable memory is returned as far as it could be
  // read; nothing readable at all throws ReadError. Without max_len, the
  // max_string limit (core/util/limits.h) applies, and a string it cuts
  // (no NUL within it) throws LimitError naming the limit and the address
  // instead of passing a cut string off as the value.
  static constexpr size_t kStringLimit = ~size_t{0};
  std::string as_string(size_t max_len = kStringLimit) const;
  int64_t enum_value() const;
  // The enumerator's name, or nullopt for a value no enumerator has.
  std::optional<std::string_view> enum_name() const;
  // as_u64 / as_i64 / as_double / as_bool converted to T.
  template <typename T>
  T value() const {
    if constexpr (std::is_same_v<T, bool>) {
      return as_bool();
    } else if constexpr (std::is_floating_point_v<T>) {
      return static_cast<T>(as_double());
    } else if constexpr (std::is_enum_v<T> || std::is_signed_v<T>) {
      return static_cast<T>(as_i64());
    } else {
      static_assert(std::is_integral_v<T>, "Object::value<T>: T must be arithmetic or an enum");
      return static_cast<T>(as_u64());
    }
  }
  // The object's raw bytes (at most max_bytes, by default the max_object
  // limit; throws ReadError).
  std::vector<uint8_t> bytes(size_t max_bytes = kStringLimit) const;

 private:
  Object(const Profile* profile, AddressSpace* space, const TypeInfo* type, uint64_t address)
      : profile_(profile), space_(space), type_(type), address_(address) {}
  [[noreturn]] void fail(const std::string& what) const;
  void read_raw(uint64_t address, void* buffer, size_t n) const;
  uint64_t read_uint(uint64_t address, uint64_t size) const;
  uint64_t bitfield_bits() const;
  Object step(std::string_view name, bool through_pointer, std::string_view path) const;
  std::string read_cstring(uint64_t address, size_t max_len) const;

  const Profile* profile_;
  AddressSpace* space_;
  const TypeInfo* type_;
  uint64_t address_;
};

// The struct `type_name` whose member `member_path` lies at member_address.
Object container_of(const Profile& profile, AddressSpace& space, uint64_t member_address,
                    std::string_view type_name, std::string_view member_path);

// The object a symbol names, at its link-time address + slide (the KASLR
// shift), typed by the symbol's type or by `type_name` when given.
Object symbol_object(const Profile& profile, AddressSpace& space, std::string_view symbol, uint64_t slide = 0,
                     std::string_view type_name = {});

// --- Bounded walks of kernel linked lists -----------------------------------

struct WalkOptions {
  // At most this many entries are yielded: by default the max_list limit
  // (core/util/limits.h; PID_MAX_LIMIT unless raised): no kernel list of
  // interest is longer, a forged one stops here with a warning naming it.
  size_t limit = active_limits().max_list;
};

// A single-pass range over the entries of a list. A walk never throws for
// bad memory: a cycle, a NULL or unreadable pointer, or the limit stops it
// and leaves a warning; the entries yielded before stay valid.
//
//   ListWalk walk = list_entries(modules_head, "module", "list");
//   for (Object module : walk) ...;
//   for (const std::string& w : walk.warnings()) report(w);
class ListWalk {
 public:
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Object;
    using difference_type = std::ptrdiff_t;
    using pointer = const Object*;
    using reference = Object;
    iterator() = default;
    Object operator*() const { return walk_->current(); }
    iterator& operator++() {
      walk_->advance();
      return *this;
    }
    void operator++(int) { walk_->advance(); }
    bool operator==(const iterator& other) const { return at_end() == other.at_end(); }

   private:
    friend class ListWalk;
    explicit iterator(ListWalk* walk) : walk_(walk) {}
    bool at_end() const { return !walk_ || walk_->done_; }
    ListWalk* walk_ = nullptr;
  };

  iterator begin();
  iterator end() { return iterator(); }

  // Why the walk stopped early, if it did (empty: the list ended normally).
  const std::vector<std::string>& warnings() const { return warnings_; }
  bool complete() const { return warnings_.empty(); }
  size_t yielded() const { return yielded_; }

 private:
  friend ListWalk list_entries(const Object&, std::string_view, std::string_view, WalkOptions);
  friend ListWalk hlist_entries(const Object&, std::string_view, std::string_view, WalkOptions);
  enum class Kind { kList, kHlist };
  ListWalk(const Object& head, Kind kind, std::string_view type_name, std::string_view member, WalkOptions options);
  Object current() const;
  void advance();
  void visit(uint64_t node);
  bool read_pointer(uint64_t address, uint64_t& value, const char* what);
  void stop(std::string why);

  const Profile* profile_;
  AddressSpace* space_;
  Kind kind_;
  const TypeInfo* container_;
  uint64_t member_offset_;
  uint64_t next_offset_;       // of `next` in list_head / hlist_node
  uint64_t head_address_;
  uint64_t head_link_offset_;  // of `next` in list_head / `first` in hlist_head
  uint64_t pending_next_ = 0;  // the current node's next pointer, read when it was visited
  std::string head_description_;
  WalkOptions options_;
  uint64_t node_ = 0;  // the current entry's list node
  bool started_ = false;
  bool done_ = false;
  size_t yielded_ = 0;
  std::unordered_set<uint64_t> visited_;
  std::vector<std::string> warnings_;
};

// Entries of a circular `struct list_head` list: `head` is the list_head
// that anchors the list (e.g. the `modules` symbol, init_task.tasks) and is
// not itself yielded. Each entry is a `type_name` whose member `member`
// (a list_head, possibly inside an embedded struct: "se.group_node") links it.
ListWalk list_entries(const Object& head, std::string_view type_name, std::string_view member,
                      WalkOptions options = {});
// Entries of a NULL-terminated `struct hlist_head` list.
ListWalk hlist_entries(const Object& head, std::string_view type_name, std::string_view member,
                       WalkOptions options = {});

}  // namespace memscope
