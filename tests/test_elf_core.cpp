// ELF cores: round trips through write_elf_core, and cores built byte by
// byte here (independently of the writer) for the producers' variations and
// the lies a reader must catch.
#include <catch2/catch.hpp>

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/util/error.h"
#include "core/layers/segmented_file_layer.h"
#include "formats/elf/elf_core.h"
#include "formats/elf/elf_core_writer.h"
#include "formats/lime/lime_writer.h"
#include "formats/raw/raw_writer.h"
#include "core/layers/source_warnings.h"
#include "formats/elf/memscope_note.h"
#include "formats/elf/qemu_cpu_note.h"
#include "core/layers/format_registry.h"
#include "support/buffer_space.h"
#include "support/temp_file.h"

using namespace memscope;

namespace {

uint8_t pattern(uint64_t address) { return static_cast<uint8_t>((address * 151) ^ (address >> 9)); }

void fill(test::BufferSpace& space, uint64_t start, uint64_t size) {
  std::vector<uint8_t> bytes(size);
  for (uint64_t i = 0; i < size; ++i) bytes[i] = pattern(start + i);
  space.put(start, bytes.data(), bytes.size());
}

const char* const kVmcoreinfo =
    "OSRELEASE=6.1.0-test-amd64\n"
    "PAGESIZE=4096\n"
    "SYMBOL(init_top_pgt)=ffffffff82a10000\n"
    "NUMBER(phys_base)=-727711744\n"
    "KERNELOFFSET=2b600000\n";

// An ELF64 x86_64 core assembled by hand.
struct CoreBuilder {
  struct Load {
    uint64_t paddr, vaddr;
    std::vector<uint8_t> bytes;
    uint64_t memsz;  // 0: same as bytes.size()
  };
  struct Note {
    std::string owner;
    uint32_t type;
    std::string descriptor;
  };
  std::vector<Load> loads;
  std::vector<Note> notes;
  uint16_t machine = EM_X86_64;
  uint16_t type = ET_CORE;
  uint8_t elf_class = ELFCLASS64;
  size_t note_headers = 1;  // PT_NOTE headers, all for the same notes

  static std::string note_bytes(const Note& note) {
    std::string out;
    Elf64_Nhdr header{static_cast<uint32_t>(note.owner.size() + 1), static_cast<uint32_t>(note.descriptor.size()),
                      note.type};
    out.append(reinterpret_cast<const char*>(&header), sizeof header);
    out.append(note.owner);
    out.push_back('\0');
    out.resize((out.size() + 3) & ~size_t{3}, '\0');
    out.append(note.descriptor);
    out.resize((out.size() + 3) & ~size_t{3}, '\0');
    return out;
  }

