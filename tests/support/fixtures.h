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
// fixtures are absent, or fails it when CI=true (see skip_unless_ci).
std::string fixture(const std::string& name, const std::string& set = "linux-6.1");

// Path of a fixture file used as it is (truth.json, isf.json.xz); skips when absent.
std::string fixture_file(const std::string& name, const std::string& set = "linux-6.1");

// truth.json, parsed.
const nlohmann::json& truth(const std::string& set = "linux-6.1");

// Ends the current test as skipped, with `why` on stderr.
// The exit status of a skipped test executable (SKIP_RETURN_CODE in
// tests/CMakeLists.txt; catch_main.cpp keeps failures off it).
inline constexpr int kSkipExitCode = 4;
[[noreturn]] void skip(const std::string& why);

// True when the environment says CI=true.
bool running_in_ci();

// Skips (see skip) outside CI; with CI=true fails the test process instead,
// naming what is missing: CI has every fixture and tool, so a skip there
// would hide a broken path.
[[noreturn]] void skip_unless_ci(const std::string& why);

// The folder fixtures are looked up in (MEMSCOPE_FIXTURES or ../shared/fixtures).
std::string fixtures_root();

// Fixture images returned by fixture() are checked, when the test run ends
// (check_watched_images), against the SHA-256 truth.json records for them:
// a test that changed evidence fails. Returns `path`.
std::string watched(const std::string& path, const std::string& name, const std::string& set);
// Ends the process with status 1, naming the file, if a watched image's
// bytes are not truth.json's any more.
void check_watched_images();

// SHA-256 of a file's bytes, as lowercase hex.
std::string sha256_of_file(const std::string& path);

}  // namespace memscope::test
