// Writes the seed corpora of the fuzz targets (fuzz/README.md): small
// synthetic inputs of every kind, made by memscope's own writers and the
// tests' builders, so that each fuzzer starts from inputs that parse and
// mutates its way into the corners. Usage:
//   memscope-fuzz-corpus OUT_DIR     -> OUT_DIR/<target>/seed-<name>
// The seeds are generated, never committed: they are a few KiB each, and
// the builders are the source of truth.
#include <lz4frame.h>

#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "btf_blob_builder.h"
#include "core/layers/overlay.h"
#include "core/layers/overlay_file.h"
#include "formats/elf/elf_core_writer.h"
#include "formats/lime/lime_writer.h"
#include "formats/lz4/lz4_seekable_writer.h"
#include "formats/raw/raw_writer.h"
#include "core/types/profile.h"
#include "profiles/isf/isf_loader.h"
#include "support/avml_writer.h"
#include "support/buffer_space.h"
#include "support/kdump_writer.h"
#include "support/lime_zlib_writer.h"
#include "support/synthetic_kallsyms.h"
#include "support/synthetic_linux.h"

namespace fs = std::filesystem;
using namespace memscope;

namespace {

fs::path out_root;

std::vector<uint8_t> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), {});
}

// `target` as the fuzzer is named: fuzz_<target>, "-" written "_".
void seed(std::string target, const std::string& name, const void* bytes, size_t size) {
  for (char& c : target)
    if (c == '-') c = '_';
  fs::path dir = out_root / target;
  fs::create_directories(dir);
  std::ofstream out(dir / ("seed-" + name), std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(bytes), static_cast<std::streamsize>(size));
  if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
}
void seed(const std::string& target, const std::string& name, const std::vector<uint8_t>& bytes) {
  seed(target, name, bytes.data(), bytes.size());
}
void seed(const std::string& target, const std::string& name, const std::string& text) {
  seed(target, name, text.data(), text.size());
}
// An image file: a seed of its format's target and of detection's.
void image_seed(const std::string& format, const std::string& name, const fs::path& file) {
  std::vector<uint8_t> bytes = read_file(file);
  seed(format, name, bytes);
  seed("detect", format + "-" + name, bytes);
}

const char* const kVmcoreinfo =
    "OSRELEASE=6.1.0-fuzz\nPAGESIZE=4096\nKERNELOFFSET=2b600000\nSYMBOL(init_top_pgt)=ffffffffae010000\n"
    "SYMBOL(swapper_pg_dir)=ffffffffae010000\nNUMBER(phys_base)=-727711744\nNUMBER(pgtable_l5_enabled)=0\n"
    "SYMBOL(_stext)=ffffffff81000000\nSYMBOL(kallsyms_names)=ffffffff82000000\nSYMBOL(kallsyms_num_syms)="
    "ffffffff82100000\nSYMBOL(kallsyms_token_table)=ffffffff82200000\nSYMBOL(kallsyms_token_index)="
    "ffffffff82300000\nSYMBOL(kallsyms_offsets)=ffffffff82400000\nSYMBOL(kallsyms_relative_base)="
    "ffffffff82500000\nOFFSET(list_head.next)=0\nSIZE(list_head)=16\nLENGTH(mem_section)=2048\nCRASHTIME=1700000000\n";

// A small physical memory in three ranges (the last all zeros), with a VMCOREINFO note and a
// CPU's CR3: what every format seed holds.
void fill_image(test::BufferSpace& space) {
  for (uint64_t range : {0x0ull, 0x4000ull}) {
    for (uint64_t at = range; at < range + 0x2000; at += 8) space.put_u64(at, at * 0x9e3779b97f4a7c15ull);
  }
  space.map(0x10000, 0x1000);  // a page of zeros
  space.mutable_notes().set_vmcoreinfo(kVmcoreinfo);
  space.mutable_notes().cpus.push_back(CpuState{0, 0x80050033, 0x1000, 0x3506f0});
}

