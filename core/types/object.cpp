#include "core/types/object.h"

#include <algorithm>
#include <cstring>

#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope {
namespace {

constexpr uint64_t kPage = 4096;

uint64_t little_endian(const uint8_t* bytes, size_t n) {
  uint64_t value = 0;
  for (size_t i = n; i-- > 0;) value = value << 8 | bytes[i];
  return value;
}

bool is_byte_sized_integer(const TypeInfo& t) {
  return t.kind == TypeKind::kBase && t.size == 1 &&
         (t.base == BaseKind::kChar || t.base == BaseKind::kInt || t.base == BaseKind::kBool);
}

}  // namespace

Object::Object(const Profile& profile, AddressSpace& space, TypeRef type, uint64_t address)
    : profile_(&profile), space_(&space), type_(&profile.type(type)), address_(address) {}

Object::Object(const Profile& profile, AddressSpace& space, std::string_view type_name, uint64_t address)
    : profile_(&profile), space_(&space), type_(&profile.require_type(type_name)), address_(address) {}

void Object::fail(const std::string& what) const {
  profile_->fail(what + " (" + type_name() + " at " + hex(address_) + ")");
}

void Object::read_raw(uint64_t address, void* buffer, size_t n) const {
  // Layers that hold the bytes in memory (mmap'd images, the paging
  // layer's cached translations) hand out a pointer: no IoResult to build.
  if (const uint8_t* bytes = space_->peek(address, n)) {
    std::memcpy(buffer, bytes, n);
    return;
  }
  try {
    space_->read_exact(address, buffer, n);
  } catch (const ReadError& e) {
    throw ReadError(e.address(), e.layer(), std::string(e.what()) + " (reading " + type_name() + " at " + hex(address_) + ")");
  }
}

uint64_t Object::read_uint(uint64_t address, uint64_t size) const {
  if (size == 0 || size > 8) fail("cannot read a " + std::to_string(size) + "-byte value as an integer");
  uint8_t bytes[8];
  read_raw(address, bytes, size);
  return little_endian(bytes, size);
}

// The bits of a bitfield: `bit_position` counts from the byte at address_,
// so the field may need up to 9 bytes when it does not start on a byte.
uint64_t Object::bitfield_bits() const {
  unsigned first_byte = type_->bit_position / 8;
  unsigned shift = type_->bit_position % 8;
  unsigned length = type_->bit_length;
  size_t n = (shift + length + 7) / 8;
  uint8_t bytes[9] = {};
  read_raw(address_ + first_byte, bytes, n);
  uint64_t low = little_endian(bytes, std::min<size_t>(n, 8));
  uint64_t value = low >> shift;
  if (n == 9 && shift) value |= uint64_t(bytes[8]) << (64 - shift);
  return length == 64 ? value : value & ((uint64_t(1) << length) - 1);
}

// --- Navigation --------------------------------------------------------------

Object Object::step(std::string_view name, bool through_pointer, std::string_view path) const {
  Object base = *this;
  if (through_pointer) {
    if (!type_->is_pointer()) fail("'->' in '" + std::string(path) + "' needs a pointer");
    base = deref();
  } else if (type_->is_pointer()) {
    fail("is a pointer: write '->' (or deref()) to reach '" + std::string(name) + "' in '" + std::string(path) + "'");
  }
  const MemberInfo* m = profile_->find_member(*base.type_, name);
  if (!m) {
    if (!base.type_->is_record())
      base.fail("has no members (looking for '" + std::string(name) + "' in '" + std::string(path) + "')");
    base.fail("no member '" + std::string(name) + "'" +
              (path.size() != name.size() ? " (in '" + std::string(path) + "')" : std::string()));
  }
  return Object(profile_, space_, &profile_->type(m->type), base.address_ + m->offset);
}

