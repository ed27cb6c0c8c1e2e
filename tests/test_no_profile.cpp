// Analysis with nothing but the image (profiles/image/): on every fixture
// format, every plugin that runs without options gives the rows it gives
// with the fixture's ISF; the profile source the session chose and why;
// `profile generate --from-image` writes an ISF that loads, gives the same
// rows and has the ISF's structure sizes and field offsets; damaged
// kallsyms, BTF and VMCOREINFO give clear messages. Every test runs with an
// empty profile cache and no symbol folder (XDG_CACHE_HOME and
// XDG_DATA_HOME point at temporary folders).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "cli/render/render.h"
#include "core/layers/x86_64_paging.h"
#include "core/linux/discovery/discovery.h"
#include "core/linux/discovery/kallsyms.h"
#include "core/plugin/plugin.h"
#include "core/scan/physical_scanner.h"
#include "core/session/session.h"
#include "core/util/hex.h"
#include "profiles/btf/btf.h"
#include "profiles/image/image_profile.h"
#include "profiles/isf/isf_loader.h"
#include "profiles/isf/isf_writer.h"
#include "support/fixture_profiles.h"
#include "support/fixtures.h"
#include "support/run_cli.h"
#include "support/synthetic_self_description.h"
#include "support/temp_file.h"

using namespace memscope;
using nlohmann::json;

namespace {

// Empty cache and data folders for the duration of a test, for this
// process and for the commands it runs.
class IsolatedHome {
 public:
  IsolatedHome() : dir_("no-profile-home") {
    std::filesystem::create_directories(cache());
    std::filesystem::create_directories(data());
    for (const char* name : {"XDG_CACHE_HOME", "XDG_DATA_HOME"})
      if (const char* v = std::getenv(name)) saved_[name] = v;
    ::setenv("XDG_CACHE_HOME", cache().c_str(), 1);
    ::setenv("XDG_DATA_HOME", data().c_str(), 1);
  }
  ~IsolatedHome() {
    ::unsetenv("XDG_CACHE_HOME");
    ::unsetenv("XDG_DATA_HOME");
    for (const auto& [name, value] : saved_) ::setenv(name.c_str(), value.c_str(), 1);
  }
  std::string cache() const { return dir_.file("cache"); }
  std::string data() const { return dir_.file("data"); }
  std::string symbols() const { return data() + "/memscope/symbols"; }
  std::vector<std::string> env() const { return {"XDG_CACHE_HOME=" + cache(), "XDG_DATA_HOME=" + data()}; }

 private:
  test::TempDir dir_;
  std::map<std::string, std::string> saved_;
};

std::string rendered(const Table& table) {
  std::ostringstream out;
  render_json(table, out);
  for (const std::string& w : table.warnings) out << "\nwarning: " << w;
  return out.str();
}

SessionOptions options_for(const std::string& image, const std::string& profile = "") {
  SessionOptions options;
  options.image = image;
  options.profile = profile;
  return options;
}

// Runs every registered plugin that runs without options on both sessions
// and requires the same rows and warnings. Plugins that need options (or
// do not run on this image even with the ISF) are skipped, with the reason.
void same_rows_for_every_plugin(Session& with_isf, Session& without, const std::string& what) {
  size_t compared = 0;
  for (const Plugin& plugin : plugins()) {
    PluginResult reference = run_plugin(plugin, with_isf, {});
    if (!reference.ok) {
      WARN(what << ": skipped " << plugin.info.name << " (it does not run without options here, even with the ISF: "
                << reference.error << ")");
      continue;
    }
    PluginResult result = run_plugin(plugin, without, {});
    INFO(what << ": " << plugin.info.name);
    INFO(result.error);
    REQUIRE(result.ok);
    CHECK(rendered(result.table) == rendered(reference.table));
    ++compared;
  }
  CHECK(compared > 0);
}

// The fixture's formats; the compressed ones memscope may not read yet.
const std::vector<std::string> kFormats = {"raw",           "lime",           "elf",           "kdump-zlib",
                                           "kdump-raw-zlib", "kdump-lzo",     "kdump-snappy"};

}  // namespace

