#include "core/linux/idr.h"

#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {

IdrWalker::IdrWalker(const Profile& profile) : tree_(profile) {
  const TypeInfo& idr = profile.require_type("idr");
  if (!profile.find_member(idr, "idr_rt"))
    profile.fail("struct idr has no idr_rt: the layered IDR of kernels before 4.11 is not supported");
  root_ = profile.field(idr, "idr_rt");
  if (profile.find_member(idr, "idr_base")) base_ = profile.field(idr, "idr_base");
}

std::vector<IdrEntry> IdrWalker::entries(const Object& idr, const std::string& what, Warnings& warnings,
                                         XArrayOptions options) const {
  uint64_t base = 0;
  if (base_) {
    try {
      base = idr[*base_].as_u64();
    } catch (const Error& e) {
      warnings.add(what + ": cannot read idr_base of the IDR at " + hex(idr.address()) + ": " + e.what());
      return {};
    }
  }
  std::vector<IdrEntry> out;
  for (const XArrayEntry& e : tree_.entries(idr[root_], what, warnings, options)) {
    if (tree_.is_value(e.entry)) {  // not an object
      warnings.add(what + ": value entry", what + ": id " + std::to_string(e.index + base) + " holds the value " +
                                               hex(e.entry) + ", not a pointer; skipped");
      continue;
    }
    out.push_back({e.index + base, e.entry});
  }
  return out;
}

}  // namespace memscope::linux_kernel
