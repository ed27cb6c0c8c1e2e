// Values read out of image bytes. Memory read from an image keeps no
// alignment the host could rely on, so every load is a memcpy, never a
// pointer cast (which UBSan rightly reports).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace memscope {

static_assert(std::endian::native == std::endian::little,
              "kernel memory is read as little-endian (x86_64) on a little-endian host");

// The T stored at `at`, whatever its alignment.
template <typename T>
T load_unaligned(const uint8_t* at) {
  static_assert(std::is_trivially_copyable_v<T>, "bytes become a T by memcpy only when T is trivially copyable");
  T value;
  std::memcpy(&value, at, sizeof value);
  return value;
}

// The unsigned little-endian integer in the `size` bytes at `at` (a pointer
// of the profile's pointer size, or a field of any width up to 8 bytes;
// bytes past the eighth are not read).
inline uint64_t load_little_endian(const uint8_t* at, size_t size) {
  uint64_t value = 0;
  std::memcpy(&value, at, size < sizeof value ? size : sizeof value);
  return value;
}

}  // namespace memscope