std::vector<Range> ranges_of(PhysicalLayer& layer) {
  std::vector<Range> out;
  layer.ranges([&](const Range& r) {
    out.push_back(r);
    return true;
  });
  return out;
}

void plain_lz4(const std::vector<uint8_t>& raw, const std::string& name, bool linked, bool block_checksum) {
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.blockMode = linked ? LZ4F_blockLinked : LZ4F_blockIndependent;
  prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
  prefs.frameInfo.blockChecksumFlag = block_checksum ? LZ4F_blockChecksumEnabled : LZ4F_noBlockChecksum;
  prefs.frameInfo.contentSize = raw.size();
  std::vector<uint8_t> out(LZ4F_compressFrameBound(raw.size(), &prefs));
  size_t n = LZ4F_compressFrame(out.data(), out.size(), raw.data(), raw.size(), &prefs);
  if (LZ4F_isError(n)) throw std::runtime_error(LZ4F_getErrorName(n));
  out.resize(n);
  seed("lz4", name, out);
  seed("detect", "lz4-" + name, out);
}

void format_seeds() {
  test::BufferSpace space;
  fill_image(space);
  const std::vector<Range> ranges = ranges_of(space);
  fs::path tmp = out_root / ".tmp";
  fs::create_directories(tmp);
  write_raw_image(space, ranges, (tmp / "image.raw").string());
  image_seed("raw", "small", tmp / "image.raw");
  write_lime_image(space, ranges, (tmp / "image.lime").string());
  image_seed("lime", "small", tmp / "image.lime");
  write_elf_core(space, ranges, space.notes(), (tmp / "image.elf").string());
  image_seed("elf", "small", tmp / "image.elf");
  // A core converted from a damaged source: MEMSCOPE notes.
  write_elf_core(space, ranges, space.notes(), (tmp / "origin.elf").string(), {},
                 ElfSourceRecord{"cut.lime", {"cut.lime: truncated: physical 0x2000-0x2fff is not in the file"}});
  image_seed("elf", "source-warnings", tmp / "origin.elf");
  Lz4WriteOptions lz4;
  lz4.chunk_size = 4096;
  lz4.threads = 1;
  write_lz4_seekable(space, (tmp / "image.lz4s").string(), lz4);
  image_seed("lz4-seekable", "small", tmp / "image.lz4s");
  std::vector<uint8_t> raw = read_file(tmp / "image.raw");
  plain_lz4(raw, "independent", false, false);
  plain_lz4(raw, "linked-checksummed", true, true);
  test::KdumpWriteOptions kdump;
  test::write_kdump(space, (tmp / "image.kdump").string(), kdump);
  image_seed("kdump", "zstd", tmp / "image.kdump");
  kdump.codec = 0x1;  // zlib
  kdump.flattened = true;
  kdump.record_size = 4096;
  test::write_kdump(space, (tmp / "image.kdump-flat").string(), kdump);
  image_seed("kdump", "zlib-flattened", tmp / "image.kdump-flat");
  test::AvmlWriteOptions avml;
  avml.block_size = 0x2000;
  test::write_avml(space, (tmp / "image.avml").string(), avml);
  image_seed("avml", "small", tmp / "image.avml");
  test::write_lime_zlib(space, (tmp / "image.lime-zlib").string());
  image_seed("lime-zlib", "small", tmp / "image.lime-zlib");
  fs::remove_all(tmp);
}

