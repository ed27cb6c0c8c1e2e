#include "core/linux/tty.h"

#include <cstring>
#include <unordered_set>

#include "core/linux/list.h"
#include "core/linux/syscalls.h"
#include "core/types/object.h"
#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {
namespace {

// No operations structure is anywhere near this large; the cap keeps a
// forged profile from making one read huge.
constexpr uint64_t kMaxOpsSize = 4096;

void collect_function_pointers(const Profile& profile, const TypeInfo& record, uint64_t base,
                               std::vector<std::pair<std::string, uint64_t>>& out, int depth) {
  if (depth > 8) return;
  for (const MemberInfo& m : profile.members(record)) {
    const TypeInfo& type = profile.type(m.type);
    if (m.anonymous && type.is_record()) {
      collect_function_pointers(profile, type, base + m.offset, out, depth + 1);
      continue;
    }
    if (type.is_pointer() && type.target.valid() && profile.type(type.target).kind == TypeKind::kFunction)
      out.emplace_back(std::string(profile.name(m)), base + m.offset);
  }
}

class TtyWalk {
 public:
  TtyWalk(const KernelView& kernel, Warnings& warnings)
      : kernel_(kernel), profile_(kernel.profile()), warnings_(warnings) {
    const TypeInfo& ops = profile_.require_type("tty_operations");
    tty_ops_ = {ops.size, function_pointer_members(profile_, ops)};
    if (const TypeInfo* ldisc = profile_.find_type("tty_ldisc_ops"))
      ldisc_ops_ = {ldisc->size, function_pointer_members(profile_, *ldisc)};
  }

  std::vector<TtyOperation> run() {
    WalkOptions options;
    options.limit = kMaxTtyDrivers;
    for (const Object& driver : list_entries_recovering(kernel_.symbol("tty_drivers", "list_head"), "tty_driver",
                                                        "tty_drivers", "tty_drivers", warnings_, options))
      visit_driver(driver);
    registered_ldiscs();
    return std::move(out_);
  }

 private:
  struct OpsShape {
    uint64_t size = 0;
    std::vector<std::pair<std::string, uint64_t>> members;
  };

  void visit_driver(const Object& driver) {
    std::string name;
    uint64_t ops = 0, owner = 0, ttys = 0, count = 0;
    ItemFailures failed;
    failed.attempt("name", [&] {
      // driver_name is optional (NULL for the console and vt drivers); the
      // device name (name: "tty", "ttyS") is always set.
      if (driver.has_member("driver_name") && !driver["driver_name"].is_null())
        name = driver["driver_name"].as_string(64);
      if (name.empty()) name = driver["name"].as_string(64);
    });
    failed.attempt("ops", [&] { ops = driver["ops"].pointer(); });
    failed.attempt("owner", [&] { owner = driver["owner"].pointer(); });
    failed.attempt("ttys", [&] {
      ttys = driver["ttys"].pointer();
      count = driver["num"].as_u64();
    });
    const std::string label = "tty_driver " + hex_address(driver.address()) + (name.empty() ? "" : " (" + name + ")");
    failed.report(warnings_, "tty_driver", label);
    if (ops) check("tty_operations", tty_ops_, ops, driver_label(name), std::nullopt, owner);
    if (!ttys || !count) return;
    if (count > kMaxTtysPerDriver) {
      warnings_.add(label + ": " + std::to_string(count) + " ttys is not plausible; checking the first " +
                    std::to_string(kMaxTtysPerDriver));
      count = kMaxTtysPerDriver;
    }
    for (const auto& tty : read_pointer_array(kernel_.kernel(), ttys, count, label + ": ttys", warnings_))
      if (tty && *tty) visit_tty(*tty, driver_label(name), ops, owner);
  }