TEST_CASE("no profile: every plugin gives the ISF's rows / every fixture format") {
  const std::string format = GENERATE(from_range(kFormats));
  const std::string image = test::fixture("image." + format);
  IsolatedHome home;
  Session with_isf(options_for(image, test::fixture_isf_profile()));
  if (!with_isf.has_kernel()) {
    WARN("image." << format << ": skipped, memscope does not find its kernel even with the ISF (format not read yet?)");
    return;
  }
  Session without(options_for(image));
  REQUIRE(without.has_profile());
  REQUIRE(without.profile_choice());
  CHECK(without.profile_choice()->source == "image");
  same_rows_for_every_plugin(with_isf, without, "image." + format);
  // The next session on an image of the same kernel maps the cached profile.
  Session again(options_for(image));
  REQUIRE(again.has_profile());
  CHECK(again.profile_choice()->source == "cache");
}

TEST_CASE("no profile: which source answers, and why") {
  const std::string image = test::fixture("image.raw");
  IsolatedHome home;
  {
    Session session(options_for(image));
    REQUIRE(session.has_profile());
    const ProfileChoice& choice = *session.profile_choice();
    CHECK(choice.source == "image");
    CHECK_THAT(choice.reason, Catch::Contains("symbols from kallsyms (VMCOREINFO)"));
    CHECK_THAT(choice.reason, Catch::Contains("types from its BTF"));
    CHECK_THAT(choice.reason, Catch::Contains("cached as " + home.cache()));
    CHECK(session.profile().banner() == test::truth().at("linux_banner").get<std::string>());
    CHECK(session.kernel().virtual_shift ==
          std::stoull(test::truth().at("kaslr_offset").get<std::string>(), nullptr, 16));
  }
  {
    Session session(options_for(image));
    REQUIRE(session.has_profile());
    CHECK(session.profile_choice()->source == "cache");
    CHECK_THAT(session.profile_choice()->reason, Catch::Contains("build-id"));
    // A cached profile is mapped, not rebuilt: its bytes are the cache file.
    CHECK(session.profile().origin().rfind(home.cache(), 0) == 0);
  }
  {
    // An ISF in the default symbol folder whose banner matches comes first.
    std::filesystem::create_directories(home.symbols());
    std::filesystem::create_symlink(test::fixture_isf_profile(), home.symbols() + "/linux-6.1.json.xz");
    Session session(options_for(image));
    REQUIRE(session.has_profile());
    CHECK(session.profile_choice()->source == "symbols");
  }
  {
    Session session(options_for(image, test::fixture_isf_profile()));
    REQUIRE(session.has_profile());
    CHECK(session.profile_choice()->source == "file");
  }
  {
    SessionOptions options = options_for(image);
    options.btf = test::fixture("vmlinux.btf");
    options.system_map = test::fixture("System.map");
    Session session(options);
    REQUIRE(session.has_profile());
    CHECK(session.profile_choice()->source == "btf");
    CHECK(session.profile().banner() == test::truth().at("linux_banner").get<std::string>());
    CHECK(session.has_kernel());
  }
  {
    // --btf alone: the symbols from the image's kallsyms.
    SessionOptions options = options_for(image);
    options.btf = test::fixture("vmlinux.btf");
    Session session(options);
    REQUIRE(session.has_profile());
    CHECK(session.profile_choice()->source == "btf");
    CHECK_THAT(session.profile_choice()->reason, Catch::Contains("symbols from kallsyms"));
    CHECK_THAT(session.profile_choice()->reason, Catch::Contains("types from --btf"));
  }
}

