#include "profiles/cache/profile_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/layers/mapped_file.h"
#include "core/util/user_cache_dir.h"

namespace memscope {

// The format stores records as the host lays them out; only little-endian
// hosts are supported (the same as the images memscope reads).
static_assert(std::endian::native == std::endian::little, "the profile cache assumes a little-endian host");

namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'M', 'S', 'P', 'R', 'O', 'F', '\r', '\n'};
// Bump whenever the layout below or the meaning of a field changes.
constexpr uint32_t kCodecVersion = 1;
constexpr uint64_t kKeyHashBytes = 64 * 1024;

enum SectionId : uint32_t {
  kKeySection = 1,
  kMetaSection,
  kStringsSection,
  kTypesSection,
  kMembersSection,
  kLookupSection,
  kEnumeratorsSection,
  kSymbolsSection,
  kNamedSection,
  kSectionCount = kNamedSection,
};

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t section_count;
  uint64_t file_size;
  uint64_t identity_checksum;  // of the key and meta sections (read alone by cached_banner)
  uint64_t payload_checksum;   // of everything after the section table
};
static_assert(sizeof(Header) == 40);

struct Section {
  uint32_t id;
  uint32_t record_size;
  uint64_t offset;
  uint64_t size;
};
static_assert(sizeof(Section) == 24);

struct DiskType {
  uint8_t kind, base, flags, bit_position;
  uint8_t bit_length, reserved[3];
  uint32_t name_offset, name_length;
  uint32_t target;
  uint32_t members_begin, members_end, lookup_begin, lookup_end, enumerators_begin, enumerators_end;
  uint32_t reserved2;
  uint64_t size, count;
};
static_assert(sizeof(DiskType) == 64);
constexpr uint8_t kFlagSigned = 1, kFlagDefined = 2;

struct DiskMember {
  uint32_t name_offset, name_length;
  uint64_t offset;
  uint32_t type;
  uint32_t anonymous;
};
static_assert(sizeof(DiskMember) == 24);

struct DiskEnumerator {
  uint32_t name_offset, name_length;
  int64_t value;
};
static_assert(sizeof(DiskEnumerator) == 16);

struct DiskSymbol {
  uint32_t name_offset, name_length;
  uint64_t address;
  uint32_t type;
  uint32_t reserved;
};
static_assert(sizeof(DiskSymbol) == 24);

constexpr size_t kSectionTableOffset = sizeof(Header);
constexpr size_t kPayloadOffset = kSectionTableOffset + kSectionCount * sizeof(Section);

uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

class Writer {
 public:
  void raw(const void* data, size_t n) { out.append(static_cast<const char*>(data), n); }
  template <typename T>
  void value(const T& v) {
    raw(&v, sizeof v);
  }
  void text(std::string_view s) {
    value(uint32_t(s.size()));
    raw(s.data(), s.size());
  }
  std::string out;
};

// Reads inside one section; any read past its end marks it bad.
class Reader {
 public:
  Reader(std::string_view bytes) : bytes_(bytes) {}
  bool ok() const { return ok_; }
  template <typename T>
  T value() {
    T v{};
    if (bytes_.size() - at_ < sizeof v) {
      ok_ = false;
      return v;
    }
    std::memcpy(&v, bytes_.data() + at_, sizeof v);
    at_ += sizeof v;
    return v;
  }
  std::string text() {
    uint32_t n = value<uint32_t>();
    if (!ok_ || bytes_.size() - at_ < n) {
      ok_ = false;
      return {};
    }
    std::string s(bytes_.substr(at_, n));
    at_ += n;
    return s;
  }
  std::string_view rest() const { return bytes_.substr(at_); }

 private:
  std::string_view bytes_;
  size_t at_ = 0;
  bool ok_ = true;
};

void write_key(Writer& w, const SourceKey& key) {
  w.value(key.size);
  w.value(key.mtime_ns);
  w.value(key.content_hash);
  w.text(key.path);
}

