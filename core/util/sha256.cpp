#include "core/util/sha256.h"

#include <openssl/evp.h>

#include "core/util/error.h"

namespace memscope {

struct Sha256::State {
  EVP_MD_CTX* ctx = nullptr;
};

namespace {
void check(int ok, const char* what) {
  if (ok != 1) throw Error(std::string("sha256: ") + what + " failed");
}
}  // namespace

Sha256::Sha256() : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  if (!state_->ctx) throw Error("sha256: out of memory");
  check(EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr), "init");
}

Sha256::~Sha256() {
  if (state_ && state_->ctx) EVP_MD_CTX_free(state_->ctx);
}

Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&& other) noexcept {
  if (this != &other) {
    if (state_ && state_->ctx) EVP_MD_CTX_free(state_->ctx);
    state_ = std::move(other.state_);
  }
  return *this;
}

void Sha256::update(const void* data, size_t n) {
  if (n) check(EVP_DigestUpdate(state_->ctx, data, n), "update");
}

Sha256Digest Sha256::finish() {
  Sha256Digest digest{};
  unsigned length = 0;
  check(EVP_DigestFinal_ex(state_->ctx, digest.data(), &length), "final");
  check(EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr), "init");
  return digest;
}

Sha256Digest Sha256::of(const void* data, size_t n) {
  Sha256 hash;
  hash.update(data, n);
  return hash.finish();
}

std::string Sha256::to_hex(const Sha256Digest& digest) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (uint8_t b : digest) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

}  // namespace memscope