TEST_CASE("no profile: memscope info says which profile was used and why") {
  IsolatedHome home;
  const std::string image = test::fixture("image.elf");
  test::CliRun first = test::run_cli({"info", "-f", image}, {.env = home.env()});
  INFO(first.err);
  REQUIRE(first.status == 0);
  CHECK_THAT(first.out, Catch::Contains("Profile from:    image: recovered from the image"));
  test::CliRun second = test::run_cli({"info", "-f", image, "-o", "json"}, {.env = home.env()});
  REQUIRE(second.status == 0);
  json info = json::parse(second.out);
  CHECK(info["kernel"]["profile_source"] == "cache");
  CHECK_THAT(info["kernel"]["profile_reason"].get<std::string>(), Catch::Contains("recovered earlier"));

  test::CliRun profile = test::run_cli({"profile", "info", "-f", image}, {.env = home.env()});
  INFO(profile.err);
  REQUIRE(profile.status == 0);
  CHECK_THAT(profile.out, Catch::Contains("chosen_by:    cache"));
  // Which symbols the plugins use have no type: none on this kernel.
  CHECK_THAT(profile.out, Catch::Contains("untyped:      none"));
  CHECK_THAT(profile.out, Catch::Contains("missing:      none"));
}

TEST_CASE("no profile: profile info names the symbols the plugins use that have no type or are absent") {
  IsolatedHome home;
  test::TempFile file("untyped.json");
  const std::string& isf = file.path();
  // init_task without a type (what a System.map-only global looks like),
  // modules typed, every other symbol the plugins use absent.
  file.write(std::string_view(
      R"({"metadata": {"format": "6.2.0", "producer": {"name": "test", "version": "1.0.0"}},
  "base_types": {"int": {"size": 4, "signed": true, "kind": "int", "endian": "little"}},
  "user_types": {"list_head": {"kind": "struct", "size": 16, "fields": {}}},
  "enums": {},
  "symbols": {"init_task": {"address": 4096},
              "modules": {"address": 8192, "type": {"kind": "struct", "name": "list_head"}}}})"));
  test::CliRun run = test::run_cli({"profile", "info", isf, "-o", "json"}, {.env = home.env()});
  INFO(run.out << run.err);
  REQUIRE(run.status == 0);
  json info = json::parse(run.out);
  CHECK(info.at("untyped_used") == json::array({"init_task"}));
  std::set<std::string> missing = info.at("missing_used").get<std::set<std::string>>();
  CHECK_FALSE(missing.count("init_task"));
  CHECK_FALSE(missing.count("modules"));
  CHECK(missing.count("sys_call_table"));
  test::CliRun text = test::run_cli({"profile", "info", isf}, {.env = home.env()});
  REQUIRE(text.status == 0);
  CHECK_THAT(text.out, Catch::Contains("untyped:      init_task (symbols plugins use)"));
}

// --- profile generate --from-image ------------------------------------------

namespace {

// Named members of a record, those of anonymous members included, with
// their offsets, as find_member sees them.
void flatten(const Profile& p, const TypeInfo& record, uint64_t base, std::map<std::string, const MemberInfo*>& out,
             std::map<std::string, uint64_t>& offsets, int depth = 0) {
  for (const MemberInfo& m : p.members(record)) {
    const TypeInfo& type = p.type(m.type);
    if (m.anonymous && type.is_record() && depth < 8) {
      flatten(p, type, base + m.offset, out, offsets, depth + 1);
      continue;
    }
    std::string name(p.name(m));
    if (out.emplace(name, &m).second) offsets[name] = base + m.offset;
  }
}

// The named struct/union a member type leads to (through pointers, arrays,
// bitfields), or "".
std::string record_named_by(const Profile& p, TypeRef ref) {
  for (int depth = 0; depth < 32 && ref.valid(); ++depth) {
    const TypeInfo& t = p.type(ref);
    if (t.is_record()) {
      std::string name(p.name(t));
      return name.rfind("unnamed_", 0) == 0 ? "" : name;
    }
    if (t.kind != TypeKind::kPointer && t.kind != TypeKind::kArray && t.kind != TypeKind::kBitfield) return "";
    ref = t.target;
  }
  return "";
}

// Struct names the BTF defines more than once (static structs of different
// files): which one a profile keeps is arbitrary (docs/profile-generation.md).
std::set<std::string> defined_twice() {
  Btf btf = Btf::load(test::fixture("vmlinux.btf"));
  std::map<std::string, int> count;
  for (const BtfType& t : btf.types())
    if ((t.kind == BtfKind::kStruct || t.kind == BtfKind::kUnion) && !t.name.empty()) ++count[std::string(t.name)];
  std::set<std::string> out;
  for (const auto& [name, n] : count)
    if (n > 1) out.insert(name);
  return out;
}

}  // namespace