bool read_key(std::string_view bytes, SourceKey& key) {
  Reader r(bytes);
  key.size = r.value<uint64_t>();
  key.mtime_ns = r.value<int64_t>();
  key.content_hash = r.value<uint64_t>();
  key.path = r.text();
  return r.ok() && r.rest().empty();
}

// The parts of an entry, located and checked against the file size.
struct Layout {
  Section sections[kSectionCount + 1] = {};
  std::string_view section(uint32_t id, std::string_view file) const {
    return file.substr(sections[id].offset, sections[id].size);
  }
};

bool locate(std::string_view file, Layout& layout, std::string& why) {
  if (file.size() < kPayloadOffset) return why = "entry shorter than its header", false;
  Header header;
  std::memcpy(&header, file.data(), sizeof header);
  if (std::memcmp(header.magic, kMagic, sizeof kMagic) != 0) return why = "not a profile cache entry", false;
  if (header.version != kCodecVersion)
    return why = "entry has codec version " + std::to_string(header.version), false;
  if (header.section_count != kSectionCount || header.file_size != file.size())
    return why = "entry truncated or padded", false;
  for (uint32_t i = 0; i < kSectionCount; ++i) {
    Section s;
    std::memcpy(&s, file.data() + kSectionTableOffset + i * sizeof(Section), sizeof s);
    if (s.id != i + 1 || s.id > kSectionCount) return why = "bad section table", false;
    if (s.offset < kPayloadOffset || s.offset > file.size() || s.size > file.size() - s.offset)
      return why = "section " + std::to_string(s.id) + " lies outside the entry", false;
    if (s.record_size && s.size % s.record_size) return why = "section " + std::to_string(s.id) + " is ragged", false;
    layout.sections[s.id] = s;
  }
  std::string_view key = layout.section(kKeySection, file);
  std::string_view meta = layout.section(kMetaSection, file);
  uint64_t identity = hash_bytes(meta.data(), meta.size(), hash_bytes(key.data(), key.size()));
  if (identity != header.identity_checksum) return why = "identity checksum mismatch", false;
  return true;
}

bool verify_payload(std::string_view file, std::string& why) {
  Header header;
  std::memcpy(&header, file.data(), sizeof header);
  if (hash_bytes(file.data() + kPayloadOffset, file.size() - kPayloadOffset) != header.payload_checksum)
    return why = "payload checksum mismatch", false;
  return true;
}

template <typename Disk>
bool records(std::string_view bytes, std::vector<Disk>& out) {
  if (bytes.size() % sizeof(Disk)) return false;
  out.resize(bytes.size() / sizeof(Disk));
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
  return true;
}

}  // namespace

uint64_t hash_bytes(const void* data, size_t n, uint64_t seed) {
  // A word-at-a-time multiply-rotate hash: fast enough to check 20 MB in a
  // few milliseconds, good enough to notice any corruption.
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = seed ^ (0x9e3779b97f4a7c15ull * (n + 1));
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    h = rotl(h ^ (word * 0xbf58476d1ce4e5b9ull), 29) * 0x94d049bb133111ebull;
  }
  uint64_t tail = 0;
  for (size_t j = 0; i + j < n; ++j) tail |= uint64_t(p[i + j]) << (8 * j);
  h = rotl(h ^ (tail * 0xbf58476d1ce4e5b9ull), 29) * 0x94d049bb133111ebull;
  h ^= h >> 31;
  h *= 0xd6e8feb86659fd93ull;
  return h ^ (h >> 32);
}

std::string default_cache_dir() { return user_cache_dir("profiles").value_or(""); }

SourceKey source_key(const std::string& path) {
  MappedFile file(path);
  SourceKey key;
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  key.path = ec ? path : absolute.lexically_normal().string();
  key.size = file.size();
  key.mtime_ns = file.mtime_ns();
  uint64_t head = std::min(file.size(), kKeyHashBytes);
  uint64_t tail_start = file.size() - std::min(file.size(), kKeyHashBytes);
  key.content_hash = hash_bytes(file.data() + tail_start, file.size() - tail_start, hash_bytes(file.data(), head));
  return key;
}

