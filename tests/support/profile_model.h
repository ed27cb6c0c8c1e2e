// What a Profile answers, for tests that compare two profiles (built in
// memory and mapped from a cache file) or run every lookup on a forged one.
#pragma once

#include <string>

#include "core/types/profile.h"

namespace memscope::test {

// Every lookup of the public API, asked of `p` for every type, member,
// enumerator and symbol it holds, written as text (one answer a line):
// two profiles answer alike exactly when their transcripts are equal.
// Throws what the lookups throw (a forged profile: memscope::Error).
std::string profile_transcript(const Profile& p);

// Runs every lookup (as profile_transcript) and swallows memscope::Error:
// for forged profiles, where the only requirement is no crash and no read
// out of bounds. Returns how many lookups threw.
size_t exercise_profile(const Profile& p);

}  // namespace memscope::test