  void visit_tty(uint64_t address, const std::optional<std::string>& driver, uint64_t driver_ops,
                 uint64_t driver_owner) {
    Object tty = kernel_.object("tty_struct", address);
    std::optional<std::string> name;
    uint64_t ops = 0, ldisc_ops = 0, ldisc_owner = 0;
    ItemFailures failed;
    failed.attempt("name", [&] { name = tty["name"].as_string(64); });
    failed.attempt("ops", [&] { ops = tty["ops"].pointer(); });
    failed.attempt("ldisc", [&] {
      uint64_t ldisc = tty["ldisc"].pointer();
      if (!ldisc) return;
      ldisc_ops = kernel_.object("tty_ldisc", ldisc)["ops"].pointer();
      if (ldisc_ops && ldisc_ops_.size)
        ldisc_owner = kernel_.object("tty_ldisc_ops", ldisc_ops)["owner"].pointer();
    });
    failed.report(warnings_, "tty_struct", "tty_struct " + hex_address(address) + (name ? " (" + *name + ")" : ""));
    // A tty whose ops are not its driver's has had them replaced.
    if (ops && ops != driver_ops) check("tty_operations", tty_ops_, ops, driver, name, driver_owner);
    if (ldisc_ops && ldisc_ops_.size) check("tty_ldisc_ops", ldisc_ops_, ldisc_ops, driver, name, ldisc_owner);
  }

  // tty_ldiscs[NR_LDISCS]: every registered line discipline, open or not.
  void registered_ldiscs() {
    const SymbolInfo* symbol = profile_.find_symbol("tty_ldiscs");
    if (!symbol || !symbol->type.valid() || !ldisc_ops_.size) return;
    const TypeInfo& array = profile_.type(symbol->type);
    if (!array.is_array() || !array.count || array.count > 256) return;
    const uint64_t address = kernel_.symbol_address("tty_ldiscs");
    auto entries = read_pointer_array(kernel_.kernel(), address, array.count,
                                      "tty_ldiscs at " + hex_address(address), warnings_);
    for (const auto& ops : entries) {
      if (!ops || !*ops) continue;
      uint64_t owner = 0;
      try {
        owner = kernel_.object("tty_ldisc_ops", *ops)["owner"].pointer();
      } catch (const Error& e) {
        warnings_.add("tty_ldisc_ops " + hex_address(*ops) + ": cannot read owner: " + e.what());
      }
      check("tty_ldisc_ops", ldisc_ops_, *ops, std::nullopt, std::nullopt, owner);
    }
  }

  // Every non-NULL function pointer of one structure, once per structure.
  void check(const std::string& structure, const OpsShape& shape, uint64_t address,
             const std::optional<std::string>& driver, const std::optional<std::string>& tty, uint64_t owner) {
    if (!checked_.insert(address).second) return;
    const uint64_t size = std::min(shape.size, kMaxOpsSize);
    std::vector<uint8_t> bytes(size);
    const std::string label = structure + " " + hex_address(address) + (driver ? " (driver " + *driver + ")" : "");
    try {
      kernel_.kernel().read_exact(address, bytes.data(), bytes.size());
    } catch (const Error& e) {
      warnings_.add(label + ": " + e.what());
      return;
    }
    std::optional<std::string> ldisc;
    if (structure == "tty_ldisc_ops") {
      try {
        Object ops = kernel_.object("tty_ldisc_ops", address);
        if (ops.has_member("name") && !ops["name"].is_null()) ldisc = ops["name"].as_string(64);
      } catch (const Error& e) {
        warnings_.add(label + ": cannot read its name: " + e.what());
      }
    }
    for (const auto& [member, offset] : shape.members) {
      if (offset + 8 > size) continue;
      uint64_t handler;
      std::memcpy(&handler, bytes.data() + offset, 8);
      if (!handler) continue;
      out_.push_back({driver, tty, structure, ldisc, address, member, handler, owner});
    }
  }

  static std::optional<std::string> driver_label(const std::string& name) {
    return name.empty() ? std::nullopt : std::optional<std::string>(name);
  }

  const KernelView& kernel_;
  const Profile& profile_;
  Warnings& warnings_;
  OpsShape tty_ops_, ldisc_ops_;
  std::unordered_set<uint64_t> checked_;
  std::vector<TtyOperation> out_;
};

}  // namespace

std::vector<std::pair<std::string, uint64_t>> function_pointer_members(const Profile& profile, const TypeInfo& record) {
  std::vector<std::pair<std::string, uint64_t>> out;
  if (record.is_record()) collect_function_pointers(profile, record, 0, out, 0);
  return out;
}

std::vector<TtyOperation> tty_operations(const KernelView& kernel, Warnings& warnings) {
  return TtyWalk(kernel, warnings).run();
}

}  // namespace memscope::linux_kernel