  std::vector<uint8_t> build() const {
    std::string note_blob;
    for (const Note& note : notes) note_blob += note_bytes(note);
    size_t count = loads.size() + (note_blob.empty() ? 0 : note_headers);
    uint64_t offset = sizeof(Elf64_Ehdr) + count * sizeof(Elf64_Phdr);
    std::vector<Elf64_Phdr> headers;
    if (!note_blob.empty()) {
      Elf64_Phdr h{};
      h.p_type = PT_NOTE;
      h.p_offset = offset;
      h.p_filesz = h.p_memsz = note_blob.size();
      for (size_t i = 0; i < note_headers; ++i) headers.push_back(h);
      offset += note_blob.size();
    }
    for (const Load& load : loads) {
      Elf64_Phdr h{};
      h.p_type = PT_LOAD;
      h.p_offset = offset;
      h.p_paddr = load.paddr;
      h.p_vaddr = load.vaddr;
      h.p_filesz = load.bytes.size();
      h.p_memsz = load.memsz ? load.memsz : load.bytes.size();
      headers.push_back(h);
      offset += load.bytes.size();
    }
    Elf64_Ehdr ehdr{};
    std::memcpy(ehdr.e_ident, ELFMAG, SELFMAG);
    ehdr.e_ident[EI_CLASS] = elf_class;
    ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
    ehdr.e_ident[EI_VERSION] = EV_CURRENT;
    ehdr.e_type = type;
    ehdr.e_machine = machine;
    ehdr.e_version = EV_CURRENT;
    ehdr.e_phoff = sizeof ehdr;
    ehdr.e_ehsize = sizeof ehdr;
    ehdr.e_phentsize = sizeof(Elf64_Phdr);
    ehdr.e_phnum = static_cast<uint16_t>(count);

    std::vector<uint8_t> out(sizeof ehdr + count * sizeof(Elf64_Phdr));
    std::memcpy(out.data(), &ehdr, sizeof ehdr);
    std::memcpy(out.data() + sizeof ehdr, headers.data(), count * sizeof(Elf64_Phdr));
    out.insert(out.end(), note_blob.begin(), note_blob.end());
    for (const Load& load : loads) out.insert(out.end(), load.bytes.begin(), load.bytes.end());
    return out;
  }
};

std::vector<uint8_t> patterned(uint64_t start, uint64_t size) {
  std::vector<uint8_t> bytes(size);
  for (uint64_t i = 0; i < size; ++i) bytes[i] = pattern(start + i);
  return bytes;
}

std::string qemu_state(uint64_t cr0, uint64_t cr3, uint64_t cr4) {
  CpuState cpu;
  cpu.cr0 = cr0;
  cpu.cr3 = cr3;
  cpu.cr4 = cr4;
  return qemu_note::encode_cpu_state(cpu);
}

// An address space with many tiny ranges whose bytes are computed, to
// write cores with more program headers than e_phnum can count.
class ManyRangesSpace : public AddressSpace {
 public:
  ManyRangesSpace(uint64_t count, uint64_t stride, uint64_t size) : count_(count), stride_(stride), size_(size) {}
  std::string name() const override { return "many"; }
  AddressSpace* below() const override { return nullptr; }
  uint64_t limit() const override { return (count_ - 1) * stride_ + size_; }
  void ranges(const std::function<bool(const Range&)>& visit) const override {
    for (uint64_t i = 0; i < count_; ++i)
      if (!visit(Range{i * stride_, size_})) return;
  }

 protected:
  IoResult do_read(uint64_t address, void* buffer, size_t n, unsigned) override {
    IoResult result;
    for (; result.done < n; ++result.done) {
      uint64_t at = address + result.done;
      if (at % stride_ >= size_ || at / stride_ >= count_) {
        result.fault = Fault{at, name(), "not mapped"};
        break;
      }
      static_cast<uint8_t*>(buffer)[result.done] = pattern(at);
    }
    return result;
  }

 private:
  uint64_t count_, stride_, size_;
};

}  // namespace

