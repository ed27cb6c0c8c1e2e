#include "support/profile_model.h"

#include <functional>
#include <sstream>

#include "core/util/error.h"

namespace memscope::test {
namespace {

class Transcript {
 public:
  Transcript(const Profile& p, bool tolerant) : p_(p), tolerant_(tolerant) {}

  // One lookup; a tolerant transcript records a throw and goes on.
  void ask(const std::function<void()>& lookup) {
    if (!tolerant_) return lookup();
    try {
      lookup();
    } catch (const Error&) {
      ++errors_;
    }
  }

  void run() {
    ask([&] {
      const ProfileMetadata& m = p_.metadata();
      out_ << "meta " << m.source_path << '|' << m.banner << '|' << m.os << '|' << m.producer_name << '|'
           << m.producer_version << '|' << m.format_version << '|' << p_.pointer_size() << '\n';
      out_ << "counts " << p_.types().size() << ' ' << p_.member_count() << ' ' << p_.enumerator_count() << ' '
           << p_.symbols().size() << '\n';
    });
    for (uint32_t i = 0; i < p_.types().size(); ++i) ask([&] { type(TypeRef(i)); });
    for (size_t i = 0; i < p_.symbols().size(); ++i) ask([&] { symbol(p_.symbols()[i]); });
    ask([&] {
      out_ << "absent " << (p_.find_type("no such type") != nullptr) << (p_.find_symbol("~") != nullptr) << '\n';
      const SymbolInfo* lowest = p_.nearest_symbol(0);
      out_ << "nearest(0) " << (lowest ? p_.name(*lowest) : "-") << '\n';
    });
  }

  std::string text() const { return out_.str(); }
  size_t errors() const { return errors_; }

 private:
  void type(TypeRef ref) {
    const TypeInfo& t = p_.type(ref);
    std::string_view name = p_.name(t);
    out_ << "type " << ref.id << ' ' << int(t.kind) << ' ' << int(t.base) << ' ' << int(t.is_signed) << ' '
         << int(t.defined) << ' ' << int(t.bit_position) << ' ' << int(t.bit_length) << " '" << name << "' "
         << t.size << ' ' << t.count << ' ' << t.target.id << " '" << p_.type_name(ref) << "' "
         << p_.is_signed(t) << '\n';
    if (!name.empty()) {
      for (const char* prefix : {"", "struct ", "union ", "enum "}) {
        const TypeInfo* found = p_.find_type(std::string(prefix) + std::string(name));
        out_ << "  find_type '" << prefix << name << "' " << (found ? int64_t(found->id.id) : -1) << '\n';
      }
    }
    for (const MemberInfo& m : p_.members(t)) {
      out_ << "  member '" << p_.name(m) << "' " << m.offset << ' ' << m.type.id << ' ' << int(m.anonymous) << '\n';
      if (!p_.name(m).empty()) {
        FieldRef f = p_.field(t, p_.name(m));
        out_ << "    field " << f.owner.id << ' ' << f.type.id << ' ' << f.offset << '\n';
      }
    }
    if (t.is_record()) nested_members(t, t, 0);
    for (const EnumeratorInfo& e : p_.enumerators(t)) {
      auto back = p_.enumerator_name(t, e.value);
      out_ << "  enumerator '" << p_.name(e) << "' " << e.value << " '" << (back ? *back : "-") << "' "
           << p_.enum_constant(name, p_.name(e)).value_or(-1) << '\n';
    }
  }

  // find_member for every name reachable through anonymous members.
  void nested_members(const TypeInfo& outer, const TypeInfo& record, int depth) {
    if (depth > 4) return;
    for (const MemberInfo& m : p_.members(record)) {
      std::string_view name = p_.name(m);
      if (!name.empty()) {
        const MemberInfo* found = p_.find_member(outer, name);
        out_ << "  find_member '" << name << "' ";
        if (found) out_ << found->offset << ' ' << found->type.id << '\n';
        else out_ << "-\n";
      }
      if (m.anonymous) nested_members(outer, p_.type(m.type), depth + 1);
    }
  }

  void symbol(const SymbolInfo& s) {
    std::string_view name = p_.name(s);
    const SymbolInfo* found = p_.find_symbol(name);
    out_ << "symbol '" << name << "' " << s.address << ' ' << s.type.id << ' ' << s.flags << ' ' << (found == &s)
         << ' ' << p_.symbol(name).value_or(0) << '\n';
    for (uint64_t at : {s.address - 1, s.address, s.address + 1}) {
      const SymbolInfo* near = p_.nearest_symbol(at);
      out_ << "  nearest " << at << ' ' << (near ? p_.name(*near) : "-") << '\n';
    }
  }

  const Profile& p_;
  bool tolerant_;
  std::ostringstream out_;
  size_t errors_ = 0;
};

}  // namespace

std::string profile_transcript(const Profile& p) {
  Transcript t(p, false);
  t.run();
  return t.text();
}

size_t exercise_profile(const Profile& p) {
  Transcript t(p, true);
  t.run();
  return t.errors();
}

}  // namespace memscope::test