Object Object::member(std::string_view path) const {
  // Plain names are the common case: no parsing.
  size_t separator = path.find_first_of(".-");
  if (separator == std::string_view::npos) {
    if (path.empty()) fail("empty member name");
    return step(path, false, path);
  }
  Object current = *this;
  size_t start = 0;
  bool through_pointer = false;
  while (true) {
    std::string_view name = path.substr(start, separator == std::string_view::npos ? separator : separator - start);
    if (name.empty()) fail("malformed member path '" + std::string(path) + "'");
    current = current.step(name, through_pointer, path);
    if (separator == std::string_view::npos) return current;
    if (path[separator] == '.') {
      through_pointer = false;
      start = separator + 1;
    } else if (path.substr(separator, 2) == "->") {
      through_pointer = true;
      start = separator + 2;
    } else {
      fail("malformed member path '" + std::string(path) + "'");
    }
    separator = path.find_first_of(".-", start);
  }
}

Object Object::member(const FieldRef& field) const {
  if (field.owner != type_->id)
    fail("field of " + profile_->type_name(field.owner) + " used on another type");
  return Object(profile_, space_, &profile_->type(field.type), address_ + field.offset);
}

bool Object::has_member(std::string_view name) const {
  const TypeInfo* record = type_;
  if (record->is_pointer() && record->target.valid()) record = &profile_->type(record->target);
  return profile_->find_member(*record, name) != nullptr;
}

Object Object::deref() const {
  uint64_t target_address = pointer();
  if (target_address == 0)
    throw ReadError(0, space_->name(),
                    space_->name() + ": NULL pointer dereference (" + type_name() + " at " + hex(address_) + ")");
  return Object(profile_, space_, &profile_->type(type_->target), target_address);
}

Object Object::at(uint64_t index) const {
  if (type_->kind == TypeKind::kArray) {
    if (type_->count && index >= type_->count)
      fail("index " + std::to_string(index) + " out of bounds");
    const TypeInfo& element = profile_->type(type_->target);
    return Object(profile_, space_, &element, address_ + index * element.size);
  }
  if (type_->kind == TypeKind::kPointer) {
    const TypeInfo& element = profile_->type(type_->target);
    if (element.size == 0) fail("cannot index a pointer to " + profile_->type_name(element.id) + " (size 0)");
    return Object(profile_, space_, &element, pointer() + index * element.size);
  }
  fail("cannot index: not an array or a pointer");
}

Object Object::cast(std::string_view type_name) const {
  return Object(profile_, space_, &profile_->require_type(type_name), address_);
}

Object Object::cast(TypeRef type) const { return Object(profile_, space_, &profile_->type(type), address_); }

Object Object::container_of(std::string_view type_name, std::string_view member_path) const {
  return memscope::container_of(*profile_, *space_, address_, type_name, member_path);
}

// --- Values ------------------------------------------------------------------

uint64_t Object::as_u64() const {
  switch (type_->kind) {
    case TypeKind::kBase:
      if (type_->base == BaseKind::kVoid || type_->base == BaseKind::kFloat) break;
      return read_uint(address_, type_->size);
    case TypeKind::kPointer:
    case TypeKind::kEnum: return read_uint(address_, type_->size);
    case TypeKind::kBitfield: return bitfield_bits();
    default: break;
  }
  fail("cannot read as an integer");
}

int64_t Object::as_i64() const {
  uint64_t value = as_u64();
  if (!profile_->is_signed(*type_)) return static_cast<int64_t>(value);
  unsigned bits = type_->kind == TypeKind::kBitfield ? type_->bit_length : unsigned(type_->size * 8);
  if (bits >= 64) return static_cast<int64_t>(value);
  uint64_t sign = uint64_t(1) << (bits - 1);
  return static_cast<int64_t>((value ^ sign) - sign);
}

double Object::as_double() const {
  if (type_->kind == TypeKind::kBase && type_->base == BaseKind::kFloat) {
    if (type_->size == sizeof(float)) {
      float f;
      read_raw(address_, &f, sizeof f);
      return f;
    }
    if (type_->size == sizeof(double)) {
      double d;
      read_raw(address_, &d, sizeof d);
      return d;
    }
    fail("unsupported floating-point size");
  }
  return profile_->is_signed(*type_) ? double(as_i64()) : double(as_u64());
}

uint64_t Object::pointer() const {
  if (!type_->is_pointer()) fail("not a pointer");
  return read_uint(address_, type_->size);
}

