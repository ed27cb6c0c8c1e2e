// Walking kernel lists (struct list_head) that a rootkit or a smeared dump
// may have damaged. The plain bounded walks (list_entries, hlist_entries)
// are in core/types/object.h; this adds the recovery past a broken link.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/linux/warnings.h"
#include "core/types/object.h"

namespace memscope::linux_kernel {

// The entries of a circular `struct list_head` list anchored at `head`, in
// list order. The forward walk (core/object.h's bounded ListWalk) stops at a
// cycle, a NULL or unreadable pointer; when it does, the list is walked
// backward from `head` through the `prev` pointers, which a single broken
// `next` leaves intact, to recover the entries beyond the break. Entries
// reached both ways appear once. Every stop and recovery adds a warning
// naming `what` ("task list", "module list") and the node where it
// happened. Never throws for bad memory.
std::vector<Object> list_entries_recovering(const Object& head, std::string_view type_name,
                                            std::string_view member, const std::string& what,
                                            Warnings& warnings, WalkOptions options = {});

}  // namespace memscope::linux_kernel