TEST_CASE("no profile: profile generate --from-image writes an ISF with the fixture ISF's layouts and rows") {
  IsolatedHome home;
  test::TempDir dir("from-image");
  const std::string out = dir.file("recovered.json.xz");
  const std::string image = test::fixture("image.raw");
  test::CliRun run = test::run_cli({"profile", "generate", "--from-image", image, "-o", out}, {.env = home.env()});
  INFO(run.out << run.err);
  REQUIRE(run.status == 0);
  CHECK_THAT(run.err, Catch::Contains("recovered from the image"));

  // Volatility 3's ISF schema (6.x), the parts it checks.
  json isf = json::parse(read_isf_text(out));
  const json& meta = isf.at("metadata");
  CHECK(std::regex_match(meta.at("format").get<std::string>(), std::regex("6\\.[0-9]+\\.[0-9]+")));
  CHECK(std::regex_match(meta.at("producer").at("version").get<std::string>(), std::regex("[0-9]+\\.[0-9]+\\.[0-9]+")));
  for (const json& source : meta.at("linux").at("symbols"))
    CHECK(std::regex_match(source.at("kind").get<std::string>(), std::regex("dwarf|symtab|system-map")));
  for (const char* section : {"base_types", "user_types", "enums", "symbols"}) CHECK(isf.at(section).is_object());
  for (const auto& [name, base] : isf.at("base_types").items()) {
    CHECK(std::regex_match(base.at("kind").get<std::string>(), std::regex("void|int|float|char|bool")));
    CHECK(base.at("signed").is_boolean());
    CHECK(base.at("endian") == "little");
  }
  size_t bitfields = 0;
  std::function<void(const json&)> descriptor = [&](const json& t) {
    const std::string kind = t.at("kind");
    if (kind == "pointer") return descriptor(t.at("subtype"));
    if (kind == "array") {
      CHECK(t.at("count").is_number_integer());
      return descriptor(t.at("subtype"));
    }
    if (kind == "bitfield") {
      ++bitfields;
      const std::string of = t.at("type").at("kind");
      CHECK((of == "base" || of == "enum"));
      return;
    }
    CHECK(std::regex_match(kind, std::regex("base|struct|union|class|enum|function")));
  };
  for (const auto& [name, type] : isf.at("user_types").items())
    for (const auto& [field, info] : type.at("fields").items()) {
      CHECK(info.at("offset").is_number_integer());
      descriptor(info.at("type"));
    }
  CHECK(bitfields > 0);
  for (const auto& [name, symbol] : isf.at("symbols").items()) {
    CHECK(symbol.at("address").is_number());
    descriptor(symbol.at("type"));
  }

  // It loads, and it is the fixture's kernel.
  std::shared_ptr<const Profile> recovered = parse_isf_file(out);
  std::shared_ptr<const Profile> reference = load_profile(test::fixture_isf_profile());
  CHECK(recovered->banner() == test::truth().at("linux_banner").get<std::string>());

  // Every struct the plugins use, and every struct those reach through
  // their members, has the ISF's size and field offsets.
  std::set<std::string> queue, done;
  for (const Plugin& plugin : plugins())
    for (const std::string& type : plugin.info.required_types) queue.insert(type);
  const std::set<std::string> ambiguous = defined_twice();
  size_t fields = 0;
  while (!queue.empty()) {
    const std::string name = *queue.begin();
    queue.erase(queue.begin());
    if (!done.insert(name).second || ambiguous.count(name)) continue;
    INFO("struct " << name);
    const TypeInfo* theirs = reference->find_type(name);
    const TypeInfo* ours = recovered->find_type(name);
    if (!theirs || !theirs->is_record()) continue;
    REQUIRE(ours);
    CHECK(ours->size == theirs->size);
    std::map<std::string, const MemberInfo*> their_members, our_members;
    std::map<std::string, uint64_t> their_offsets, our_offsets;
    flatten(*reference, *theirs, 0, their_members, their_offsets);
    flatten(*recovered, *ours, 0, our_members, our_offsets);
    CHECK(our_offsets == their_offsets);
    fields += their_offsets.size();
    for (const auto& [field, member] : their_members) {
      std::string next = record_named_by(*reference, member->type);
      if (!next.empty() && !done.count(next)) queue.insert(next);
    }
  }
  WARN("compared " << done.size() << " structs reachable from the plugins' types, " << fields << " fields");
  CHECK(done.size() > 100);

  // And it gives the ISF's rows.
  Session with_isf(options_for(image, test::fixture_isf_profile()));
  Session with_recovered(options_for(image, out));
  same_rows_for_every_plugin(with_isf, with_recovered, "profile generated --from-image");
}

