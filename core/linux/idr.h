// `struct idr`: the kernel's id allocator, a radix tree of pointers indexed
// by id (4.11+: `idr_rt`, an xarray since 4.20, ids offset by `idr_base`
// since 4.16). Pid namespaces (pid.h), BPF programs and maps, and many
// drivers keep their objects in one.
//
// The older layered IDR (struct idr_layer, before 4.11) is not read: its
// users of interest here (pid namespaces from 4.15, BPF from 4.13) came
// after it; the constructor names what the profile lacks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/linux/warnings.h"
#include "core/linux/xarray.h"
#include "core/types/object.h"

namespace memscope::linux_kernel {

struct IdrEntry {
  uint64_t id = 0;
  uint64_t pointer = 0;  // what the IDR holds for the id
};

class IdrWalker {
 public:
  // Throws ProfileError if struct idr is not the radix-tree IDR.
  explicit IdrWalker(const Profile& profile);

  // Every id of the IDR at `idr` (a struct idr) and its pointer, ascending.
  // Value entries (which no IDR user stores as an object) are reported and
  // skipped. Warnings are "<what>: ..."; never throws for bad memory.
  std::vector<IdrEntry> entries(const Object& idr, const std::string& what, Warnings& warnings,
                                XArrayOptions options = {}) const;

  const XArrayWalker& tree() const { return tree_; }

 private:
  XArrayWalker tree_;
  FieldRef root_;
  std::optional<FieldRef> base_;
};

}  // namespace memscope::linux_kernel
