// The libkvm C API on the real images: nlist, reads, strings, writes into
// the overlay, and the evidence left untouched.
#include <catch2/catch.hpp>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "core/util/hex.h"
#include "core/util/sha256.h"
#include "core/layers/format_registry.h"
#include "memscope/kvm.h"
#include "profiles/isf/isf_loader.h"
#include "support/fixtures.h"
#include "support/temp_file.h"

using namespace memscope;
namespace t = memscope::test;

namespace {

struct Kvm {
  kvm_t* kd = nullptr;
  Kvm(const std::string& profile, const std::string& image, int flags) {
    char err[KVM_ERRBUF_SIZE] = {0};
    kd = kvm_openfiles(profile.empty() ? nullptr : profile.c_str(), image.c_str(), nullptr, flags, err);
    INFO(err);
    REQUIRE(kd);
  }
  ~Kvm() { kvm_close(kd); }
};

uint64_t truth_u64(const nlohmann::json& value) { return parse_u64(value.get<std::string>(), "truth"); }

std::string file_sha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Sha256 hash;
  std::vector<char> buffer(1 << 20);
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0)
    hash.update(buffer.data(), static_cast<size_t>(in.gcount()));
  return Sha256::to_hex(hash.finish());
}

int64_t mtime_ns(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// CR3 of the first vCPU, from the ELF core's QEMU note.
uint64_t elf_cr3() {
  auto layer = open_image(t::fixture("image.elf"));
  auto cr3 = layer->notes().first_cr3();
  REQUIRE(cr3);
  return *cr3;
}

}  // namespace

TEST_CASE("kvm: with the ELF note's CR3 / linux_banner reads back from every format") {
  const auto& truth = t::truth();
  const uint64_t cr3 = elf_cr3();
  // linux_banner's System.map address + the KASLR shift, as the issue states it.
  std::ifstream map(t::fixture("System.map"));
  uint64_t banner_link = 0;
  for (std::string line; std::getline(map, line);)
    if (line.size() > 19 && line.substr(19) == "linux_banner") banner_link = parse_u64("0x" + line.substr(0, 16), "map");
  REQUIRE(banner_link != 0);
  const uint64_t banner_address = banner_link + truth_u64(truth["kaslr_offset"]);

  for (const char* name : {"image.raw", "image.lime", "image.elf"}) {
    SECTION(name) {
      Kvm k("", t::fixture(name), O_RDONLY);
      REQUIRE(kvm_set_dtb(k.kd, cr3, 4) == 0);
      char* banner = kvm_readstr(k.kd, banner_address, nullptr, nullptr);
      REQUIRE(banner);
      CHECK(std::string(banner) == truth["linux_banner"].get<std::string>() + "\n");
      std::free(banner);
    }
  }
}

TEST_CASE("kvm: nlist / kerndisp and init_task's comm with the fixture profile") {
  const auto& truth = t::truth();
  std::string isf = t::fixture_file("isf.json.xz");
  auto profile = load_profile(isf);
  const uint64_t comm_offset = profile->offset_of("task_struct", "comm");
  for (const char* name : {"image.raw", "image.lime", "image.elf"}) {
    SECTION(name) {
      Kvm k(isf, t::fixture(name), O_RDONLY);
      struct nlist nl[] = {{"init_task", 0, 0, 0, 0}, {"_linux_banner", 0, 0, 0, 0}, {"no_such_symbol_x", 0, 0, 0, 0},
                           {nullptr, 0, 0, 0, 0}};
      CHECK(kvm_nlist(k.kd, nl) == 1);
      CHECK(nl[0].n_value == truth_u64(truth["symbols"]["init_task"]));
      CHECK(nl[0].n_type == N_DATA);
      CHECK(nl[1].n_value == truth_u64(truth["symbols"]["linux_banner"]));
      CHECK(nl[2].n_type == N_UNDF);
      CHECK(static_cast<uint64_t>(kvm_kerndisp(k.kd)) == truth_u64(truth["kaslr_offset"]));

      char comm[16];
      size_t len = sizeof comm;
      REQUIRE(kvm_readstr(k.kd, nl[0].n_value + comm_offset, comm, &len) == comm);
      CHECK(std::string(comm) == "swapper/0");
      CHECK(len == 10);
    }
  }
}