// --- Damaged images -----------------------------------------------------------

namespace {

// Physical addresses where "OSRELEASE=" (VMCOREINFO's first line) lies.
std::vector<uint64_t> vmcoreinfo_texts(AddressSpace& physical) {
  std::vector<uint64_t> out;
  scan_physical(physical, {ScanPattern{"OSRELEASE="}}, [&](const ScanHit& hit) {
    out.push_back(hit.address);
    return true;
  });
  return out;
}

// The fixture's kernel, found the usual way (for addresses to damage).
struct FixtureKernel {
  LinuxKernelInfo kernel;
  KallsymsTable table;
};

FixtureKernel fixture_kernel(Session& session) {
  FixtureKernel f;
  f.kernel = discover_linux_kernel(session.physical(), ImageNotes{}, nullptr);
  X86_64Paging space(session.physical(), f.kernel.dtb, f.kernel.paging_levels);
  f.table = read_kallsyms(space, *kallsyms_tables(*f.kernel.vmcoreinfo));
  return f;
}

uint64_t physical_of(Session& session, const FixtureKernel& f, uint64_t vaddr) {
  X86_64Paging space(session.physical(), f.kernel.dtb, f.kernel.paging_levels);
  auto t = space.translate(vaddr);
  REQUIRE(t);
  return t->physical;
}

void overwrite(Session& session, uint64_t physical, const std::string& bytes) {
  REQUIRE(session.overlay().write(physical, bytes.data(), bytes.size()).ok());
}

// The physical space with one range unreadable, as a dump that lost pages.
class HoleySpace : public AddressSpace {
 public:
  HoleySpace(AddressSpace& below, uint64_t hole, uint64_t size) : below_(below), hole_(hole), end_(hole + size) {
    share_generation(below);
  }
  std::string name() const override { return "holey"; }
  AddressSpace* below() const override { return &below_; }
  uint64_t limit() const override { return below_.limit(); }
  void ranges(const std::function<bool(const Range&)>& visit) const override {
    below_.ranges([&](const Range& r) {
      if (r.end() <= hole_ || r.start >= end_) return visit(r);
      if (r.start < hole_ && !visit(Range{r.start, hole_ - r.start})) return false;
      if (r.end() > end_) return visit(Range{end_, r.end() - end_});
      return true;
    });
  }

 protected:
  IoResult do_read(uint64_t address, void* buffer, size_t n, unsigned flags) override {
    if (address + n <= hole_ || address >= end_) return below_.read(address, buffer, n, flags);
    if (address < hole_) {
      IoResult first = below_.read(address, buffer, size_t(hole_ - address), flags);
      if (!first.ok()) return first;
      IoResult rest = do_read(hole_, static_cast<uint8_t*>(buffer) + (hole_ - address), n - size_t(hole_ - address), flags);
      rest.done += size_t(hole_ - address);
      return rest;
    }
    if (flags & kReadPad) {
      const size_t zeros = size_t(std::min<uint64_t>(n, end_ - address));
      std::memset(buffer, 0, zeros);
      if (zeros == n) return IoResult{n, {}};
      IoResult rest = below_.read(end_, static_cast<uint8_t*>(buffer) + zeros, n - zeros, flags);
      rest.done += zeros;
      return rest;
    }
    IoResult result;
    result.fault = Fault{address, "holey", "page missing from the dump"};
    return result;
  }