TEST_CASE("ELF core round trip: memory / VMCOREINFO and CR3 per CPU") {
  test::BufferSpace source;
  fill(source, 0x0, 0x2000);
  fill(source, 0x100000, 0x3000);
  fill(source, 0x2'0000'0000, 0x1000);
  ImageNotes notes;
  notes.set_vmcoreinfo(kVmcoreinfo);
  for (unsigned i = 0; i < 3; ++i) {
    CpuState cpu;
    cpu.index = i;
    cpu.cr0 = 0x80050033;
    cpu.cr3 = 0x2a10000 + i * 0x1000;
    cpu.cr4 = 0x6f0 - i * 0x10;
    notes.cpus.push_back(cpu);
  }
  test::TempFile image("elf-roundtrip");
  write_elf_core(source, collect_ranges(source), notes, image.path());

  auto layer = open_image(image.path());
  REQUIRE(layer->format() == "elf");
  std::vector<Range> seen = collect_ranges(*layer);
  REQUIRE(seen == collect_ranges(source));
  for (const Range& r : seen) {
    std::vector<uint8_t> got(r.size), want(r.size);
    REQUIRE(layer->read(r.start, got.data(), got.size()).ok());
    REQUIRE(source.read(r.start, want.data(), want.size()).ok());
    CHECK(got == want);
  }
  // Range data starts page-aligned in the file, so peek works on whole pages.
  auto* segmented = dynamic_cast<SegmentedFileLayer*>(layer.get());
  REQUIRE(segmented);
  CHECK(segmented->segments().front().file_offset % 4096 == 0);

  const ImageNotes& read_back = layer->notes();
  CHECK(read_back.vmcoreinfo == kVmcoreinfo);
  CHECK(read_back.vmcoreinfo_keys.at("OSRELEASE") == "6.1.0-test-amd64");
  CHECK(read_back.vmcoreinfo_keys.at("SYMBOL(init_top_pgt)") == "ffffffff82a10000");
  REQUIRE(read_back.cpus.size() == 3);
  for (unsigned i = 0; i < 3; ++i) {
    CHECK(read_back.cpus[i].index == i);
    CHECK(read_back.cpus[i].cr0 == notes.cpus[i].cr0);
    CHECK(read_back.cpus[i].cr3 == notes.cpus[i].cr3);
    CHECK(read_back.cpus[i].cr4 == notes.cpus[i].cr4);
  }
  CHECK(read_back.first_cr3() == 0x2a10000);

  SECTION("holes fault when strict and read as zeros when padded") {
    std::vector<uint8_t> out(0x2000, 0xaa);
    IoResult strict = layer->read(0x1f00, out.data(), out.size());
    CHECK_FALSE(strict.ok());
    CHECK(strict.done == 0x100);
    REQUIRE(strict.fault);
    CHECK(strict.fault->address == 0x2000);
    IoResult padded = layer->read(0xff000, out.data(), out.size(), kReadPad);
    CHECK(padded.ok());
    CHECK(out[0xfff] == 0);
    CHECK(out[0x1000] == pattern(0x100000));
  }
  SECTION("describe names segments, notes and the kernel release") {
    LayerDescription lines = layer->describe();
    auto value = [&](const std::string& key) {
      for (const auto& [k, v] : lines)
        if (k == key) return v;
      return std::string("<absent>");
    };
    CHECK_THAT(value("PT_LOAD segments"), Catch::StartsWith("3 "));
    CHECK_THAT(value("notes"), Catch::Contains("QEMU x3") && Catch::Contains("VMCOREINFO x1"));
    CHECK(value("VMCOREINFO OSRELEASE") == "6.1.0-test-amd64");
  }
}

TEST_CASE("ELF core without notes / and CPUs without registers") {
  test::BufferSpace source;
  fill(source, 0x1000, 0x1000);
  ImageNotes notes;
  notes.cpus.push_back(CpuState{0, {}, {}, {}});  // nothing to record: no note
  test::TempFile image("elf-nonotes");
  write_elf_core(source, collect_ranges(source), notes, image.path());
  auto layer = open_image(image.path());
  CHECK(layer->notes().vmcoreinfo.empty());
  CHECK(layer->notes().cpus.empty());
  CHECK(layer->read_value<uint8_t>(0x1234) == pattern(0x1234));
}

TEST_CASE("ELF core with more program headers than e_phnum holds (PN_XNUM)") {
  const uint64_t count = PN_XNUM + 100;
  ManyRangesSpace source(count, 0x40, 0x10);
  test::TempFile image("elf-xnum");
  write_elf_core(source, collect_ranges(source), ImageNotes{}, image.path());

  std::vector<uint8_t> head = image.read();
  Elf64_Ehdr ehdr;
  std::memcpy(&ehdr, head.data(), sizeof ehdr);
  CHECK(ehdr.e_phnum == PN_XNUM);

  auto layer = open_image(image.path());
  auto* segmented = dynamic_cast<SegmentedFileLayer*>(layer.get());
  REQUIRE(segmented);
  CHECK(segmented->segments().size() == count);
  uint64_t last = (count - 1) * 0x40;
  CHECK(layer->read_value<uint8_t>(last + 0xf) == pattern(last + 0xf));
  uint8_t byte;
  CHECK_FALSE(layer->read(last + 0x10, &byte, 1).ok());
}

