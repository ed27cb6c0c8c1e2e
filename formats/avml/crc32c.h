// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
// the Snappy framing format that AVML writes. The x86 CRC32 instruction
// (SSE4.2) computes it at memory speed; elsewhere Boost.CRC's table does.
#pragma once

#include <cstddef>
#include <cstdint>

namespace memscope {

uint32_t crc32c(const uint8_t* data, size_t n);

// The framing format stores the CRC "masked", so that a CRC of data that
// holds CRCs does not look like one: rotate right by 15, add 0xa282ead8.
inline uint32_t snappy_masked_crc(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

}  // namespace memscope