 private:
  AddressSpace& below_;
  uint64_t hole_, end_;
};

}  // namespace

TEST_CASE("no profile: without VMCOREINFO the kallsyms tables are found by their structure") {
  IsolatedHome home;
  const std::string image = test::fixture("image.raw");
  Session reference(options_for(image, test::fixture_isf_profile()));
  Session session(options_for(image));
  // Erase every copy of VMCOREINFO the kernel keeps in RAM.
  std::vector<uint64_t> texts = vmcoreinfo_texts(session.physical());
  REQUIRE_FALSE(texts.empty());
  for (uint64_t at : texts) overwrite(session, at, "XXXXXXXXXX");
  REQUIRE(vmcoreinfo_texts(session.physical()).empty());

  REQUIRE(session.has_profile());
  const ProfileChoice& choice = *session.profile_choice();
  CHECK(choice.source == "image");
  CHECK_THAT(choice.reason, Catch::Contains("structure search"));
  CHECK_THAT(choice.reason, Catch::Contains("not cached"));
  CHECK_THAT(choice.reason, Catch::Contains("no VMCOREINFO"));
  CHECK(session.kernel().dtb == reference.kernel().dtb);
  CHECK(session.kernel().virtual_shift + session.profile().require_symbol("init_task") ==
        reference.kernel().virtual_shift + reference.profile().require_symbol("init_task"));
  for (const char* name : {"linux.pslist", "linux.lsmod", "linux.psaux"}) {
    INFO(name);
    PluginResult a = run_plugin(*find_plugin(name), reference, {});
    PluginResult b = run_plugin(*find_plugin(name), session, {});
    REQUIRE(a.ok);
    REQUIRE(b.ok);
    CHECK(rendered(a.table) == rendered(b.table));
  }
}

TEST_CASE("no profile: kallsyms tables that cannot be read") {
  IsolatedHome home;
  const std::string image = test::fixture("image.raw");
  Session session(options_for(image));
  FixtureKernel f = fixture_kernel(session);
  const KallsymsTables tables = *kallsyms_tables(*f.kernel.vmcoreinfo);

  SECTION("unmapped in the kernel's page table: found in physical memory instead") {
    // The kernel maps its image with 2 MiB pages: clear the PMD entry that
    // maps the middle of kallsyms_names.
    const uint64_t middle = tables.names + 0x80000;
    uint64_t table = f.kernel.dtb, entry_address = 0;
    for (int level = 4; level >= 2; --level) {
      entry_address = table + ((middle >> (12 + 9 * (level - 1))) & 511) * 8;
      uint64_t entry = session.physical().read_value<uint64_t>(entry_address);
      REQUIRE((entry & 1));
      table = entry & 0x000ffffffffff000ull;
    }
    overwrite(session, entry_address, std::string(8, '\0'));
    REQUIRE(session.has_profile());
    CHECK(session.profile_choice()->source == "image");
    CHECK_THAT(session.profile_choice()->reason, Catch::Contains("cannot be read"));
    CHECK_THAT(session.profile_choice()->reason, Catch::Contains("found by their structure instead"));
    CHECK(session.profile().find_symbol("init_task"));
  }
  SECTION("missing from the dump: a clear error naming the address") {
    const uint64_t names = physical_of(session, f, tables.names);
    const uint64_t hole = (names + 0x40000) & ~uint64_t{0xfff};
    HoleySpace holey(session.physical(), hole, 0x4000);
    ImageKernel in;
    in.physical = &holey;
    in.kernel = &f.kernel;
    in.image = image;
    ImageProfileOptions options;
    options.use_cache = false;
    try {
      recover_image_profile(in, options);
      FAIL("a table with missing pages was used");
    } catch (const ImageProfileUnavailable& e) {
      CHECK_THAT(e.what(), Catch::Contains("its kallsyms tables cannot be read"));
      CHECK_THAT(e.what(), Catch::Contains("kallsyms: symbol "));
      // The first address that could not be read, as the kernel sees it.
      CHECK_THAT(e.what(), Catch::Contains(hex(tables.names + (hole - names))));
    }
  }
}

