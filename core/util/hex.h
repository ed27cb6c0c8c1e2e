// Small formatting helpers used in messages and reports.
#pragma once

#include <cstdint>
#include <string>

namespace memscope {

// "0x" followed by lowercase hex digits, no padding: 0x1000.
std::string hex(uint64_t value);

// "0x" followed by exactly 16 lowercase hex digits: 0xffff8f0bc49f8000.
std::string hex_address(uint64_t value);

// Parses "0x..." hex or decimal; throws memscope::Error naming `what` on
// anything else, including overflow of 64 bits.
uint64_t parse_u64(const std::string& text, const std::string& what);

}  // namespace memscope
