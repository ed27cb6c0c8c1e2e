// Access to the real memory images in ../shared/fixtures (or the folder named
// by MEMSCOPE_FIXTURES). Compressed fixtures are decompressed once into the
// build tree; tests that need them skip, with a message, when absent.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace memscope::test {

// Folder of the fixture set, e.g. ".../shared/fixtures/linux-6.1", or "" if
// not present.
std::string fixture_dir(const std::string& set = "linux-6.1");

// Path to the decompressed fixture `name` (e.g. "image.elf", "System.map"),
// decompressing "<name>.zst" into the build tree on first use. Skips the
// current test (exit code 4, which ctest reports as skipped) when the
// fixtures are absent.
std::string fixture(const std::string& name, const std::string& set = "linux-6.1");

// Path of a fixture file used as it is (truth.json, isf.json.xz); skips when absent.
std::string fixture_file(const std::string& name, const std::string& set = "linux-6.1");

// truth.json, parsed.
const nlohmann::json& truth(const std::string& set = "linux-6.1");

// Ends the current test as skipped, with `why` on stderr.
[[noreturn]] void skip(const std::string& why);

}  // namespace memscope::test