std::string Object::read_cstring(uint64_t address, size_t max_len) const {
  std::string out;
  char buffer[kPage];
  while (out.size() < max_len) {
    uint64_t at = address + out.size();
    size_t chunk = std::min<uint64_t>(max_len - out.size(), kPage - at % kPage);
    IoResult result;
    const char* bytes = reinterpret_cast<const char*>(space_->peek(at, chunk));
    if (bytes) {
      result.done = chunk;
    } else {
      result = space_->read(at, buffer, chunk);
      bytes = buffer;
    }
    const void* nul = std::memchr(bytes, 0, result.done);
    if (nul) {
      out.append(bytes, static_cast<const char*>(nul) - bytes);
      return out;
    }
    out.append(bytes, result.done);
    if (!result.ok()) {
      if (out.empty())
        throw ReadError(result.fault->address, result.fault->layer,
                        result.fault->message() + " (reading a string for " + type_name() + " at " + hex(address_) + ")");
      return out;
    }
  }
  return out;
}

std::string Object::as_string(size_t max_len) const {
  const bool limited = max_len == kStringLimit;
  if (limited) max_len = static_cast<size_t>(std::min<uint64_t>(active_limits().max_string, SIZE_MAX - 1));
  // The max_string limit cut the string (no NUL within it): not a value.
  auto checked = [&](std::string text, uint64_t at, uint64_t room) {
    if (limited && text.size() == max_len && room > max_len)
      throw LimitError("string at " + hex(at) + " (" + type_name() + " at " + hex(address_) + ") has no NUL within " +
                       limit_hint("max_string", max_len, kMaxStringOption));
    return text;
  };
  if (type_->kind == TypeKind::kArray && is_byte_sized_integer(profile_->type(type_->target))) {
    uint64_t limit = type_->count ? std::min<uint64_t>(type_->count, max_len) : max_len;
    return checked(read_cstring(address_, limit), address_, type_->count ? type_->count : ~uint64_t{0});
  }
  if (type_->kind == TypeKind::kPointer && is_byte_sized_integer(profile_->type(type_->target))) {
    uint64_t target = pointer();
    if (target == 0)
      throw ReadError(0, space_->name(),
                      space_->name() + ": NULL string pointer (" + type_name() + " at " + hex(address_) + ")");
    return checked(read_cstring(target, max_len), target, ~uint64_t{0});
  }
  fail("not a char array or char pointer");
}

int64_t Object::enum_value() const {
  bool is_enum = type_->kind == TypeKind::kEnum ||
                 (type_->kind == TypeKind::kBitfield && profile_->type(type_->target).kind == TypeKind::kEnum);
  if (!is_enum) fail("not an enum");
  return as_i64();
}

std::optional<std::string_view> Object::enum_name() const {
  int64_t value = enum_value();
  const TypeInfo& enum_type = type_->kind == TypeKind::kEnum ? *type_ : profile_->type(type_->target);
  if (auto name = profile_->enumerator_name(enum_type, value)) return name;
  // Enumerators of unsigned enums are stored with their bit pattern; a
  // narrower read may need zero- rather than sign-extension to match.
  return profile_->enumerator_name(enum_type, static_cast<int64_t>(as_u64()));
}

std::vector<uint8_t> Object::bytes(size_t max_bytes) const {
  if (max_bytes == kStringLimit) {
    max_bytes = static_cast<size_t>(std::min<uint64_t>(active_limits().max_object, SIZE_MAX));
    if (type_->size > max_bytes)
      throw LimitError(type_name() + " at " + hex(address_) + " is " + std::to_string(type_->size) +
                       " bytes, more than " + limit_hint("max_object", max_bytes, kMaxObjectOption));
  }
  std::vector<uint8_t> out(std::min<uint64_t>(type_->size, max_bytes));
  if (!out.empty()) read_raw(address_, out.data(), out.size());
  return out;
}

// --- Free functions --------------------------------------------------------

Object container_of(const Profile& profile, AddressSpace& space, uint64_t member_address,
                    std::string_view type_name, std::string_view member_path) {
  FieldRef field = profile.field(type_name, member_path);
  return Object(profile, space, field.owner, member_address - field.offset);
}

