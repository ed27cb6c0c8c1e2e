// The function pointers of the tty layer that a keylogger or a backdoor
// rewrites: each registered driver's struct tty_operations (`tty_drivers`
// list, driver->ops), and for each open tty (driver->ttys[]) its own ops
// when they differ from its driver's and its line discipline's struct
// tty_ldisc_ops (tty->ldisc->ops: receive_buf is where keystrokes pass),
// plus the registered line disciplines (`tty_ldiscs[]`) when the profile
// gives that array's length. Each operations structure is read once, and
// every non-NULL function pointer member of it (the profile says which
// members are function pointers) is reported with the module that owns the
// structure (driver->owner, ldisc_ops->owner), against which a handler is
// judged.
//
// Bounded: the driver list (kMaxTtyDrivers, cycles), ttys per driver
// (kMaxTtysPerDriver); a structure that cannot be read costs itself, with a
// warning naming the address.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/linux/kernel_view.h"
#include "core/linux/warnings.h"

namespace memscope::linux_kernel {

inline constexpr size_t kMaxTtyDrivers = 4096;
// The legacy pty driver has NR_PTYS (at most 256) ttys, serial drivers a
// few dozen, the console 63; devpts ptys keep no ttys[] array.
inline constexpr uint64_t kMaxTtysPerDriver = 1u << 16;

struct TtyOperation {
  std::optional<std::string> driver;  // driver->driver_name (or name); empty for a registered ldisc
  std::optional<std::string> tty;     // the open tty it was found through; empty for a driver's own ops
  std::string structure;              // "tty_operations" or "tty_ldisc_ops"
  std::optional<std::string> ldisc;   // tty_ldisc_ops: the line discipline's name ("n_tty")
  uint64_t table = 0;               // address of that structure
  std::string operation;            // the member: "write", "receive_buf", ...
  uint64_t handler = 0;
  uint64_t owner = 0;               // struct module owning the structure; 0: the kernel
};

// Every non-NULL operation of every structure reached. Throws ProfileError
// without tty_drivers or struct tty_driver.
std::vector<TtyOperation> tty_operations(const KernelView& kernel, Warnings& warnings);

// The function-pointer members of a struct, in layout order: (name, offset).
std::vector<std::pair<std::string, uint64_t>> function_pointer_members(const Profile& profile, const TypeInfo& record);

}  // namespace memscope::linux_kernel
