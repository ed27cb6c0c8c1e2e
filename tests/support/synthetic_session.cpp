#include "support/synthetic_session.h"

#include <fstream>
#include <stdexcept>

namespace memscope::test {

SyntheticSession::SyntheticSession(SyntheticLinux& kernel, const std::string& format, const ProfileEdit& edit_profile)
    : dir_("synthetic") {
  const std::string profile = dir_.file("profile.json");
  if (edit_profile) {
    nlohmann::json edited = kernel.profile_json();
    edit_profile(edited);
    std::ofstream(profile) << edited.dump();
  } else {
    kernel.write_profile(profile);
  }
  const std::string image = dir_.file("image." + format);
  if (format == "lime")
    kernel.write_lime(image);
  else if (format == "raw")
    kernel.write_raw(image);
  else if (format == "elf")
    kernel.write_elf(image);
  else
    throw std::logic_error("SyntheticSession: unknown format " + format);
  SessionOptions options;
  options.image = image;
  options.profile = profile;
  options.use_profile_cache = false;
  session_ = std::make_unique<Session>(options);
}

const linux_kernel::KernelView& SyntheticSession::view() {
  if (!view_) view_ = std::make_unique<linux_kernel::KernelView>(linux_kernel::kernel_view(*session_));
  return *view_;
}

PluginResult SyntheticSession::run(const std::string& name, const PluginArgs& args) {
  const Plugin* plugin = find_plugin(name);
  if (!plugin) throw std::runtime_error("no plugin " + name);
  return run_plugin(*plugin, *session_, args);
}

}  // namespace memscope::test