TEST_CASE("no profile: damaged BTF gives a clear message") {
  IsolatedHome home;
  const std::string image = test::fixture("image.raw");
  Session session(options_for(image));
  FixtureKernel f = fixture_kernel(session);
  const uint64_t start = f.table.find("__start_BTF")->address, stop = f.table.find("__stop_BTF")->address;
  const uint64_t start_physical = physical_of(session, f, start);
  std::string message;
  SECTION("a header that claims more than the section holds") {
    uint32_t lying = 0x7ffffff0;
    overwrite(session, start_physical + 20, std::string(reinterpret_cast<const char*>(&lying), 4));  // str_len
    message = "its header claims";
  }
  SECTION("truncated: the end of the strings overwritten") {
    overwrite(session, physical_of(session, f, stop - 0x1000), std::string(0x1000, 'Z'));
    message = "not NUL-terminated";
  }
  SECTION("no BTF magic at __start_BTF") {
    overwrite(session, start_physical, std::string(2, '\0'));
    message = "no BTF magic";
  }
  try {
    session.profile();
    FAIL("a damaged BTF was used");
  } catch (const ProfileError& e) {
    INFO(e.what());
    CHECK_THAT(e.what(), Catch::Contains("its kernel's BTF is damaged"));
    CHECK_THAT(e.what(), Catch::Contains(message));
    CHECK_THAT(e.what(), Catch::Contains("give -p ISF, -s DIR, or --btf and --system-map"));
  }
}

TEST_CASE("no profile: the error when nothing applies names the folder and what to give") {
  IsolatedHome home;
  // The default symbol folder as a user has it: under $HOME (here an empty
  // temporary one), XDG_DATA_HOME unset, so that the line is what a user
  // reads (~/.local/share/memscope/symbols).
  // (run_cli adds to this process's environment, whose entries come first.)
  const std::string saved_home = std::getenv("HOME") ? std::getenv("HOME") : "";
  ::setenv("HOME", home.data().c_str(), 1);
  ::unsetenv("XDG_DATA_HOME");
  // The sample image: a synthetic kernel with neither kallsyms nor BTF.
  test::CliRun run = test::run_cli({"linux.pslist", "-f", test::sample_image()});
  if (saved_home.empty())
    ::unsetenv("HOME");
  else
    ::setenv("HOME", saved_home.c_str(), 1);
  CHECK(run.status != 0);
  INFO(run.err);
  const std::string line = run.err.substr(0, run.err.find('\n'));
  CHECK(run.err == line + "\n");  // one line
  CHECK_THAT(line, Catch::Contains("no kernel profile"));
  CHECK_THAT(line, Catch::Contains("no ISF in ~/.local/share/memscope/symbols"));
  CHECK_THAT(line, Catch::Contains("-p ISF"));
  CHECK_THAT(line, Catch::Contains("--btf"));
  // At most ~200 characters as the user sees it, "memscope: " included.
  CHECK(line.size() <= 200);
}

// --- A synthetic kernel that describes itself -------------------------------

