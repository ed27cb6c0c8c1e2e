// A synthetic image (support/synthetic_linux.h) written to a temporary
// folder in one format, with its profile, and opened in a Session: what
// tests of kernel helpers and plugins run on. Apply the builder's
// corruption hooks before making one: the image is written when it is
// made.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "support/synthetic_linux.h"
#include "support/temp_file.h"

namespace memscope::test {

class SyntheticSession {
 public:
  // format: "lime", "raw" or "elf". `edit_profile`, when given, changes
  // the profile before it is written (to take out what an older or
  // stripped kernel would not have).
  using ProfileEdit = std::function<void(nlohmann::json&)>;
  explicit SyntheticSession(SyntheticLinux& kernel, const std::string& format = "lime", const ProfileEdit& edit_profile = {});

  Session& session() { return *session_; }
  // The kernel view the helpers walk (built on first use).
  const linux_kernel::KernelView& view();
  // Runs a plugin; throws std::runtime_error with its error when it fails.
  PluginResult run(const std::string& plugin, const PluginArgs& args = {});

 private:
  TempDir dir_;
  std::unique_ptr<Session> session_;
  std::unique_ptr<linux_kernel::KernelView> view_;
};

}  // namespace memscope::test