TEST_CASE("kvm_readstr: buffer sizes as DragonFly's kvm_read(3) says") {
  std::string isf = t::fixture_file("isf.json.xz");
  Kvm k(isf, t::fixture("image.elf"), O_RDONLY);
  struct nlist nl[] = {{"linux_banner", 0, 0, 0, 0}, {nullptr, 0, 0, 0, 0}};
  REQUIRE(kvm_nlist(k.kd, nl) == 0);
  const std::string banner = t::truth()["linux_banner"].get<std::string>() + "\n";

  size_t len = 0;
  char* allocated = kvm_readstr(k.kd, nl[0].n_value, nullptr, &len);
  REQUIRE(allocated);
  CHECK(len == banner.size() + 1);
  CHECK(allocated == banner);
  std::free(allocated);

  char small[16];
  len = sizeof small;
  CHECK(kvm_readstr(k.kd, nl[0].n_value, small, &len) == nullptr);
  CHECK(len == banner.size() + 1);  // the size needed

  std::vector<char> exact(banner.size() + 1);
  len = exact.size();
  CHECK(kvm_readstr(k.kd, nl[0].n_value, exact.data(), &len) == exact.data());
  CHECK(std::string(exact.data()) == banner);

  CHECK(kvm_readstr(k.kd, nl[0].n_value, small, nullptr) == nullptr);  // a buffer needs its size
}

TEST_CASE("kvm: unmapped addresses fail with the address named - physical reads end where the image ends") {
  std::string isf = t::fixture_file("isf.json.xz");
  Kvm k(isf, t::fixture("image.raw"), O_RDONLY);
  char buf[64];
  const unsigned long unmapped = 0xffffc00000000000ul;  // a hole in the kernel's space (no profile value)
  CHECK(kvm_read(k.kd, unmapped, buf, sizeof buf) == -1);
  CHECK(std::string(kvm_geterr(k.kd)).find("0xffffc00000000000") != std::string::npos);

  const uint64_t size = t::truth()["images"]["image.raw"]["size"];
  CHECK(kvm_read_physical(k.kd, size - 16, buf, sizeof buf) == 16);
  CHECK(kvm_read_physical(k.kd, size + 4096, buf, sizeof buf) == -1);
}

TEST_CASE("kvm_write lands in the overlay - the evidence is unchanged - save / load / discard") {
  std::string isf = t::fixture_file("isf.json.xz");
  std::string image = t::fixture("image.lime");
  const std::string hash_before = file_sha256(image);
  const int64_t mtime_before = mtime_ns(image);
  t::TempFile saved("overlay");
  struct nlist nl[] = {{"linux_banner", 0, 0, 0, 0}, {nullptr, 0, 0, 0, 0}};
  const char patch[] = "Patched!";
  {
    Kvm readonly(isf, image, O_RDONLY);
    REQUIRE(kvm_nlist(readonly.kd, nl) == 0);
    CHECK(kvm_write(readonly.kd, nl[0].n_value, patch, 8) == -1);
    CHECK(std::string(kvm_geterr(readonly.kd)).find("O_RDONLY") != std::string::npos);
  }
  {
    Kvm k(isf, image, O_RDWR);
    REQUIRE(kvm_write(k.kd, nl[0].n_value, patch, 8) == 8);
    char back[9] = {0};
    REQUIRE(kvm_read(k.kd, nl[0].n_value, back, 8) == 8);
    CHECK(std::string(back) == "Patched!");
    REQUIRE(kvm_overlay_save(k.kd, saved.path().c_str()) == 0);
    REQUIRE(kvm_overlay_discard(k.kd) == 0);
    REQUIRE(kvm_read(k.kd, nl[0].n_value, back, 8) == 8);
    CHECK(std::string(back) == "Linux ve");
  }
  {
    Kvm k(isf, image, O_RDONLY);
    REQUIRE(kvm_overlay_load(k.kd, saved.path().c_str()) == 0);
    char back[9] = {0};
    REQUIRE(kvm_read(k.kd, nl[0].n_value, back, 8) == 8);
    CHECK(std::string(back) == "Patched!");
  }
  CHECK(file_sha256(image) == hash_before);
  CHECK(mtime_ns(image) == mtime_before);
}

TEST_CASE("kvm_openfiles reports bad input in errbuf") {
  char err[KVM_ERRBUF_SIZE] = {0};
  CHECK(kvm_openfiles(nullptr, "/nonexistent/image.lime", nullptr, O_RDONLY, err) == nullptr);
  CHECK(std::string(err).find("/nonexistent/image.lime") != std::string::npos);
  CHECK(kvm_openfiles(nullptr, "/", nullptr, O_RDONLY, err) == nullptr);
  CHECK(std::string(err).find("directory") != std::string::npos);
  CHECK(kvm_openfiles(nullptr, "/etc/hostname", nullptr, O_WRONLY, err) == nullptr);
  CHECK(kvm_openfiles("/nonexistent/profile.json", "/etc/hostname", nullptr, O_RDONLY, err) == nullptr);
  CHECK(std::string(err).find("/nonexistent/profile.json") != std::string::npos);
}
