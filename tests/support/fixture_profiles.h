// Profiles for the fixture kernel, for tests that run plugins on it: the
// fixture's Volatility 3 ISF as it is, and a profile generated from its BTF
// and System.map by memscope's own generator (profiles/btf/).
#pragma once

#include <string>

namespace memscope::test {

// Path of the fixture's ISF (isf.json.xz); skips when absent (see fixtures.h).
std::string fixture_isf_profile();

// Path of a profile generated from the fixture's vmlinux.btf and System.map.
// Generated afresh whenever its inputs or the generator change: the file is
// keyed by the identity of the BTF and System.map files, the banner, and
// the identity (size and modification time) of the memscope library that
// holds the generator, so a rebuilt generator is always the one tested.
// Parallel test processes share one generation (a lock).
std::string fixture_btf_profile();

// "isf" or "btf": one of the above.
std::string fixture_profile(const std::string& kind);

// Points XDG_CACHE_HOME at the build tree's test-cache folder, so that
// tests never touch the user's profile cache.
void use_build_tree_cache();

}  // namespace memscope::test
