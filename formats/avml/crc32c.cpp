#include "formats/avml/crc32c.h"

#include <boost/crc.hpp>
#include <cstring>

namespace memscope {
namespace {

using Crc32cTable = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;

uint32_t crc32c_table(const uint8_t* data, size_t n) {
  Crc32cTable crc;
  crc.process_bytes(data, n);
  return crc.checksum();
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(const uint8_t* data, size_t n) {
  uint64_t crc = 0xFFFFFFFFu;
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, data, 8);
    crc = __builtin_ia32_crc32di(crc, word);
    data += 8;
    n -= 8;
  }
  uint32_t crc32 = static_cast<uint32_t>(crc);
  while (n--) crc32 = __builtin_ia32_crc32qi(crc32, *data++);
  return crc32 ^ 0xFFFFFFFFu;
}
#endif

}  // namespace

uint32_t crc32c(const uint8_t* data, size_t n) {
#if defined(__x86_64__)
  static const bool hardware = __builtin_cpu_supports("sse4.2");
  if (hardware) return crc32c_sse42(data, n);
#endif
  return crc32c_table(data, n);
}

}  // namespace memscope
