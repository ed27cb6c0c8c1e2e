// Errors raised by memscope. Every message names what was being read (file,
// layer, address) so that an analyst can tell bad evidence from a bug.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace memscope {

// Base of every exception memscope throws on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The image (or another input file) is malformed, truncated or lies.
class FormatError : public Error {
 public:
  using Error::Error;
};

// A read or write could not be completed: the address is unmapped, a page
// table entry is not present, a compressed block is corrupt.
class ReadError : public Error {
 public:
  ReadError(uint64_t address, std::string layer, const std::string& message)
      : Error(message), address_(address), layer_(std::move(layer)) {}
  uint64_t address() const { return address_; }
  const std::string& layer() const { return layer_; }

 private:
  uint64_t address_;
  std::string layer_;
};

// A profile lacks a type, field or symbol that was asked for.
class ProfileError : public Error {
 public:
  using Error::Error;
};

// A named limit (core/util/limits.h) stopped a read before the image's
// data ended: the message names the limit and the option that raises it.
class LimitError : public Error {
 public:
  using Error::Error;
};

}  // namespace memscope