const char* const kSmallIsf = R"({
 "metadata": {"format": "6.2.0", "producer": {"name": "fuzz", "version": "1"}},
 "base_types": {
  "unsigned int": {"kind": "int", "size": 4, "signed": false, "endian": "little"},
  "char": {"kind": "char", "size": 1, "signed": true, "endian": "little"},
  "long unsigned int": {"kind": "int", "size": 8, "signed": false, "endian": "little"},
  "pointer": {"kind": "int", "size": 8, "signed": false, "endian": "little"}},
 "user_types": {
  "list_head": {"kind": "struct", "size": 16, "fields": {
   "next": {"offset": 0, "type": {"kind": "pointer", "subtype": {"kind": "struct", "name": "list_head"}}},
   "prev": {"offset": 8, "type": {"kind": "pointer", "subtype": {"kind": "struct", "name": "list_head"}}}}},
  "task_struct": {"kind": "struct", "size": 64, "fields": {
   "tasks": {"offset": 0, "type": {"kind": "struct", "name": "list_head"}},
   "pid": {"offset": 16, "type": {"kind": "base", "name": "unsigned int"}},
   "flags": {"offset": 20, "type": {"kind": "bitfield", "bit_position": 3, "bit_length": 5,
                                     "type": {"kind": "base", "name": "unsigned int"}}},
   "": {"offset": 24, "anonymous": true, "type": {"kind": "union", "name": "anon_u"}},
   "comm": {"offset": 32, "type": {"kind": "array", "count": 16, "subtype": {"kind": "base", "name": "char"}}},
   "state": {"offset": 48, "type": {"kind": "enum", "name": "pid_type"}}}},
  "anon_u": {"kind": "union", "size": 8, "fields": {
   "a": {"offset": 0, "type": {"kind": "base", "name": "long unsigned int"}}}}},
 "enums": {"pid_type": {"size": 4, "base": "unsigned int", "constants": {"PIDTYPE_PID": 0, "PIDTYPE_TGID": 1}}},
 "symbols": {
  "init_task": {"address": 18446744071591427200, "type": {"kind": "struct", "name": "task_struct"}},
  "linux_banner": {"address": 18446744071594614144, "constant_data": "TGludXggdmVyc2lvbiA2LjE="}}
})";

void profile_seeds() {
  test::SyntheticLinux linux_image;
  const std::string synthetic = linux_image.profile_json().dump();
  seed("isf", "synthetic", synthetic);
  seed("isf", "small", std::string(kSmallIsf));
  for (const auto& [name, text] : {std::pair{"synthetic", synthetic}, std::pair{"small", std::string(kSmallIsf)}}) {
    auto profile = parse_isf_text(text, "seed.json");
    std::span<const uint8_t> bytes = profile->bytes();
    seed("profile_cache", name, bytes.data(), bytes.size());
  }
  {
    // Symbol repeats (a name at several addresses, as System.map has).
    ProfileBuilder b("seed-repeats");
    b.add_symbol("watchdog", 0xffffffff82005000ull);
    b.add_symbol_repeat("watchdog", 0xffffffff81002000ull);
    b.add_symbol_repeat("watchdog", 0xffffffff81003000ull);
    b.add_symbol("before", 0xffffffff81001f00ull);
    b.add_symbol_repeat("only_repeats", 0xffffffff81004000ull);
    auto profile = b.finish();
    std::span<const uint8_t> bytes = profile->bytes();
    seed("profile_cache", "repeats", bytes.data(), bytes.size());
  }

  test::BtfBlobBuilder b;
  uint32_t u32 = b.int_type("unsigned int", 4, 0);
  uint32_t chr = b.int_type("char", 1, 1);
  uint32_t node = b.next_id();
  b.record("list_head", 16, {{"next", node + 1, 0, 0}, {"prev", node + 1, 64, 0}});
  b.pointer(node);
  uint32_t comm = b.array(chr, u32, 16);
  b.record("task_struct", 48, {{"tasks", node, 0, 0}, {"pid", u32, 128, 0}, {"flags", u32, 160, 3},
                                {"comm", comm, 192, 0}});
  b.typedef_of("pid_t", u32);
  seed("btf", "small", b.bytes());
  seed("btf", "big-endian", b.bytes(true));
}