TEST_CASE("ELF core producers' variations") {
  test::TempFile image("elf-variant");
  CoreBuilder core;

  SECTION("QEMU, kdump-style notes: CORE/NT_PRSTATUS counts CPUs when no QEMU note") {
    core.loads.push_back({0x0, 0, patterned(0, 0x1000), 0});
    core.notes.push_back({"CORE", NT_PRSTATUS, std::string(336, '\0')});
    core.notes.push_back({"CORE", NT_PRSTATUS, std::string(336, '\0')});
    core.notes.push_back({"VMCOREINFO", 0, std::string(kVmcoreinfo) + std::string(3, '\0')});
    image.write(core.build());
    auto layer = open_image(image.path());
    REQUIRE(layer->notes().cpus.size() == 2);
    CHECK_FALSE(layer->notes().cpus[0].cr3);
    CHECK(layer->notes().vmcoreinfo == kVmcoreinfo);  // trailing NULs dropped
  }
  SECTION("QEMU notes give the registers; NT_PRSTATUS does not add CPUs") {
    core.loads.push_back({0x0, 0, patterned(0, 0x1000), 0});
    core.notes.push_back({"CORE", NT_PRSTATUS, std::string(336, '\0')});
    core.notes.push_back({"QEMU", 0, qemu_state(0x80050033, 0x1234000, 0x6f0)});
    image.write(core.build());
    auto layer = open_image(image.path());
    REQUIRE(layer->notes().cpus.size() == 1);
    CHECK(layer->notes().cpus[0].cr3 == 0x1234000);
  }
  SECTION("a QEMU note too short to hold the control registers gives a CPU without them") {
    core.loads.push_back({0x0, 0, patterned(0, 0x1000), 0});
    std::string state = qemu_state(1, 2, 3);
    state.resize(qemu_note::kControlRegistersOffset + 8);
    core.notes.push_back({"QEMU", 0, state});
    image.write(core.build());
    auto layer = open_image(image.path());
    REQUIRE(layer->notes().cpus.size() == 1);
    CHECK_FALSE(layer->notes().cpus[0].cr3);
  }
  SECTION("kdump's duplicate kernel-text segment inside the RAM segment is dropped") {
    core.loads.push_back({0x0, 0xffff888000000000, patterned(0, 0x4000), 0});
    core.loads.push_back({0x1000, 0xffffffff81000000, patterned(0x1000, 0x1000), 0});
    image.write(core.build());
    auto layer = open_image(image.path());
    auto* elf = dynamic_cast<ElfCoreLayer*>(layer.get());
    REQUIRE(elf);
    CHECK(elf->segments().size() == 1);
    CHECK(elf->summary().duplicate_segments == 1);
    CHECK(layer->read_value<uint8_t>(0x1800) == pattern(0x1800));
  }
  SECTION("p_memsz beyond p_filesz: only the file's bytes are mapped") {
    core.loads.push_back({0x10000, 0, patterned(0x10000, 0x1000), 0x3000});
    image.write(core.build());
    auto layer = open_image(image.path());
    CHECK(layer->limit() == 0x11000);
    uint8_t byte;
    CHECK_FALSE(layer->read(0x11000, &byte, 1).ok());
  }
  SECTION("every p_paddr 0 with p_vaddr set: a clear refusal") {
    core.loads.push_back({0, 0xffff888000000000, patterned(0, 0x1000), 0});
    core.loads.push_back({0, 0xffff888000100000, patterned(0, 0x1000), 0});
    image.write(core.build());
    CHECK_THROWS_WITH(open_image(image.path()),
                      Catch::Contains(image.path()) && Catch::Contains("p_paddr") && Catch::Contains("p_vaddr"));
  }
  SECTION("not x86_64, not a core, not 64-bit") {
    core.loads.push_back({0, 0, patterned(0, 0x100), 0});
    core.machine = EM_AARCH64;
    image.write(core.build());
    CHECK_THROWS_WITH(open_image(image.path()), Catch::Contains(image.path()) && Catch::Contains("x86_64"));
    core.machine = EM_X86_64;
    core.type = ET_EXEC;
    image.write(core.build());
    CHECK_THROWS_WITH(open_image(image.path()), Catch::Contains("ET_CORE"));
    core.type = ET_CORE;
    core.elf_class = ELFCLASS32;
    image.write(core.build());
    CHECK_THROWS_AS(open_image(image.path()), FormatError);
  }
}

