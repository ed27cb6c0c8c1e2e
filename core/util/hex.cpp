#include "core/util/hex.h"

#include <charconv>

#include "core/util/error.h"

namespace memscope {

std::string hex(uint64_t value) {
  char buf[2 + 16];
  buf[0] = '0';
  buf[1] = 'x';
  auto [end, ec] = std::to_chars(buf + 2, buf + sizeof buf, value, 16);
  (void)ec;
  return std::string(buf, end);
}

std::string hex_address(uint64_t value) {
  static const char digits[] = "0123456789abcdef";
  std::string out = "0x0000000000000000";
  for (int i = 17; i >= 2; --i, value >>= 4) out[i] = digits[value & 0xf];
  return out;
}

uint64_t parse_u64(const std::string& text, const std::string& what) {
  const char* first = text.data();
  const char* last = text.data() + text.size();
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    first += 2;
    base = 16;
  }
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(first, last, value, base);
  if (first == last || ec != std::errc() || ptr != last)
    throw Error(what + ": '" + text + "' is not a 64-bit number (decimal or 0x-hex)");
  return value;
}

}  // namespace memscope
