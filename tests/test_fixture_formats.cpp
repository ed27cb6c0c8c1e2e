// The real images of one guest (raw, LiME, QEMU ELF core) against each other
// and against truth.json.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/util/hex.h"
#include "formats/elf/elf_core_writer.h"
#include "formats/lime/lime_writer.h"
#include "formats/raw/raw_writer.h"
#include "core/layers/format_registry.h"
#include "support/fixtures.h"

using namespace memscope;

namespace {

constexpr size_t kCompareChunk = size_t{16} << 20;

// n bytes at `address`: straight from the mapping when the layer can, else copied.
const uint8_t* bytes_at(PhysicalLayer& layer, uint64_t address, size_t n, std::vector<uint8_t>& buffer) {
  if (const uint8_t* direct = layer.peek(address, n)) return direct;
  buffer.resize(n);
  IoResult result = layer.read(address, buffer.data(), n);
  INFO(layer.format() << " read at " << hex(address));
  REQUIRE(result.ok());
  return buffer.data();
}

// Compares every physical byte both layers map; returns how many there were.
uint64_t compare_shared_ranges(PhysicalLayer& a, PhysicalLayer& b) {
  std::vector<Range> in_a = collect_ranges(a), in_b = collect_ranges(b);
  std::vector<uint8_t> buffer_a, buffer_b;
  uint64_t shared = 0;
  size_t i = 0, j = 0;
  while (i < in_a.size() && j < in_b.size()) {
    uint64_t start = std::max(in_a[i].start, in_b[j].start);
    uint64_t end = std::min(in_a[i].end(), in_b[j].end());
    for (uint64_t at = start; at < end;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(kCompareChunk, end - at));
      const uint8_t* pa = bytes_at(a, at, n, buffer_a);
      const uint8_t* pb = bytes_at(b, at, n, buffer_b);
      if (std::memcmp(pa, pb, n) != 0) {
        size_t first = static_cast<size_t>(std::mismatch(pa, pa + n, pb).first - pa);
        FAIL(a.format() << " and " << b.format() << " differ at physical " << hex(at + first));
      }
      at += n;
    }
    if (start < end) shared += end - start;
    if (in_a[i].end() < in_b[j].end()) ++i;
    else ++j;
  }
  return shared;
}

uint64_t parse_register(const nlohmann::json& value) { return parse_u64(value.get<std::string>(), "truth register"); }

}  // namespace

TEST_CASE("fixture: raw / LiME and ELF images agree byte for byte / and detection picks each format") {
  auto raw = open_image(test::fixture("image.raw"));
  auto lime = open_image(test::fixture("image.lime"));
  auto elf = open_image(test::fixture("image.elf"));
  CHECK(raw->format() == "raw");
  CHECK(lime->format() == "lime");
  CHECK(elf->format() == "elf");

  // The raw dump covers physical 0 to its size; the others hold at least that.
  CHECK(compare_shared_ranges(*raw, *lime) == raw->file_size());
  CHECK(compare_shared_ranges(*raw, *elf) == raw->file_size());
  // LiME and ELF both describe the guest's whole RAM, holes included.
  CHECK(collect_ranges(*lime) == collect_ranges(*elf));
  uint64_t lime_bytes = 0;
  for (const Range& r : collect_ranges(*lime)) lime_bytes += r.size;
  CHECK(compare_shared_ranges(*lime, *elf) == lime_bytes);
}

TEST_CASE("fixture: the ELF core's notes match truth.json") {
  auto elf = open_image(test::fixture("image.elf"));
  const nlohmann::json& truth = test::truth();
  const ImageNotes& notes = elf->notes();

  REQUIRE(notes.vmcoreinfo_keys.count("OSRELEASE"));
  CHECK(notes.vmcoreinfo_keys.at("OSRELEASE") == truth.at("kernel_release").get<std::string>());

  const nlohmann::json& registers = truth.at("vm").at("registers_at_dump");
  REQUIRE(notes.cpus.size() == registers.size());
  CHECK(notes.cpus.size() == truth.at("cpu").at("count").get<size_t>());
  for (const nlohmann::json& cpu : registers) {
    size_t index = cpu.at("cpu").get<size_t>();
    REQUIRE(index < notes.cpus.size());
    INFO("vCPU " << index);
    CHECK(notes.cpus[index].cr3 == parse_register(cpu.at("CR3")));
    CHECK(notes.cpus[index].cr0 == parse_register(cpu.at("CR0")));
    CHECK(notes.cpus[index].cr4 == parse_register(cpu.at("CR4")));
  }

  bool described = false;
  for (const auto& [key, value] : elf->describe())
    if (key == "VMCOREINFO OSRELEASE") described = value == truth.at("kernel_release").get<std::string>();
  CHECK(described);
}