TEST_CASE("ELF core lies are caught without over-reading") {
  test::TempFile image("elf-lies");
  CoreBuilder core;
  core.loads.push_back({0x0, 0, patterned(0, 0x2000), 0});
  core.notes.push_back({"VMCOREINFO", 0, kVmcoreinfo});
  core.notes.push_back({"QEMU", 0, qemu_state(1, 2, 3)});
  std::vector<uint8_t> bytes = core.build();
  const size_t note_start = sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr);

  SECTION("a note descriptor length past the segment") {
    uint32_t huge = 0x7fffffff;
    std::memcpy(bytes.data() + note_start + 4, &huge, sizeof huge);  // n_descsz of the first note
    image.write(bytes);
    CHECK_THROWS_AS(open_image(image.path()), FormatError);
    CHECK_THROWS_WITH(open_image(image.path()), Catch::Contains(image.path()) && Catch::Contains("PT_NOTE #0") &&
                                                    Catch::Contains("past the end of the segment"));
  }
  SECTION("a note name length past the segment") {
    uint32_t huge = 0xffffffff;
    std::memcpy(bytes.data() + note_start, &huge, sizeof huge);
    image.write(bytes);
    CHECK_THROWS_AS(open_image(image.path()), FormatError);
  }
  SECTION("a PT_LOAD past the end of the file: what the file holds is served / the rest named missing") {
    REQUIRE(bytes.size() > 0x100);
    bytes.erase(bytes.end() - 0x100, bytes.end());  // (resize: GCC 12 at -O1 warns of an overflow it cannot rule out)
    image.write(bytes);
    auto layer = open_image(image.path());
    REQUIRE(layer->warnings().size() == 1);
    CHECK_THAT(layer->warnings()[0], Catch::Contains(image.path()) && Catch::Contains("truncated") &&
                                         Catch::Contains("0x1f00-0x2000"));
    CHECK(layer->read_value<uint8_t>(0x1eff) == patterned(0, 0x2000)[0x1eff]);
    uint8_t byte = 0;
    IoResult past = layer->read(0x1f00, &byte, 1);
    REQUIRE_FALSE(past.ok());
    CHECK_THAT(past.fault->message(), Catch::Contains("0x1f00") && Catch::Contains("not in the file"));
  }
  SECTION("program headers past the end of the file") {
    Elf64_Ehdr ehdr;
    std::memcpy(&ehdr, bytes.data(), sizeof ehdr);
    ehdr.e_phoff = bytes.size() - 10;
    std::memcpy(bytes.data(), &ehdr, sizeof ehdr);
    image.write(bytes);
    CHECK_THROWS_WITH(open_image(image.path()), Catch::Contains(image.path()));
  }
  SECTION("a PT_NOTE past the end of the file") {
    Elf64_Phdr note;
    std::memcpy(&note, bytes.data() + sizeof(Elf64_Ehdr), sizeof note);
    note.p_filesz = bytes.size();
    std::memcpy(bytes.data() + sizeof(Elf64_Ehdr), &note, sizeof note);
    image.write(bytes);
    // The notes the file holds are read; the segment's end is a warning.
    auto layer = open_image(image.path());
    REQUIRE_FALSE(layer->warnings().empty());
    CHECK_THAT(layer->warnings()[0], Catch::Contains("PT_NOTE #0") && Catch::Contains("truncated"));
    CHECK(layer->notes().vmcoreinfo_keys.at("OSRELEASE") == "6.1.0-test-amd64");
  }
  SECTION("PT_NOTE headers for the same bytes: read once, said") {
    CoreBuilder twice = core;
    twice.note_headers = 3;
    image.write(twice.build());
    auto layer = open_image(image.path());
    CHECK(layer->notes().cpus.size() == 1);
    REQUIRE(layer->warnings().size() == 2);
    CHECK_THAT(layer->warnings()[0], Catch::Contains("PT_NOTE #1") && Catch::Contains("same bytes as PT_NOTE #0"));
    CHECK_THAT(layer->warnings()[1], Catch::Contains("PT_NOTE #2"));
  }
  SECTION("PT_NOTE headers over one large region, each shifted: the walk stops at 256 MiB, said") {
    // 300 headers, each 1 MiB of zero padding starting 4 bytes after the
    // one before: 300 MiB to walk, over a file of little more than 1 MiB.
    constexpr size_t kHeaders = 300, kRegion = size_t{1} << 20;
    const size_t count = kHeaders + 1;
    const uint64_t region = sizeof(Elf64_Ehdr) + count * sizeof(Elf64_Phdr);
    std::vector<uint8_t> file(region + kRegion + 4 * kHeaders + 0x1000, 0);
    Elf64_Ehdr ehdr;
    std::memcpy(&ehdr, bytes.data(), sizeof ehdr);
    ehdr.e_phnum = static_cast<uint16_t>(count);
    std::memcpy(file.data(), &ehdr, sizeof ehdr);
    for (size_t i = 0; i < count; ++i) {
      Elf64_Phdr h{};
      h.p_type = i < kHeaders ? PT_NOTE : PT_LOAD;
      h.p_offset = i < kHeaders ? region + 4 * i : file.size() - 0x1000;
      h.p_filesz = h.p_memsz = i < kHeaders ? kRegion : 0x1000;
      std::memcpy(file.data() + sizeof ehdr + i * sizeof h, &h, sizeof h);
    }
    image.write(file);
    auto layer = open_image(image.path());
    REQUIRE(layer->warnings().size() == kHeaders - 256);
    CHECK_THAT(layer->warnings()[0], Catch::Contains("PT_NOTE #256") && Catch::Contains("256 MiB of notes"));
  }
  SECTION("the unmodified core opens") {
    image.write(bytes);
    auto layer = open_image(image.path());
    CHECK(layer->notes().cpus.size() == 1);
    CHECK(layer->notes().vmcoreinfo_keys.at("OSRELEASE") == "6.1.0-test-amd64");
  }
}

