// The fuzz targets' bodies (fuzz/README.md), one function per parser, for
// libFuzzer (each fuzz_<target>.cpp is a wrapper) and for the regression
// tests (tests/test_fuzz_regressions.cpp replays the inputs fuzzing found
// through the same functions). Each feeds one input to one parser and asks
// what memscope asks of its result, bounded. A memscope::Error is the
// expected answer to most inputs and is caught here; anything else (a
// crash, a leak, undefined behaviour, another exception) is a bug.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/layers/format_registry.h"
#include "core/layers/mapped_file.h"
#include "core/layers/overlay.h"
#include "core/layers/overlay_file.h"
#include "core/layers/x86_64_paging.h"
#include "core/linux/discovery/kallsyms.h"
#include "core/linux/discovery/vmcoreinfo.h"
#include "core/types/profile_format.h"
#include "core/util/error.h"
#include "fuzz/fuzz_support.h"
#include "fuzz/profile_exercise.h"
#include "profiles/btf/btf.h"
#include "profiles/btf/profile_from_btf.h"
#include "profiles/isf/isf_loader.h"
#include "support/buffer_space.h"

namespace memscope::fuzz {

// --- Images ------------------------------------------------------------------

// After opening, what a session asks of a physical layer, bounded: ranges,
// extents, reads at the ranges' edges and at addresses the input chooses,
// a scanner's read, peek, warnings and descriptions.
inline void exercise_layer(PhysicalLayer& layer, Bytes& choices) {
  constexpr size_t kMaxReads = 64, kReadSize = 4096, kScanSize = 64 << 10;
  (void)layer.warnings();
  (void)layer.describe();
  (void)layer.notes();
  (void)layer.limit();
  std::vector<Range> ranges;
  layer.ranges([&](const Range& r) {
    ranges.push_back(r);
    return ranges.size() < 16;
  });
  std::vector<uint8_t> buffer(kScanSize);
  size_t reads = 0;
  auto read = [&](uint64_t address, size_t n) {
    if (reads++ >= kMaxReads) return;
    IoResult r = layer.read(address, buffer.data(), std::min(n, buffer.size()));
    if (r.fault) (void)r.fault->message();
    (void)layer.peek(address, std::min<size_t>(n, 64));
  };
  for (const Range& r : ranges) {
    read(r.start, kReadSize);
    if (r.size > kReadSize) read(r.end() - kReadSize, kReadSize);
  }
  size_t extents = 0;
  layer.extents(0, ~uint64_t{0}, [&](const PhysicalExtent&) { return ++extents < 64; });
  // Addresses up to the layer's limit (which may be 2^64 - 1: a range
  // that ends at the top of the address space).
  const uint64_t limit = layer.limit();
  for (int i = 0; i < 8; ++i) {
    const uint64_t pick = choices.u64();
    read(limit == ~uint64_t{0} ? pick : pick % (limit + 1), choices.u16() % kReadSize + 1);
  }
  if (!ranges.empty())
    (void)layer.scan_read(ranges.front().start, buffer.data(),
                          static_cast<size_t>(std::min<uint64_t>(ranges.front().size, kScanSize)));
}

// `format` as the format registry names it ("lime", "elf", "lz4",
// "lz4-seekable", "kdump", "avml", "lime-zlib", "raw"), or "detect": every
// format's probe, then the one chosen. The input is the image file.
inline int run_format(const std::string& format, const uint8_t* data, size_t size) {
  if (size == 0) return 0;  // MappedFile refuses empty files, by design
  MemFile input(data, size);
  // The read addresses come from the input's last bytes (reversed), so the
  // same input chooses them every time.
  std::vector<uint8_t> tail(data + size - std::min<size_t>(size, 80), data + size);
  std::reverse(tail.begin(), tail.end());
  Bytes choices(tail.data(), tail.size());
  try {
    std::unique_ptr<PhysicalLayer> layer;
    if (format == "detect") {
      layer = open_image(input.path());
    } else {
      const FormatHandler* handler = format_registry().find(format);
      if (!handler) __builtin_trap();  // a misnamed target must not pass silently
      layer = handler->open(std::make_shared<const MappedFile>(input.path()));
    }
    exercise_layer(*layer, choices);
  } catch (const Error&) {
    // A clear refusal naming the file.
  }
  return 0;
}

// --- Profiles ----------------------------------------------------------------

// ISF JSON text, through the streaming loader and ProfileBuilder's
// load-time checks.
inline int run_isf(const uint8_t* data, size_t size) {
  try {
    auto profile = parse_isf_text(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
    exercise_profile(*profile, /*verify=*/true);
  } catch (const Error&) {
  }
  return 0;
}

// A profile cache entry (format 3): open() checks only the header and
// directory, as for every mapped entry, so lookups run on unverified
// tables first (they must be bounds-checked whatever the tables say), then
// verify() reads everything. Each input is tried as it is (its checksums
// refuse most mutations) and then as a cache that lies: its checksums
// made to match whatever its tables and header say.
inline void open_profile_entry(std::shared_ptr<uint64_t[]> buffer, size_t size) {
  try {
    auto profile = Profile::open(buffer, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(buffer.get()), size),
                                 "fuzz.msprof");
    try {
      exercise_profile(*profile, /*verify=*/false);
    } catch (const Error&) {
    }
    exercise_profile(*profile, /*verify=*/true);
  } catch (const Error&) {
  }
}

inline int run_profile_cache(const uint8_t* data, size_t size) {
  namespace pf = profile_format;
  std::shared_ptr<uint64_t[]> buffer(new uint64_t[size / 8 + 1]);  // 8-byte aligned, as a mapping
  auto* bytes = reinterpret_cast<uint8_t*>(buffer.get());
  std::copy(data, data + size, bytes);
  open_profile_entry(buffer, size);
  if (size < pf::kHeaderSize) return 0;
  std::copy(data, data + size, bytes);
  for (uint32_t i = 0; i < pf::kTableCount; ++i) {
    pf::TableEntry entry;
    const size_t at = sizeof(pf::Header) + i * sizeof(pf::TableEntry);
    std::memcpy(&entry, bytes + at, sizeof entry);
    if (entry.offset > size || entry.length > size - entry.offset) continue;
    entry.checksum = pf::table_checksum(bytes + entry.offset, entry.length);
    std::memcpy(bytes + at, &entry, sizeof entry);
  }
  const uint64_t checksum = pf::header_checksum(bytes);
  std::memcpy(bytes + offsetof(pf::Header, header_checksum), &checksum, sizeof checksum);
  open_profile_entry(buffer, size);
  return 0;
}

// A raw BTF blob, parsed, made into a profile as `profile generate --btf`
// and the image profile source do, verified and looked up.
inline int run_btf(const uint8_t* data, size_t size) {
  try {
    Btf btf = Btf::parse(std::span<const uint8_t>(data, size), "fuzz.btf");
    for (uint32_t id = 0; id < btf.type_count() && id < 512; ++id) {
      const BtfType& type = btf.type(id);
      (void)btf.members(type);
      (void)btf.enumerators(type);
      (void)btf.strip_typedefs(id);
    }
    SystemMap symbols;
    symbols.source = "fuzz.map";
    symbols.symbols.push_back({0xffffffff81000000ull, 'T', "_text"});
    symbols.symbols.push_back({0xffffffff82000000ull, 'D', "init_task"});
    ProfileFromBtfOptions options;
    options.banner = "Linux version 6.1.0-fuzz";
    auto profile = profile_from_btf(btf, symbols, options);
    exercise_profile(*profile, /*verify=*/true);
  } catch (const Error&) {
  }
  return 0;
}

// --- Kernel discovery --------------------------------------------------------

// 40 bytes of kallsyms table offsets into the memory that follows (placed
// at physical 0), then the memory. The decoder reads the tables where the
// header says; the structure search starts at the first run of digit
// tokens, as it does when VMCOREINFO gives nothing.
inline int run_kallsyms(const uint8_t* data, size_t size) {
  constexpr size_t kHeaderSize = 40;
  if (size < kHeaderSize) return 0;
  Bytes header(data, kHeaderSize);
  KallsymsTables tables;
  tables.names = header.u32();
  tables.num_syms = header.u32();
  tables.token_table = header.u32();
  tables.token_index = header.u32();
  tables.offsets = header.u32();
  tables.relative_base = header.u32();
  tables.addresses = header.u32();
  tables.markers = header.u32();
  const uint8_t flags = header.u8();
  tables.marker_size = (flags & 1) ? 8 : (flags & 2) ? 4 : 0;
  if (!tables.base_relative()) tables.relative_base = 0;
  std::string_view memory(reinterpret_cast<const char*>(data + kHeaderSize), size - kHeaderSize);
  test::BufferSpace space;
  if (!memory.empty()) space.put(0, memory.data(), memory.size());
  try {
    KallsymsTable table = read_kallsyms(space, tables);
    if (!table.symbols.empty()) (void)table.find(table.symbols.back().name);
    (void)table.has_data_symbols();
  } catch (const Error&) {
  }
  try {
    (void)lookup_kallsyms(space, tables, {"init_task", "_text", "linux_banner"});
  } catch (const Error&) {
  }
  size_t digits = memory.find(kKallsymsDigitTokens);
  if (digits != std::string_view::npos) {
    std::string why;
    try {
      (void)kallsyms_at(space, digits, &why);
    } catch (const Error&) {
    }
  }
  return 0;
}

// VMCOREINFO text: parsed, its kallsyms tables taken, and read back from
// memory as discovery finds it in RAM.
inline int run_vmcoreinfo(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    VmcoreInfo info = parse_vmcoreinfo(text, "fuzz");
    (void)kallsyms_tables(info);
  } catch (const Error&) {
  }
  test::BufferSpace space;
  if (size) space.put(0x1000, data, size);
  try {
    (void)read_vmcoreinfo_at(space, 0x1000);
  } catch (const Error&) {
  }
  return 0;
}

