// SHA-256 through OpenSSL's libcrypto (Debian: libssl-dev), which uses the
// CPU's SHA extensions where present (~2 GB/s). A thin wrapper so that the
// rest of memscope does not include OpenSSL headers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace memscope {

using Sha256Digest = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(const void* data, size_t n);
  // The digest of everything passed to update(); the object is then reset.
  Sha256Digest finish();

  static Sha256Digest of(const void* data, size_t n);
  // Lowercase hex, 64 characters.
  static std::string to_hex(const Sha256Digest& digest);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace memscope
