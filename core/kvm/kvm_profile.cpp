// kvm_offsetof, kvm_sizeof: the profile's layout for C callers, so that a
// libkvm program asks instead of hard-coding an offset for one kernel.
#include <string>

#include "core/kvm/kvm_handle.h"

namespace {

using memscope::kvm::fail;

const memscope::Profile* profile_of(kvm_t* kd, const char* call) {
  if (!kd->session->has_profile()) {
    fail(kd, std::string(call) + ": no kernel profile (give one as execfile)");
    return nullptr;
  }
  return &kd->session->profile();
}

}  // namespace

extern "C" {

int kvm_offsetof(kvm_t* kd, const char* type, const char* member, size_t* offset, size_t* size) {
  if (!kd) return -1;
  if (!type || !member) return fail(kd, "kvm_offsetof: type and member must be given");
  try {
    const memscope::Profile* profile = profile_of(kd, "kvm_offsetof");
    if (!profile) return -1;
    memscope::FieldRef field = profile->field(type, member);
    if (offset) *offset = static_cast<size_t>(field.offset);
    if (size) *size = static_cast<size_t>(profile->type(field.type).size);
    return 0;
  } catch (const std::exception& e) {
    return fail(kd, std::string("kvm_offsetof: ") + e.what());
  }
}

ssize_t kvm_sizeof(kvm_t* kd, const char* type) {
  if (!kd) return -1;
  if (!type) return fail(kd, "kvm_sizeof: no type given");
  try {
    const memscope::Profile* profile = profile_of(kd, "kvm_sizeof");
    if (!profile) return -1;
    return static_cast<ssize_t>(profile->require_type(type).size);
  } catch (const std::exception& e) {
    return fail(kd, std::string("kvm_sizeof: ") + e.what());
  }
}

}  // extern "C"