// --- Layers ------------------------------------------------------------------

// An overlay file: read and validated, then loaded (identity differences
// only warned about) into an overlay over a small image, as
// kvm_overlay_load does; its pages read back.
inline int run_overlay(const uint8_t* data, size_t size) {
  MemFile input(data, size);
  try {
    OverlayFileContents contents = read_overlay_file(input.path());
    (void)contents.info;
  } catch (const Error&) {
  }
  test::BufferSpace image;
  image.map(0, 64 * 4096);
  Overlay overlay(image);
  try {
    ImageIdentity identity;
    (void)load_overlay(overlay, identity, input.path(), IdentityCheck::warn);
    uint8_t page[4096];
    for (uint64_t at = 0; at < 64 * 4096; at += 4096) (void)overlay.read(at, page, sizeof page);
  } catch (const Error&) {
  }
  return 0;
}

// Page tables over random memory: a header (the top table's page, 4 or 5
// levels, eight virtual addresses) then the physical memory, page after
// page from 0. Tables that point at themselves or at each other, huge
// pages past the end of memory, non-canonical addresses: translations,
// reads, ranges() and for_each_mapping() must stay bounded and right.
inline int run_paging(const uint8_t* data, size_t size) {
  constexpr size_t kHeaderSize = 4 + 1 + 8 * 8;
  constexpr size_t kMaxVisits = 4096;
  if (size < kHeaderSize) return 0;
  Bytes header(data, kHeaderSize);
  const size_t memory_size = size - kHeaderSize;
  const uint64_t pages = (memory_size + 4095) / 4096;
  const uint64_t top = pages ? (header.u32() % pages) * 4096 : 0;
  const int levels = (header.u8() & 1) ? 5 : 4;
  test::BufferSpace memory;
  if (memory_size) memory.put(0, data + kHeaderSize, memory_size);
  try {
    X86_64Paging space(memory, top | 0x3, levels, "", 64);
    uint8_t buffer[64];
    for (int i = 0; i < 8; ++i) {
      const uint64_t vaddr = header.u64();
      Fault why;
      if (auto t = space.translate(vaddr, &why))
        (void)t->physical;
      else
        (void)why.message();
      (void)space.read(vaddr, buffer, sizeof buffer);
      (void)space.peek(vaddr, 8);
      (void)space.read(vaddr | 0xff0, buffer, sizeof buffer);  // across a page boundary
    }
    size_t visits = 0;
    space.ranges([&](const Range&) { return ++visits < kMaxVisits; });
    visits = 0;
    space.for_each_mapping([&](uint64_t vaddr, uint64_t, uint64_t, const Translation&) {
      uint8_t byte;
      if (visits < 64) (void)space.read(vaddr, &byte, 1);
      return ++visits < kMaxVisits;
    });
  } catch (const Error&) {
  }
  return 0;
}

// The target named `name` (fuzz_<name>), for replaying inputs.
inline int run_target(const std::string& name, const uint8_t* data, size_t size) {
  if (name == "isf") return run_isf(data, size);
  if (name == "profile_cache") return run_profile_cache(data, size);
  if (name == "btf") return run_btf(data, size);
  if (name == "kallsyms") return run_kallsyms(data, size);
  if (name == "vmcoreinfo") return run_vmcoreinfo(data, size);
  if (name == "overlay") return run_overlay(data, size);
  if (name == "paging") return run_paging(data, size);
  std::string format = name;
  std::replace(format.begin(), format.end(), '_', '-');
  return run_format(format, data, size);
}

}  // namespace memscope::fuzz