// Knows the Profile's private tables (friend of Profile).
class ProfileCodec {
 public:
  static std::string encode(const Profile& p, const SourceKey& key) {
    auto offset_of = [&](std::string_view name) -> uint32_t {
      if (name.empty()) return 0;
      const char* base = p.strings_.data();
      if (name.data() < base || name.data() + name.size() > base + p.strings_.size())
        throw Error("profile cache: a name lies outside the string pool");
      return uint32_t(name.data() - base);
    };
    std::string sections[kSectionCount + 1];
    {
      Writer w;
      write_key(w, key);
      sections[kKeySection] = std::move(w.out);
    }
    {
      Writer w;
      const ProfileMetadata& m = p.metadata_;
      for (const std::string* s : {&m.source_path, &m.banner, &m.os, &m.producer_name, &m.producer_version,
                                   &m.format_version})
        w.text(*s);
      w.value(p.pointer_size_);
      sections[kMetaSection] = std::move(w.out);
    }
    sections[kStringsSection] = p.strings_;
    {
      Writer w;
      for (const TypeInfo& t : p.types_) {
        DiskType d{};
        d.kind = uint8_t(t.kind);
        d.base = uint8_t(t.base);
        d.flags = (t.is_signed ? kFlagSigned : 0) | (t.defined ? kFlagDefined : 0);
        d.bit_position = t.bit_position;
        d.bit_length = t.bit_length;
        d.name_offset = offset_of(t.name);
        d.name_length = uint32_t(t.name.size());
        d.target = t.target.id;
        d.members_begin = t.members_begin;
        d.members_end = t.members_end;
        d.lookup_begin = t.lookup_begin;
        d.lookup_end = t.lookup_end;
        d.enumerators_begin = t.enumerators_begin;
        d.enumerators_end = t.enumerators_end;
        d.size = t.size;
        d.count = t.count;
        w.value(d);
      }
      sections[kTypesSection] = std::move(w.out);
    }
    for (auto [id, table] : {std::pair{kMembersSection, &p.members_}, std::pair{kLookupSection, &p.lookup_}}) {
      Writer w;
      for (const MemberInfo& m : *table)
        w.value(DiskMember{offset_of(m.name), uint32_t(m.name.size()), m.offset, m.type.id, m.anonymous ? 1u : 0u});
      sections[id] = std::move(w.out);
    }
    {
      Writer w;
      for (const EnumeratorInfo& e : p.enumerators_)
        w.value(DiskEnumerator{offset_of(e.name), uint32_t(e.name.size()), e.value});
      sections[kEnumeratorsSection] = std::move(w.out);
    }
    {
      Writer w;
      for (const SymbolInfo& s : p.symbols_)
        w.value(DiskSymbol{offset_of(s.name), uint32_t(s.name.size()), s.address, s.type.id, 0});
      sections[kSymbolsSection] = std::move(w.out);
    }
    {
      Writer w;
      for (TypeRef ref : p.named_types_) w.value(ref.id);
      sections[kNamedSection] = std::move(w.out);
    }
    const uint32_t record_sizes[kSectionCount + 1] = {0, 0, 0, 0, sizeof(DiskType), sizeof(DiskMember),
                                                      sizeof(DiskMember), sizeof(DiskEnumerator),
                                                      sizeof(DiskSymbol), sizeof(uint32_t)};

    Writer table;
    uint64_t offset = kPayloadOffset;
    for (uint32_t id = 1; id <= kSectionCount; ++id) {
      // Keep every section 8-byte aligned.
      offset = (offset + 7) & ~uint64_t(7);
      table.value(Section{id, record_sizes[id], offset, sections[id].size()});
      offset += sections[id].size();
    }
    std::string file(kPayloadOffset, '\0');
    std::memcpy(file.data() + kSectionTableOffset, table.out.data(), table.out.size());
    for (uint32_t id = 1; id <= kSectionCount; ++id) {
      file.resize((file.size() + 7) & ~size_t(7), '\0');
      file += sections[id];
    }
    Header header{};
    std::memcpy(header.magic, kMagic, sizeof kMagic);
    header.version = kCodecVersion;
    header.section_count = kSectionCount;
    header.file_size = file.size();
    header.identity_checksum =
        hash_bytes(sections[kMetaSection].data(), sections[kMetaSection].size(),
                   hash_bytes(sections[kKeySection].data(), sections[kKeySection].size()));
    header.payload_checksum = hash_bytes(file.data() + kPayloadOffset, file.size() - kPayloadOffset);
    std::memcpy(file.data(), &header, sizeof header);
    return file;
  }