TEST_CASE("ELF core: the source's warnings (MEMSCOPE notes) come first / bounded and printable") {
  using Limits = SourceWarningLimits;
  test::BufferSpace source;
  fill(source, 0x1000, 0x1000);

  SECTION("written by the writer, repeated by the reader, in order") {
    ElfSourceRecord origin{"cut.lime", {"cut.lime: truncated: physical 0x2000-0x2fff is not in the file", "second"}};
    test::TempFile image("elf-origin");
    write_elf_core(source, collect_ranges(source), ImageNotes{}, image.path(), {}, origin);
    auto layer = open_image(image.path());
    REQUIRE(layer->warnings().size() == 2);
    CHECK(layer->warnings()[0] == image.path() + ": converted from cut.lime, whose reader warned: " +
                                      origin.warnings[0]);
    CHECK_THAT(layer->warnings()[1], Catch::EndsWith("whose reader warned: second"));
    CHECK(layer->read_value<uint8_t>(0x1234) == pattern(0x1234));
  }
  SECTION("a converted core cut short: the source's warnings first, then this file's") {
    ElfSourceRecord origin{"cut.lime", {"cut.lime: truncated"}};
    test::TempFile whole("elf-origin-whole");
    write_elf_core(source, collect_ranges(source), ImageNotes{}, whole.path(), {}, origin);
    std::vector<uint8_t> bytes = whole.read();
    REQUIRE(bytes.size() > 0x100);
    bytes.erase(bytes.end() - 0x100, bytes.end());
    test::TempFile image("elf-origin-cut");
    image.write(bytes);
    auto layer = open_image(image.path());
    REQUIRE(layer->warnings().size() == 2);
    CHECK_THAT(layer->warnings()[0], Catch::EndsWith("whose reader warned: cut.lime: truncated"));
    CHECK_THAT(layer->warnings()[1], Catch::StartsWith(image.path() + ": truncated"));
  }
  SECTION("more warnings than the reader repeats: the writer keeps all, the reader counts the rest") {
    ElfSourceRecord origin{"many.lime", {}};
    for (size_t i = 0; i < Limits::kMaxWarnings + 5; ++i) origin.warnings.push_back("w" + std::to_string(i));
    test::TempFile image("elf-origin-many");
    write_elf_core(source, collect_ranges(source), ImageNotes{}, image.path(), {}, origin);
    auto layer = open_image(image.path());
    REQUIRE(layer->warnings().size() == Limits::kMaxWarnings + 1);
    CHECK_THAT(layer->warnings().front(), Catch::EndsWith("warned: w0"));
    CHECK_THAT(layer->warnings()[Limits::kMaxWarnings - 1], Catch::EndsWith("warned: w999"));
    CHECK_THAT(layer->warnings().back(),
               Catch::Contains("5 more warnings of the source many.lime are recorded but not repeated"));
  }
  SECTION("hostile notes: terminal controls, invalid UTF-8, huge texts, two names, too many notes") {
    CoreBuilder core;
    core.loads.push_back({0x0, 0, patterned(0, 0x1000), 0});
    core.notes.push_back({memscope_note::kOwner, memscope_note::kSourceWarning, "bell\x07 and\nnewline \xc2\x9b" "2J \xff"});
    core.notes.push_back({memscope_note::kOwner, memscope_note::kSourceName, "evil\x1b[2J" + std::string(1000, 'n')});
    core.notes.push_back({memscope_note::kOwner, memscope_note::kSourceName, "second-name.lime"});
    core.notes.push_back({memscope_note::kOwner, memscope_note::kSourceWarning, std::string(100000, 'x')});
    for (size_t i = 0; i < Limits::kMaxWarnings + 10; ++i)
      core.notes.push_back({memscope_note::kOwner, memscope_note::kSourceWarning, "n"});
    test::TempFile image("elf-origin-hostile");
    image.write(core.build());
    auto layer = open_image(image.path());
    const auto& warnings = layer->warnings();
    REQUIRE(warnings.size() == Limits::kMaxWarnings + 1);
    // The first name counts, cut at 255 bytes; controls are dots.
    CHECK_THAT(warnings[0], Catch::Contains("converted from evil.[2J" + std::string(Limits::kMaxNameBytes - 8, 'n') +
                                            " [cut at 255 bytes], whose") &&
                                Catch::EndsWith("warned: bell. and.newline .2J ."));
    CHECK_THAT(warnings[1], Catch::EndsWith(std::string(Limits::kMaxTextBytes, 'x') + " [cut at 4096 bytes]"));
    // Kept: the first 1000 notes; repeated: the two above and 998 "n".
    CHECK_THAT(warnings.back(), Catch::Contains("12 more warnings of the source"));
    size_t text_bytes = 0;
    for (const std::string& w : warnings) {
      CHECK(std::none_of(w.begin(), w.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }));
      text_bytes += w.size();
    }
    CHECK(text_bytes < Limits::kMaxTotalBytes + (Limits::kMaxWarnings + 1) * (image.path().size() + 400));
    CHECK(layer->read_value<uint8_t>(0x10) == patterned(0, 0x1000)[0x10]);
  }
  SECTION("text past the total budget is counted, not repeated") {
    CoreBuilder core;
    core.loads.push_back({0x0, 0, patterned(0, 0x1000), 0});
    for (size_t i = 0; i < 20; ++i)
      core.notes.push_back({memscope_note::kOwner, memscope_note::kSourceWarning, std::string(Limits::kMaxTextBytes, 'y')});
    test::TempFile image("elf-origin-budget");
    image.write(core.build());
    auto layer = open_image(image.path());
    const size_t fit = Limits::kMaxTotalBytes / Limits::kMaxTextBytes;  // 16
    REQUIRE(layer->warnings().size() == fit + 1);
    CHECK_THAT(layer->warnings().back(), Catch::Contains(std::to_string(20 - fit) + " more warnings of the source"));
  }
}