Object symbol_object(const Profile& profile, AddressSpace& space, std::string_view symbol, uint64_t slide,
                     std::string_view type_name) {
  const SymbolInfo* s = profile.find_symbol(symbol);
  if (!s) profile.fail("no symbol '" + std::string(symbol) + "'");
  if (!type_name.empty()) return Object(profile, space, type_name, s->address + slide);
  if (!s->type.valid()) profile.fail("symbol '" + std::string(symbol) + "' has no type: name one");
  return Object(profile, space, s->type, s->address + slide);
}

// --- List walks ------------------------------------------------------------

ListWalk::ListWalk(const Object& head, Kind kind, std::string_view type_name, std::string_view member,
                   WalkOptions options)
    : profile_(&head.profile()),
      space_(&head.space()),
      kind_(kind),
      container_(&profile_->require_type(type_name)),
      options_(options) {
  if (head.type().is_pointer())
    profile_->fail("list head is a pointer (" + head.type_name() + " at " + hex(head.address()) +
                   "): pass the head itself (deref() it)");
  // Offsets of the links come from the profile, never assumed.
  FieldRef link = profile_->field(*container_, member);
  member_offset_ = link.offset;
  next_offset_ = profile_->require_member(profile_->type(link.type), "next").offset;
  head_address_ = head.address();
  head_link_offset_ = profile_->require_member(head.type(), kind == Kind::kList ? "next" : "first").offset;
  head_description_ = std::string(kind == Kind::kList ? "list" : "hlist") + " at " + hex(head_address_) + " (" +
                      std::string(type_name) + "." + std::string(member) + ")";
}

void ListWalk::stop(std::string why) {
  warnings_.push_back(head_description_ + ": " + why + "; stopped after " + std::to_string(yielded_) + " entries");
  done_ = true;
}

bool ListWalk::read_pointer(uint64_t address, uint64_t& value, const char* what) {
  uint8_t bytes[8] = {};
  size_t size = profile_->pointer_size();
  IoResult result = space_->read(address, bytes, size);
  if (!result.ok()) {
    stop(std::string("cannot read ") + what + ": " + result.fault->message());
    return false;
  }
  value = little_endian(bytes, size);
  return true;
}

// Accepts `node` as the next entry if it is one: not the end of the list,
// not seen before, and readable (its own next pointer is read now, so that
// an entry is only yielded when the walk can go on from it).
void ListWalk::visit(uint64_t node) {
  if (kind_ == Kind::kList ? node == head_address_ : node == 0) {
    done_ = true;
    return;
  }
  if (node == 0) return stop("NULL next pointer");
  if (yielded_ >= options_.limit)
    return stop(options_.limit == active_limits().max_list
                    ? "more than " + std::to_string(options_.limit) + " entries: stopped at " +
                          limit_hint("max_list", options_.limit, kMaxListOption)
                    : "limit of " + std::to_string(options_.limit) + " entries reached");
  if (!visited_.insert(node).second) return stop("cycle: node " + hex(node) + " seen twice");
  if (!read_pointer(node + next_offset_, pending_next_, ("the next pointer of node " + hex(node)).c_str())) return;
  node_ = node;
  ++yielded_;
}

ListWalk::iterator ListWalk::begin() {
  if (!started_) {
    started_ = true;
    uint64_t first = 0;
    if (read_pointer(head_address_ + head_link_offset_, first, "the list head")) visit(first);
  }
  return iterator(this);
}

void ListWalk::advance() {
  if (!done_) visit(pending_next_);
}

Object ListWalk::current() const { return Object(*profile_, *space_, container_->id, node_ - member_offset_); }

ListWalk list_entries(const Object& head, std::string_view type_name, std::string_view member, WalkOptions options) {
  return ListWalk(head, ListWalk::Kind::kList, type_name, member, options);
}

ListWalk hlist_entries(const Object& head, std::string_view type_name, std::string_view member,
                       WalkOptions options) {
  return ListWalk(head, ListWalk::Kind::kHlist, type_name, member, options);
}

}  // namespace memscope