  static std::shared_ptr<const Profile> decode(std::string_view file, const SourceKey& key, std::string& why) {
    Layout layout;
    if (!locate(file, layout, why)) return nullptr;
    SourceKey stored;
    if (!read_key(layout.section(kKeySection, file), stored)) return why = "unreadable key", nullptr;
    if (!(stored == key)) return why = "entry is for another version of the file", nullptr;
    if (!verify_payload(file, why)) return nullptr;

    std::shared_ptr<Profile> profile(new Profile());
    Profile& p = *profile;
    {
      Reader r(layout.section(kMetaSection, file));
      ProfileMetadata& m = p.metadata_;
      for (std::string* s : {&m.source_path, &m.banner, &m.os, &m.producer_name, &m.producer_version,
                             &m.format_version})
        *s = r.text();
      p.pointer_size_ = r.value<uint64_t>();
      if (!r.ok() || !r.rest().empty() || p.pointer_size_ == 0 || p.pointer_size_ > 8)
        return why = "bad metadata section", nullptr;
    }
    p.strings_ = std::string(layout.section(kStringsSection, file));
    const std::string& pool = p.strings_;
    bool names_ok = true;
    auto name = [&](uint32_t offset, uint32_t length) -> std::string_view {
      if (uint64_t(offset) + length > pool.size()) {
        names_ok = false;
        return {};
      }
      return std::string_view(pool.data() + offset, length);
    };

    std::vector<DiskType> types;
    std::vector<DiskMember> members, lookup;
    std::vector<DiskEnumerator> enumerators;
    std::vector<DiskSymbol> symbols;
    std::vector<uint32_t> named;
    if (!records(layout.section(kTypesSection, file), types) ||
        !records(layout.section(kMembersSection, file), members) ||
        !records(layout.section(kLookupSection, file), lookup) ||
        !records(layout.section(kEnumeratorsSection, file), enumerators) ||
        !records(layout.section(kSymbolsSection, file), symbols) ||
        !records(layout.section(kNamedSection, file), named))
      return why = "ragged table", nullptr;

    const uint64_t type_count = types.size();
    auto ref_ok = [&](uint32_t id, bool optional) { return id < type_count || (optional && id == TypeRef::kNone); };
    auto range_ok = [](uint32_t begin, uint32_t end, size_t size) { return begin <= end && end <= size; };

    p.types_.resize(types.size());
    for (size_t i = 0; i < types.size(); ++i) {
      const DiskType& d = types[i];
      TypeInfo& t = p.types_[i];
      if (d.kind > uint8_t(TypeKind::kBitfield) || d.base > uint8_t(BaseKind::kVoid))
        return why = "bad type kind", nullptr;
      t.id = TypeRef(uint32_t(i));
      t.kind = TypeKind(d.kind);
      t.base = BaseKind(d.base);
      t.is_signed = d.flags & kFlagSigned;
      t.defined = d.flags & kFlagDefined;
      t.bit_position = d.bit_position;
      t.bit_length = d.bit_length;
      t.name = name(d.name_offset, d.name_length);
      t.size = d.size;
      t.count = d.count;
      t.target = TypeRef(d.target);
      t.members_begin = d.members_begin;
      t.members_end = d.members_end;
      t.lookup_begin = d.lookup_begin;
      t.lookup_end = d.lookup_end;
      t.enumerators_begin = d.enumerators_begin;
      t.enumerators_end = d.enumerators_end;
      bool needs_target = t.kind == TypeKind::kPointer || t.kind == TypeKind::kArray || t.kind == TypeKind::kBitfield;
      if (!ref_ok(d.target, !needs_target) || !range_ok(d.members_begin, d.members_end, members.size()) ||
          !range_ok(d.lookup_begin, d.lookup_end, lookup.size()) ||
          !range_ok(d.enumerators_begin, d.enumerators_end, enumerators.size()) ||
          (t.kind == TypeKind::kBitfield && (t.bit_length == 0 || t.bit_length > 64 || t.bit_position > 127)))
        return why = "inconsistent type " + std::to_string(i), nullptr;
    }
    auto convert_members = [&](const std::vector<DiskMember>& in, std::vector<MemberInfo>& out) {
      out.resize(in.size());
      for (size_t i = 0; i < in.size(); ++i) {
        if (!ref_ok(in[i].type, false)) return false;
        out[i] = MemberInfo{name(in[i].name_offset, in[i].name_length), in[i].offset, TypeRef(in[i].type),
                            in[i].anonymous != 0};
      }
      return true;
    };
    if (!convert_members(members, p.members_) || !convert_members(lookup, p.lookup_))
      return why = "member of an unknown type", nullptr;
    p.enumerators_.resize(enumerators.size());
    for (size_t i = 0; i < enumerators.size(); ++i)
      p.enumerators_[i] = EnumeratorInfo{name(enumerators[i].name_offset, enumerators[i].name_length),
                                         enumerators[i].value};
    p.symbols_.resize(symbols.size());
    for (size_t i = 0; i < symbols.size(); ++i) {
      if (!ref_ok(symbols[i].type, true)) return why = "symbol of an unknown type", nullptr;
      p.symbols_[i] = SymbolInfo{name(symbols[i].name_offset, symbols[i].name_length), symbols[i].address,
                                 TypeRef(symbols[i].type)};
    }
    p.named_types_.resize(named.size());
    for (size_t i = 0; i < named.size(); ++i) {
      if (!ref_ok(named[i], false)) return why = "named index of an unknown type", nullptr;
      p.named_types_[i] = TypeRef(named[i]);
    }
    if (!names_ok) return why = "a name lies outside the string pool", nullptr;

    // Lookups binary-search these tables: they must be sorted.
    for (size_t i = 1; i < p.symbols_.size(); ++i)
      if (!(p.symbols_[i - 1].name < p.symbols_[i].name)) return why = "symbols out of order", nullptr;
    for (size_t i = 1; i < p.named_types_.size(); ++i)
      if (p.types_[p.named_types_[i].id].name < p.types_[p.named_types_[i - 1].id].name)
        return why = "type index out of order", nullptr;
    for (const TypeInfo& t : p.types_)
      for (uint32_t i = t.lookup_begin + 1; i < t.lookup_end; ++i)
        if (!(p.lookup_[i - 1].name < p.lookup_[i].name)) return why = "member index out of order", nullptr;
    return profile;
  }
};

