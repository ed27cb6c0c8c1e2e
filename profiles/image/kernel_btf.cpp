#include "profiles/image/kernel_btf.h"

#include <cstring>
#include <vector>

#include "core/scan/physical_scanner.h"
#include "core/util/hex.h"

namespace memscope {
namespace {

constexpr size_t kHeaderSize = 24;  // struct btf_header, version 1
// A little-endian version 1 header with no flags and a 24-byte header: how
// every kernel's BTF starts.
constexpr std::string_view kHeaderStart{"\x9f\xeb\x01\x00\x18\x00\x00\x00", 8};
// Header candidates parsed at most when searching.
constexpr size_t kMaxSearchCandidates = 16;

struct Header {
  uint32_t hdr_len = 0, type_off = 0, type_len = 0, str_off = 0, str_len = 0;
  // The bytes the header says the blob has.
  uint64_t total() const {
    return uint64_t{hdr_len} + std::max(uint64_t{type_off} + type_len, uint64_t{str_off} + str_len);
  }
};

std::optional<Header> read_header(AddressSpace& space, uint64_t address, std::string* why) {
  uint8_t bytes[kHeaderSize];
  IoResult got = space.read(address, bytes, sizeof bytes);
  if (!got.ok()) {
    if (why) *why = got.fault->message();
    return std::nullopt;
  }
  if (!(bytes[0] == 0x9f && bytes[1] == 0xeb)) {
    if (why) *why = "no BTF magic (0xeb9f) at " + hex(address);
    return std::nullopt;
  }
  Header h;
  std::memcpy(&h.hdr_len, bytes + 4, 4);
  std::memcpy(&h.type_off, bytes + 8, 4);
  std::memcpy(&h.type_len, bytes + 12, 4);
  std::memcpy(&h.str_off, bytes + 16, 4);
  std::memcpy(&h.str_len, bytes + 20, 4);
  return h;
}

std::vector<uint8_t> read_blob(AddressSpace& space, uint64_t address, uint64_t size) {
  std::vector<uint8_t> bytes(size);
  constexpr size_t kBlock = 1 << 20;
  for (uint64_t done = 0; done < size;) {
    size_t n = size_t(std::min<uint64_t>(kBlock, size - done));
    IoResult got = space.read(address + done, bytes.data() + done, n);
    if (!got.ok())
      throw ReadError(got.fault->address, got.fault->layer,
                      "kernel BTF at " + hex(address) + " (" + std::to_string(size) + " bytes): byte " +
                          std::to_string(done + got.done) + ": " + got.fault->message());
    done += n;
  }
  return bytes;
}

KernelBtf from_section(AddressSpace& kernel, uint64_t start, uint64_t stop) {
  if (stop <= start || stop - start < kHeaderSize)
    throw FormatError("kernel BTF: __start_BTF " + hex(start) + " and __stop_BTF " + hex(stop) +
                      " do not bound a BTF section");
  const uint64_t section = stop - start;
  if (section > kMaxKernelBtfBytes)
    throw FormatError("kernel BTF: __start_BTF " + hex(start) + " .. __stop_BTF " + hex(stop) + " spans " +
                      std::to_string(section) + " bytes, more than any kernel's BTF");
  std::string why;
  std::optional<Header> header = read_header(kernel, start, &why);
  if (!header) {
    uint8_t probe[kHeaderSize];
    if (!kernel.read(start, probe, sizeof probe).ok())
      throw ReadError(start, kernel.name(), "kernel BTF at __start_BTF " + hex(start) + ": " + why);
    throw FormatError("kernel BTF at __start_BTF " + hex(start) + ": " + why);
  }
  if (header->hdr_len < kHeaderSize || header->total() > section)
    throw FormatError("kernel BTF at " + hex(start) + ": its header claims " + std::to_string(header->total()) +
                      " bytes (header " + std::to_string(header->hdr_len) + ", types " +
                      std::to_string(header->type_len) + ", strings " + std::to_string(header->str_len) +
                      "), but __start_BTF .. __stop_BTF holds " + std::to_string(section));
  const uint64_t size = header->total();
  std::vector<uint8_t> bytes = read_blob(kernel, start, size);
  KernelBtf out{Btf::parse(bytes, "kernel BTF in memory at " + hex(start), 0), start, size, "__start_BTF"};
  return out;
}

KernelBtf search(AddressSpace& physical, uint64_t begin, uint64_t end) {
  std::optional<KernelBtf> found;
  size_t candidates = 0;
  std::string first_problem;
  ScanOptions window;
  window.begin = begin;
  window.end = end;
  scan_physical(
      physical, {ScanPattern{std::string(kHeaderStart), 4, 0}},
      [&](const ScanHit& hit) {
        if (++candidates > kMaxSearchCandidates) return false;
        std::optional<Header> header = read_header(physical, hit.address, nullptr);
        if (!header || header->total() > kMaxKernelBtfBytes || header->total() > end - hit.address) return true;
        try {
          std::vector<uint8_t> bytes = read_blob(physical, hit.address, header->total());
          Btf btf = Btf::parse(bytes, "kernel BTF in memory at physical " + hex(hit.address), 0);
          // Module BTF is split BTF: it refers to the kernel's types and does
          // not parse alone, so what parses here is the kernel's own.
          found = KernelBtf{std::move(btf), hit.address, header->total(), "search of the kernel image"};
          return false;
        } catch (const Error& e) {
          if (first_problem.empty()) first_problem = e.what();
          return true;
        }
      },
      window);
  if (found) return std::move(*found);
  throw NoKernelBtf(candidates ? "no usable BTF in the kernel image (" + first_problem + ")"
                               : "no BTF in the kernel image");
}

}  // namespace

KernelBtf read_kernel_btf(AddressSpace& kernel, AddressSpace& physical, const KernelBtfPlace& place) {
  if (place.start && place.stop) return from_section(kernel, *place.start, *place.stop);
  if (place.image_physical_end > place.image_physical)
    return search(physical, place.image_physical, place.image_physical_end);
  throw NoKernelBtf("no __start_BTF symbol");
}

}  // namespace memscope
