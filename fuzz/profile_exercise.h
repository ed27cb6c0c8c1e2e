// What every profile fuzz target asks of a profile it got: the lookups the
// kernel helpers make (types and members by name, offsets through
// anonymous members, symbols by name and address, enumerators, type
// names), bounded. A ProfileError or FormatError is a clear answer; a
// crash or an out-of-bounds read is a bug.
#pragma once

#include <algorithm>
#include <string_view>

#include "core/types/profile.h"
#include "core/util/error.h"

namespace memscope::fuzz {

inline void exercise_profile(const Profile& profile, bool verify) {
  if (verify) profile.verify();
  static constexpr std::string_view kTypes[] = {"task_struct", "list_head", "module", "cred", "mm_struct",
                                                "unsigned int", "enum pid_type", "struct a", "union b", "char"};
  for (std::string_view name : kTypes) {
    try {
      const TypeInfo* type = profile.find_type(name);
      if (!type) continue;
      (void)profile.type_name(type->id);
      (void)profile.is_signed(*type);
      for (const MemberInfo& member : profile.members(*type)) {
        (void)profile.name(member);
        (void)profile.type_name(member.type);
        (void)profile.find_member(*type, profile.name(member));
      }
      (void)profile.find_member(*type, "tasks");
      (void)profile.offset_of(profile.name(*type), "tasks.next");
      for (const EnumeratorInfo& e : profile.enumerators(*type)) (void)profile.enumerator_name(*type, e.value);
    } catch (const Error&) {
    }
  }
  size_t seen = 0;
  for (const TypeInfo& type : profile.types()) {
    if (++seen > 256) break;
    try {
      (void)profile.name(type);
      (void)profile.type_name(type.id);
    } catch (const Error&) {
    }
  }
  seen = 0;
  for (const SymbolInfo& symbol : profile.symbols()) {
    if (++seen > 256) break;
    try {
      std::string_view name = profile.name(symbol);
      (void)profile.find_symbol(name);
      (void)profile.nearest_symbol(symbol.address);
    } catch (const Error&) {
    }
  }
  try {
    (void)profile.symbol("init_task");
    (void)profile.nearest_symbol(0xffffffff81000000ull);
    (void)profile.enum_constant("pid_type", "PIDTYPE_PID");
  } catch (const Error&) {
  }
}

}  // namespace memscope::fuzz