namespace {

struct SyntheticCase {
  const char* name;
  test::SelfDescriptionOptions options;
};

std::vector<SyntheticCase> synthetic_cases() {
  std::vector<SyntheticCase> out;
  out.push_back({"6.x: VMCOREINFO names the kallsyms tables", {}});
  test::SelfDescriptionOptions newer;
  newer.kallsyms.order = test::KallsymsOrder::kFrom6_4;
  out.push_back({"6.4+ table order", newer});
  test::SelfDescriptionOptions older;
  older.vmcoreinfo_names_kallsyms = false;
  out.push_back({"before 6.0: VMCOREINFO without the kallsyms tables", older});
  test::SelfDescriptionOptions bare;
  bare.vmcoreinfo = false;
  out.push_back({"no VMCOREINFO at all", bare});
  test::SelfDescriptionOptions absolute;
  absolute.kallsyms.base_relative = false;
  out.push_back({"absolute kallsyms addresses", absolute});
  return out;
}

struct SyntheticFiles {
  test::TempDir dir{"self-described"};
  std::string image = dir.file("image.raw");
  std::string profile = dir.file("profile.json");
  test::SelfDescription parts;
};

void write_synthetic(SyntheticFiles& files, const test::SelfDescriptionOptions& options) {
  test::SyntheticLinux image;
  files.parts = test::add_self_description(image, options);
  image.write_raw(files.image);
  image.write_profile(files.profile);
}

}  // namespace

TEST_CASE("no profile: a synthetic kernel with unusual offsets gives its ISF's rows") {
  for (const SyntheticCase& c : synthetic_cases()) {
    INFO(c.name);
    IsolatedHome home;
    SyntheticFiles files;
    write_synthetic(files, c.options);
    Session with_isf(options_for(files.image, files.profile));
    Session without(options_for(files.image));
    std::string error;
    try {
      without.profile();
    } catch (const std::exception& e) {
      error = e.what();
    }
    INFO(error);
    REQUIRE(without.has_profile());
    CHECK(without.profile_choice()->source == "image");
    if (!c.options.vmcoreinfo_names_kallsyms || !c.options.vmcoreinfo)
      CHECK_THAT(without.profile_choice()->reason, Catch::Contains("structure search"));
    same_rows_for_every_plugin(with_isf, without, c.name);
  }
}

TEST_CASE("no profile: a synthetic kernel without BTF is told what is missing and what to give") {
  IsolatedHome home;
  SyntheticFiles files;
  test::SelfDescriptionOptions options;
  options.btf = false;
  write_synthetic(files, options);
  Session without(options_for(files.image));
  try {
    without.profile();
    FAIL("a kernel without BTF gave a profile");
  } catch (const ProfileError& e) {
    CHECK_THAT(e.what(), Catch::Contains("its kernel has no BTF (CONFIG_DEBUG_INFO_BTF)"));
    CHECK_THAT(e.what(), Catch::Contains("--btf FILE gives them"));
  }
  // Its types as a file (what /sys/kernel/btf/vmlinux would give): the
  // symbols still come from its kallsyms.
  test::SyntheticLinux image;
  test::TempFile btf("synthetic-btf");
  btf.write(test::btf_from_isf(image.profile_json()));
  SessionOptions with_btf = options_for(files.image);
  with_btf.btf = btf.path();
  Session session(with_btf);
  REQUIRE(session.has_profile());
  CHECK(session.profile_choice()->source == "btf");
  Session with_isf(options_for(files.image, files.profile));
  for (const char* name : {"linux.pslist", "linux.lsmod"}) {
    INFO(name);
    PluginResult a = run_plugin(*find_plugin(name), with_isf, {});
    PluginResult b = run_plugin(*find_plugin(name), session, {});
    REQUIRE(a.ok);
    REQUIRE(b.ok);
    CHECK(rendered(a.table) == rendered(b.table));
  }
}

TEST_CASE("no profile: a synthetic kernel's BTF shorter than its header says") {
  IsolatedHome home;
  SyntheticFiles files;
  test::SelfDescriptionOptions options;
  options.btf_cut = 100;
  write_synthetic(files, options);
  Session without(options_for(files.image));
  try {
    without.profile();
    FAIL("a truncated BTF gave a profile");
  } catch (const ProfileError& e) {
    CHECK_THAT(e.what(), Catch::Contains("its kernel's BTF is damaged"));
    CHECK_THAT(e.what(), Catch::Contains("its header claims " + std::to_string(files.parts.btf_bytes.size()) + " bytes"));
    CHECK_THAT(e.what(), Catch::Contains("holds " + std::to_string(files.parts.btf_size)));
  }
}
