// A Session is one opened image and everything derived from it: the
// evidence layer, the overlay on it, the kernel profile, the kernel found in
// it, and its virtual address spaces. The CLI, the kvm C API and plugins all
// work through one; everything that needs searching (profile matching,
// kernel discovery) happens on first use, so `memscope info` on an image
// without a profile still works.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/linux/discovery/discovery.h"
#include "core/linux/discovery/kernel_info.h"
#include "core/linux/kernel_view.h"
#include "core/layers/overlay.h"
#include "core/layers/overlay_file.h"
#include "core/layers/physical_layer.h"
#include "core/types/profile.h"
#include "core/layers/x86_64_paging.h"
#include "core/session/profile_source.h"
#include "core/util/limits.h"

namespace memscope {

struct SessionOptions {
  std::string image;                     // the evidence file
  std::string profile;                   // an explicit profile file, or ""
  std::vector<std::string> symbol_dirs;  // folders of profiles matched by banner
  std::string btf;                       // --btf FILE: the kernel's types, or ""
  std::string system_map;                // --system-map FILE: its symbols, or ""
  bool use_profile_cache = true;
  // Keep scanning after the kernel is found, to list every banner in
  // memory (`memscope info`); costs a full scan of the image.
  bool list_all_banners = false;
  // How far walks follow the image (docs/limits.md): active while a plugin
  // runs on this session (run_plugin).
  Limits limits;
};

class Session {
 public:
  // Opens the image read-only and detects its format; throws memscope::Error.
  explicit Session(SessionOptions options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const SessionOptions& options() const { return options_; }

  // The evidence, as its format gives it.
  PhysicalLayer& image() { return *image_; }
  // The copy-on-write overlay on the evidence: the physical space every
  // other layer reads through.
  Overlay& overlay() { return *overlay_; }
  AddressSpace& physical() { return *overlay_; }

  // The kernel profile: the -p file, --btf/--system-map, the one among the
  // symbol folders whose banner matches the image, the one recovered from
  // this kernel's memory earlier (the cache), or recovered now. Throws
  // ProfileError when there is none.
  const Profile& profile();
  std::shared_ptr<const Profile> shared_profile();
  bool has_profile();  // tries to find one; false instead of throwing
  // Which source gave the profile and why (set once a profile is loaded).
  const std::optional<ProfileChoice>& profile_choice() const { return profile_choice_; }

  // Where the kernel is (discovered on first call); throws memscope::Error
  // "no Linux kernel found ..." when discovery fails. Discovery searches the
  // image once: when it already ran without a profile (to find the banner
  // that chose the profile), its answer is confirmed with the profile by a
  // few reads, and the image is searched again only if that fails.
  const LinuxKernelInfo& kernel();
  bool has_kernel();  // false instead of throwing
  // The kernel's virtual address space.
  X86_64Paging& kernel_space();
  // Replaces discovery with a known top-level table (CR3).
  void set_kernel_dtb(uint64_t cr3, int levels);

  // Run-time address of a profile symbol (KASLR applied).
  uint64_t symbol_address(std::string_view name);
  std::optional<uint64_t> find_symbol_address(std::string_view name);

  // A new virtual space over the same physical layer, for one process
  // (`cr3`: the physical address of its pgd).
  std::unique_ptr<X86_64Paging> process_space(uint64_t cr3, const std::string& name);

  // How many times kernel discovery searched the image so far: 1 for a
  // found kernel, 2 only when the kernel found without a profile did not
  // fit the profile its banner chose. For tests and diagnostics.
  unsigned discovery_runs() const { return discovery_runs_; }

  // Names the evidence for saved overlays: path, size and a fingerprint of
  // the file's first and last MiB.
  ImageIdentity image_identity() const;

 private:
  void load_profile();
  DiscoveryOptions discovery_options() const;
  // Discovery without a profile, run at most once; nullptr when it failed
  // (the error is kept in unprofiled_error_).
  const LinuxKernelInfo* kernel_without_profile();
  // The banners that choose a profile: the unprofiled kernel's, else every
  // banner in memory.
  std::vector<std::string> image_banners();

  SessionOptions options_;
  std::unique_ptr<PhysicalLayer> image_;
  std::unique_ptr<Overlay> overlay_;
  std::shared_ptr<const Profile> profile_;
  std::optional<ProfileChoice> profile_choice_;
  std::optional<std::string> profile_error_;
  bool profile_tried_ = false;
  std::optional<LinuxKernelInfo> kernel_;
  std::optional<std::string> kernel_error_;
  bool unprofiled_tried_ = false;
  std::optional<LinuxKernelInfo> unprofiled_kernel_;
  std::optional<KernelNotFound> unprofiled_error_;
  unsigned discovery_runs_ = 0;
  std::unique_ptr<X86_64Paging> kernel_space_;
};

}  // namespace memscope

namespace memscope::linux_kernel {
// The view of a session's kernel that the kernel helpers (core/linux) walk:
// discovers the kernel and loads the profile if not done yet; throws what
// the session throws.
KernelView kernel_view(Session& session);
}  // namespace memscope::linux_kernel