std::string encode_profile(const Profile& profile, const SourceKey& key) { return ProfileCodec::encode(profile, key); }

std::shared_ptr<const Profile> decode_profile(std::string_view bytes, const SourceKey& key, std::string* why) {
  std::string reason;
  auto profile = ProfileCodec::decode(bytes, key, reason);
  if (why) *why = reason;
  return profile;
}

ProfileCache::ProfileCache(std::string dir) : dir_(std::move(dir)) {}

std::string ProfileCache::entry_path(const SourceKey& key) const {
  // One entry per source path: a new version of the file replaces the old.
  std::string name = hex_address(hash_bytes(key.path.data(), key.path.size())).substr(2);
  return (fs::path(dir_) / (name + ".msprof")).string();
}

std::shared_ptr<const Profile> ProfileCache::load(const SourceKey& key, std::string* why) const {
  std::string reason;
  std::shared_ptr<const Profile> profile;
  std::string path = entry_path(key);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    reason = "no entry";
  } else {
    try {
      MappedFile entry(path);
      profile = ProfileCodec::decode(entry.bytes(0, entry.size()), key, reason);
    } catch (const Error& e) {
      reason = e.what();
    }
  }
  if (why) *why = reason;
  return profile;
}

std::optional<std::string> ProfileCache::cached_banner(const SourceKey& key) const {
  std::string path = entry_path(key);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  try {
    MappedFile entry(path);
    std::string_view file = entry.bytes(0, entry.size());
    Layout layout;
    std::string why;
    SourceKey stored;
    if (!locate(file, layout, why) || !read_key(layout.section(kKeySection, file), stored) || !(stored == key))
      return std::nullopt;
    Reader r(layout.section(kMetaSection, file));
    r.text();  // source path
    std::string banner = r.text();
    if (!r.ok()) return std::nullopt;
    return banner;
  } catch (const Error&) {
    return std::nullopt;
  }
}