void kernel_seeds() {
  // kallsyms: the table offsets, then the tables (as fuzz_kallsyms.cpp reads them).
  std::vector<test::KallsymsInput> symbols = {{"_text", 'T', 0xffffffff81000000ull},
                                              {"_stext", 'T', 0xffffffff81001000ull},
                                              {"start_kernel", 'T', 0xffffffff81002340ull},
                                              {"linux_banner", 'R', 0xffffffff82000100ull},
                                              {"init_task", 'D', 0xffffffff82a0c940ull},
                                              {"__per_cpu_start", 'D', 0x0}};
  for (auto order : {test::KallsymsOrder::kUpTo6_3, test::KallsymsOrder::kFrom6_4}) {
    test::KallsymsBlobOptions options;
    options.order = order;
    test::KallsymsBlob blob = test::build_kallsyms(symbols, options);
    std::vector<uint8_t> input(40, 0);
    auto put32 = [&](size_t at, uint64_t v) { std::memcpy(input.data() + at, &v, 4); };
    put32(0, blob.names);
    put32(4, blob.num_syms);
    put32(8, blob.token_table);
    put32(12, blob.token_index);
    put32(16, blob.offsets);
    put32(20, blob.relative_base);
    put32(24, blob.addresses);
    put32(28, blob.markers);
    input[32] = 2;  // 4-byte markers
    input.insert(input.end(), blob.bytes.begin(), blob.bytes.end());
    seed("kallsyms", order == test::KallsymsOrder::kUpTo6_3 ? "up-to-6.3" : "from-6.4", input);
  }
  seed("vmcoreinfo", "kernel", std::string(kVmcoreinfo));

  // An overlay over a small image, two pages written.
  test::BufferSpace image;
  image.map(0, 64 * 4096);
  Overlay overlay(image);
  uint64_t value = 0x4141414141414141ull;
  (void)overlay.write(0x1000, &value, sizeof value);
  (void)overlay.write(0x3ff8, &value, sizeof value);
  fs::path tmp = out_root / "overlay.tmp";
  save_overlay(overlay, ImageIdentity{"image.raw", 64 * 4096, "head-tail-sha256:00"}, tmp.string());
  seed("overlay", "two-pages", read_file(tmp));
  fs::remove(tmp);

  // Page tables in 8 pages: PML4 at page 0 maps a PDPT (page 1), which maps
  // a 1 GiB page and a PD (page 2), which maps a 2 MiB page and a PT (page
  // 3) of 4 KiB pages; the last PML4 entry points at the PML4 itself.
  std::vector<uint8_t> memory(8 * 4096, 0);
  auto entry = [&](uint64_t page, unsigned index, uint64_t value) {
    std::memcpy(memory.data() + page * 4096 + index * 8, &value, 8);
  };
  entry(0, 0, 0x1000 | 0x7);
  entry(0, 511, 0x0000 | 0x3);
  entry(1, 0, 0x2000 | 0x7);
  entry(1, 1, 0x40000000 | 0x83);
  entry(2, 0, 0x3000 | 0x7);
  entry(2, 1, 0x200000 | 0x83);
  for (unsigned i = 0; i < 8; ++i) entry(3, i, (0x4000 + i * 0x1000) | 0x7);
  std::vector<uint8_t> input(4 + 1 + 64, 0);
  const uint64_t vaddrs[] = {0x0, 0x1234, 0x201000, 0x40000000, 0xff8000000000ull, 0xffffff8000000000ull, 0x7000,
                             0x1000000000000ull};
  std::memcpy(input.data() + 5, vaddrs, sizeof vaddrs);
  input.insert(input.end(), memory.begin(), memory.end());
  seed("paging", "four-levels", input);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: memscope-fuzz-corpus OUT_DIR\n";
    return 2;
  }
  try {
    out_root = argv[1];
    format_seeds();
    profile_seeds();
    kernel_seeds();
    std::cout << "seeds written under " << out_root.string() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "memscope-fuzz-corpus: " << e.what() << "\n";
    return 1;
  }
}