bool ProfileCache::store(const SourceKey& key, const Profile& profile, std::string* why) const {
  auto failed = [&](const std::string& reason) {
    if (why) *why = reason;
    return false;
  };
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return failed("cannot create " + dir_ + ": " + ec.message());
  std::string bytes;
  try {
    bytes = encode_profile(profile, key);
  } catch (const Error& e) {
    return failed(e.what());
  }
  std::string target = entry_path(key);
  std::string temp = target + ".XXXXXX";
  int fd = ::mkstemp(temp.data());
  if (fd < 0) return failed("cannot create a file in " + dir_ + ": " + std::strerror(errno));
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += size_t(n);
  }
  bool ok = written == bytes.size();
  std::string error = ok ? "" : std::strerror(errno);
  if (::close(fd) != 0 && ok) {
    ok = false;
    error = std::strerror(errno);
  }
  if (ok && ::rename(temp.c_str(), target.c_str()) != 0) {
    ok = false;
    error = std::strerror(errno);
  }
  if (!ok) {
    ::unlink(temp.c_str());
    return failed("cannot write " + target + ": " + error);
  }
  prune(kMaxEntries, target);
  return true;
}

size_t ProfileCache::prune(size_t max_entries, const std::string& keep) const {
  struct Entry {
    fs::path path;
    fs::file_time_type written;
  };
  std::vector<Entry> entries;
  size_t removed = 0;
  auto remove = [&](const fs::path& path) {
    std::error_code ec;
    if (fs::remove(path, ec)) ++removed;
  };
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  size_t visited = 0;
  for (auto it = fs::directory_iterator(dir_, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (++visited > 100000) break;  // bounded, whatever else lives there
    std::error_code entry_ec;
    if (!it->is_regular_file(entry_ec)) continue;
    std::string name = it->path().filename().string();
    fs::file_time_type written = it->last_write_time(entry_ec);
    if (entry_ec) continue;
    // "<hash>.msprof.XXXXXX": a write that died; give live writers an hour.
    if (name.find(".msprof.") != std::string::npos) {
      if (now - written > std::chrono::hours(1)) remove(it->path());
      continue;
    }
    if (!name.ends_with(".msprof") || it->path().string() == keep) continue;
    bool source_exists = false;
    try {
      MappedFile entry(it->path().string());
      std::string_view file = entry.bytes(0, entry.size());
      Layout layout;
      std::string why;
      SourceKey stored;
      if (locate(file, layout, why) && read_key(layout.section(kKeySection, file), stored))
        source_exists = fs::is_regular_file(stored.path, entry_ec);
    } catch (const Error&) {
    }
    if (!source_exists) {
      remove(it->path());
      continue;
    }
    entries.push_back(Entry{it->path(), written});
  }
  // The kept entry counts against the limit.
  size_t room = keep.empty() ? max_entries : (max_entries > 0 ? max_entries - 1 : 0);
  if (entries.size() > room) {
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.written > b.written; });
    for (size_t i = room; i < entries.size(); ++i) remove(entries[i].path);
  }
  return removed;
}

}  // namespace memscope
