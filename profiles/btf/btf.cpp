#include "profiles/btf/btf.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/layers/mapped_file.h"

namespace memscope {

namespace {

constexpr uint16_t kBtfMagic = 0xeb9f;
constexpr uint32_t kHeaderSize = 24;  // struct btf_header, version 1
constexpr uint32_t kTypeRecordSize = 12;  // struct btf_type

// Reads little- or big-endian integers from a bounded byte range. Callers
// check bounds first (need()); these only assemble bytes.
struct ByteOrder {
  bool big = false;
  uint32_t u32(const uint8_t* p) const {
    return big ? (uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3])
               : (uint32_t{p[3]} << 24 | uint32_t{p[2]} << 16 | uint32_t{p[1]} << 8 | p[0]);
  }
};

bool is_qualifier(BtfKind kind) {
  return kind == BtfKind::kVolatile || kind == BtfKind::kConst || kind == BtfKind::kRestrict ||
         kind == BtfKind::kTypeTag;
}

}  // namespace

bool btf_is_chain_kind(BtfKind kind) {
  switch (kind) {
    case BtfKind::kPointer:
    case BtfKind::kArray:
    case BtfKind::kTypedef:
    case BtfKind::kVolatile:
    case BtfKind::kConst:
    case BtfKind::kRestrict:
    case BtfKind::kTypeTag:
    case BtfKind::kVariable:
    case BtfKind::kDeclTag:
      return true;
    default:
      return false;
  }
}

const char* btf_kind_name(BtfKind kind) {
  switch (kind) {
    case BtfKind::kVoid: return "void";
    case BtfKind::kInt: return "INT";
    case BtfKind::kPointer: return "PTR";
    case BtfKind::kArray: return "ARRAY";
    case BtfKind::kStruct: return "STRUCT";
    case BtfKind::kUnion: return "UNION";
    case BtfKind::kEnum: return "ENUM";
    case BtfKind::kForward: return "FWD";
    case BtfKind::kTypedef: return "TYPEDEF";
    case BtfKind::kVolatile: return "VOLATILE";
    case BtfKind::kConst: return "CONST";
    case BtfKind::kRestrict: return "RESTRICT";
    case BtfKind::kFunction: return "FUNC";
    case BtfKind::kFunctionProto: return "FUNC_PROTO";
    case BtfKind::kVariable: return "VAR";
    case BtfKind::kDataSection: return "DATASEC";
    case BtfKind::kFloat: return "FLOAT";
    case BtfKind::kDeclTag: return "DECL_TAG";
    case BtfKind::kTypeTag: return "TYPE_TAG";
    case BtfKind::kEnum64: return "ENUM64";
  }
  return "?";
}

void Btf::fail(uint64_t offset, const std::string& what) const {
  throw FormatError(source_ + ": BTF at offset " + hex(offset) + ": " + what);
}

Btf Btf::parse(std::span<const uint8_t> blob, std::string source, uint64_t base_offset) {
  Btf btf;
  btf.source_ = std::move(source);
  btf.decode(blob, base_offset);
  btf.validate_references();
  btf.validate_chains();
  // Raw BTF does not say how wide a pointer is; `long` is as wide on every
  // ABI Linux supports.
  for (const char* long_name : {"long unsigned int", "long int"}) {
    if (uint32_t id = btf.find(BtfKind::kInt, long_name)) {
      btf.pointer_size_ = btf.types_[id].size;
      break;
    }
  }
  return btf;
}

void Btf::decode(std::span<const uint8_t> blob, uint64_t base) {
  const uint8_t* data = blob.data();
  const uint64_t size = blob.size();
  if (size < kHeaderSize)
    fail(base, "too short for a BTF header (" + std::to_string(size) + " bytes)");
  ByteOrder order;
  if (data[0] == 0x9f && data[1] == 0xeb) {
    order.big = false;
  } else if (data[0] == 0xeb && data[1] == 0x9f) {
    order.big = true;
  } else {
    fail(base, "bad magic " + hex(uint64_t{data[0]} | uint64_t{data[1]} << 8) + " (expected " +
                   hex(kBtfMagic) + ")");
  }
  big_endian_ = order.big;
  if (data[2] != 1) fail(base + 2, "unsupported BTF version " + std::to_string(data[2]));
  const uint32_t hdr_len = order.u32(data + 4);
  if (hdr_len < kHeaderSize || hdr_len > size)
    fail(base + 4, "header length " + std::to_string(hdr_len) + " out of range");
  const uint64_t type_off = order.u32(data + 8), type_len = order.u32(data + 12);
  const uint64_t str_off = order.u32(data + 16), str_len = order.u32(data + 20);
  const uint64_t body = size - hdr_len;
  if (type_off > body || type_len > body - type_off)
    fail(base + 8, "type section [" + hex(type_off) + ", +" + hex(type_len) + ") runs past the end (" +
                       hex(body) + " bytes after the header)");
  if (str_off > body || str_len > body - str_off)
    fail(base + 16, "string section [" + hex(str_off) + ", +" + hex(str_len) + ") runs past the end (" +
                        hex(body) + " bytes after the header)");
  if (type_off % 4 != 0) fail(base + 8, "type section offset " + hex(type_off) + " is not 4-byte aligned");
  const uint8_t* strings = data + hdr_len + str_off;
  const uint64_t strings_at = base + hdr_len + str_off;
  if (str_len == 0 || strings[0] != 0) fail(strings_at, "string section does not start with an empty string");
  if (strings[str_len - 1] != 0) fail(strings_at + str_len - 1, "string section is not NUL-terminated");
  // Names are C identifiers, type names with spaces ("long unsigned int")
  // and section names: printable ASCII. Anything else is refused here, once,
  // so that no consumer meets control characters or invalid UTF-8.
  for (uint64_t i = 0; i < str_len; ++i)
    if (strings[i] != 0 && (strings[i] < 0x20 || strings[i] > 0x7e))
      fail(strings_at + i, "string section holds a non-printable byte " + hex(strings[i]));
  strings_.assign(strings, strings + str_len);

  const uint8_t* section = data + hdr_len + type_off;
  const uint64_t section_at = base + hdr_len + type_off;
  uint64_t pos = 0;
  auto need = [&](uint64_t n, uint32_t id, const char* what) {
    if (n > type_len - pos)
      fail(section_at + pos, "type #" + std::to_string(id) + ": " + what + " needs " + std::to_string(n) +
                                 " bytes, " + std::to_string(type_len - pos) + " left in the type section");
  };
  auto name_at = [&](uint32_t name_off, uint32_t id) -> std::string_view {
    if (name_off >= str_len)
      fail(section_at + pos, "type #" + std::to_string(id) + ": name offset " + hex(name_off) +
                                 " is past the string section (" + hex(str_len) + " bytes)");
    return std::string_view(strings_.data() + name_off);  // terminated: last byte is NUL
  };

  // The `vlen` entries of `entry_size` bytes that follow a record (members,
  // enumerators, parameters, section variables), each decoded by `decode`
  // and appended to `list`; `t` records where its entries start.
  auto read_entries = [&](BtfType& t, auto& list, uint32_t vlen, uint64_t entry_size, uint32_t id, const char* what,
                          auto decode) {
    need(uint64_t{vlen} * entry_size, id, what);
    t.item_count = vlen;
    t.first_item = static_cast<uint32_t>(list.size());
    const uint8_t* entries = section + pos;
    for (uint32_t i = 0; i < vlen; ++i) list.push_back(decode(entries + uint64_t{i} * entry_size));
    pos += uint64_t{vlen} * entry_size;
  };

  types_.clear();
  types_.emplace_back();  // id 0: void
  while (pos < type_len) {
    const uint32_t id = static_cast<uint32_t>(types_.size());
    if (types_.size() > std::numeric_limits<int32_t>::max()) fail(section_at + pos, "too many types");
    need(kTypeRecordSize, id, "type record");
    const uint8_t* record = section + pos;
    BtfType t;
    t.file_offset = section_at + pos;
    const uint32_t info = order.u32(record + 4);
    const uint32_t vlen = info & 0xffff;
    const uint32_t kind = (info >> 24) & 0x1f;
    t.kind_flag = (info >> 31) != 0;
    t.name = name_at(order.u32(record), id);
    t.size = order.u32(record + 8);  // also "type" for referring kinds
    if (kind == 0 || kind > static_cast<uint32_t>(BtfKind::kEnum64))
      fail(t.file_offset, "type #" + std::to_string(id) + ": unknown kind " + std::to_string(kind));
    t.kind = static_cast<BtfKind>(kind);
    pos += kTypeRecordSize;
    const uint8_t* extra = section + pos;
    switch (t.kind) {
      case BtfKind::kInt: {
        need(4, id, "INT encoding");
        const uint32_t v = order.u32(extra);
        t.int_encoding = static_cast<uint8_t>((v >> 24) & 0x0f);
        t.int_offset = static_cast<uint8_t>((v >> 16) & 0xff);
        t.int_bits = static_cast<uint8_t>(v & 0xff);
        if (t.size == 0 || t.size > 16 || (t.size & (t.size - 1)) != 0)
          fail(t.file_offset, "type #" + std::to_string(id) + ": INT of " + std::to_string(t.size) + " bytes");
        if (uint32_t{t.int_offset} + t.int_bits > t.size * 8u)
          fail(t.file_offset, "type #" + std::to_string(id) + ": INT bits exceed its size");
        pos += 4;
        break;
      }
      case BtfKind::kPointer:
      case BtfKind::kTypedef:
      case BtfKind::kVolatile:
      case BtfKind::kConst:
      case BtfKind::kRestrict:
      case BtfKind::kTypeTag:
        t.type = t.size;
        t.size = 0;
        break;
      case BtfKind::kFunction:
        t.type = t.size;
        t.size = 0;
        t.linkage = vlen;
        break;
      case BtfKind::kArray:
        need(12, id, "ARRAY info");
        t.type = order.u32(extra);
        t.index_type = order.u32(extra + 4);
        t.count = order.u32(extra + 8);
        t.size = 0;
        pos += 12;
        break;
      case BtfKind::kStruct:
      case BtfKind::kUnion:
        read_entries(t, members_, vlen, 12, id, "member list", [&](const uint8_t* m) {
          BtfMember member;
          member.name = name_at(order.u32(m), id);
          member.type = order.u32(m + 4);
          const uint32_t offset = order.u32(m + 8);
          if (t.kind_flag) {
            member.bit_offset = offset & 0xffffff;
            member.bitfield_size = offset >> 24;
          } else {
            member.bit_offset = offset;
          }
          return member;
        });
        break;
      case BtfKind::kEnum:
        read_entries(t, enumerators_, vlen, 8, id, "enumerator list", [&](const uint8_t* e) {
          const uint32_t raw = order.u32(e + 4);
          // kind_flag: signed values, kept as their 64-bit two's complement.
          return BtfEnumerator{name_at(order.u32(e), id),
                               t.kind_flag ? static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(raw))) : raw};
        });
        break;
      case BtfKind::kEnum64:
        read_entries(t, enumerators_, vlen, 12, id, "enumerator list", [&](const uint8_t* e) {
          return BtfEnumerator{name_at(order.u32(e), id), uint64_t{order.u32(e + 4)} | uint64_t{order.u32(e + 8)} << 32};
        });
        break;
      case BtfKind::kForward:
        t.size = 0;
        break;
      case BtfKind::kFunctionProto:
        t.type = t.size;
        t.size = 0;
        read_entries(t, params_, vlen, 8, id, "parameter list", [&](const uint8_t* p) {
          return BtfParam{name_at(order.u32(p), id), order.u32(p + 4)};
        });
        break;
      case BtfKind::kVariable:
        need(4, id, "VAR linkage");
        t.type = t.size;
        t.size = 0;
        t.linkage = order.u32(extra);
        pos += 4;
        break;
      case BtfKind::kDataSection:
        read_entries(t, section_vars_, vlen, 12, id, "section variable list", [&](const uint8_t* v) {
          return BtfSectionVar{order.u32(v), order.u32(v + 4), order.u32(v + 8)};
        });
        break;
      case BtfKind::kFloat:
        if (t.size == 0 || t.size > 16)
          fail(t.file_offset, "type #" + std::to_string(id) + ": FLOAT of " + std::to_string(t.size) + " bytes");
        break;
      case BtfKind::kDeclTag:
        need(4, id, "DECL_TAG component index");
        t.type = t.size;
        t.size = 0;
        t.component_index = static_cast<int32_t>(order.u32(extra));
        pos += 4;
        break;
      case BtfKind::kVoid:
        break;  // excluded above
    }
    types_.push_back(t);
  }
}

void Btf::validate_references() const {
  const uint32_t count = type_count();
  auto check = [&](const BtfType& t, uint32_t ref, const char* role) {
    if (ref >= count)
      fail(t.file_offset, std::string(btf_kind_name(t.kind)) + " '" + std::string(t.name) + "': " + role +
                              " refers to type #" + std::to_string(ref) + ", but there are only " +
                              std::to_string(count) + " types");
  };
  for (uint32_t id = 1; id < count; ++id) {
    const BtfType& t = types_[id];
    switch (t.kind) {
      case BtfKind::kArray:
        check(t, t.type, "element type");
        check(t, t.index_type, "index type");
        break;
      case BtfKind::kStruct:
      case BtfKind::kUnion:
        for (const BtfMember& m : members(t)) check(t, m.type, "a member");
        break;
      case BtfKind::kFunctionProto:
        check(t, t.type, "return type");
        for (const BtfParam& p : params(t)) check(t, p.type, "a parameter");
        break;
      case BtfKind::kDataSection:
        for (const BtfSectionVar& v : section_vars(t)) {
          check(t, v.type, "a variable");
          if (types_[v.type].kind != BtfKind::kVariable && types_[v.type].kind != BtfKind::kFunction)
            fail(t.file_offset, "DATASEC '" + std::string(t.name) + "' lists type #" + std::to_string(v.type) +
                                    ", a " + btf_kind_name(types_[v.type].kind) + ", not a variable");
        }
        break;
      case BtfKind::kPointer:
      case BtfKind::kTypedef:
      case BtfKind::kVolatile:
      case BtfKind::kConst:
      case BtfKind::kRestrict:
      case BtfKind::kTypeTag:
      case BtfKind::kFunction:
      case BtfKind::kVariable:
      case BtfKind::kDeclTag:
        check(t, t.type, "the referenced type");
        break;
      default:
        break;
    }
  }
}

// Every chain of single references (pointer -> typedef -> const -> ...)
// must end, and within kMaxChainDepth steps, so that consumers can follow it
// recursively. The references form a functional graph, so one walk per
// unvisited node with memoised depths is linear overall.
void Btf::validate_chains() const {
  const uint32_t count = type_count();
  std::vector<uint8_t> state(count, 0);  // 0 unvisited, 1 on the current walk, 2 done
  std::vector<uint16_t> depth(count, 0);
  std::vector<uint32_t> path;
  for (uint32_t start = 1; start < count; ++start) {
    if (state[start] != 0 || !btf_is_chain_kind(types_[start].kind)) continue;
    path.clear();
    uint32_t cur = start;
    while (btf_is_chain_kind(types_[cur].kind) && state[cur] == 0) {
      state[cur] = 1;
      path.push_back(cur);
      cur = types_[cur].type;
    }
    if (btf_is_chain_kind(types_[cur].kind) && state[cur] == 1)
      fail(types_[cur].file_offset, std::string(btf_kind_name(types_[cur].kind)) + " #" + std::to_string(cur) +
                                        " '" + std::string(types_[cur].name) +
                                        "': its chain of references loops back to itself");
    uint32_t d = btf_is_chain_kind(types_[cur].kind) ? depth[cur] : 0;
    for (auto it = path.rbegin(); it != path.rend(); ++it) {
      ++d;
      if (d > kMaxChainDepth)
        fail(types_[*it].file_offset, "type #" + std::to_string(*it) + ": chain of references deeper than " +
                                          std::to_string(kMaxChainDepth));
      depth[*it] = static_cast<uint16_t>(d);
      state[*it] = 2;
    }
  }
}

const BtfType& Btf::type(uint32_t id) const {
  if (id >= types_.size())
    throw FormatError(source_ + ": no BTF type #" + std::to_string(id) + " (there are " +
                      std::to_string(types_.size()) + ")");
  return types_[id];
}

std::span<const BtfMember> Btf::members(const BtfType& t) const {
  if (t.kind != BtfKind::kStruct && t.kind != BtfKind::kUnion) return {};
  return std::span<const BtfMember>(members_).subspan(t.first_item, t.item_count);
}

std::span<const BtfEnumerator> Btf::enumerators(const BtfType& t) const {
  if (t.kind != BtfKind::kEnum && t.kind != BtfKind::kEnum64) return {};
  return std::span<const BtfEnumerator>(enumerators_).subspan(t.first_item, t.item_count);
}

std::span<const BtfParam> Btf::params(const BtfType& t) const {
  if (t.kind != BtfKind::kFunctionProto) return {};
  return std::span<const BtfParam>(params_).subspan(t.first_item, t.item_count);
}

std::span<const BtfSectionVar> Btf::section_vars(const BtfType& t) const {
  if (t.kind != BtfKind::kDataSection) return {};
  return std::span<const BtfSectionVar>(section_vars_).subspan(t.first_item, t.item_count);
}

uint32_t Btf::strip_typedefs(uint32_t id) const {
  // Chains are proved finite and shallow at parse time; the bound is belt and braces.
  for (unsigned steps = 0; steps <= kMaxChainDepth && id < types_.size(); ++steps) {
    const BtfType& t = types_[id];
    if (t.kind != BtfKind::kTypedef && !is_qualifier(t.kind)) return id;
    id = t.type;
  }
  return 0;
}

uint32_t Btf::strip_qualifiers(uint32_t id) const {
  for (unsigned steps = 0; steps <= kMaxChainDepth && id < types_.size(); ++steps) {
    const BtfType& t = types_[id];
    if (!is_qualifier(t.kind)) return id;
    id = t.type;
  }
  return 0;
}

uint32_t Btf::find(BtfKind kind, std::string_view name) const {
  for (uint32_t id = 1; id < types_.size(); ++id)
    if (types_[id].kind == kind && types_[id].name == name) return id;
  return 0;
}

namespace {

// The `.BTF` section of an ELF file: its file offset and size, and the
// pointer width from the ELF class. libelf reads the headers through its own
// read-only mapping of a descriptor we open read-only.
struct ElfBtfSection {
  uint64_t offset = 0, size = 0;
  uint32_t pointer_size = 8;
};

ElfBtfSection find_elf_btf_section(const std::string& path, uint64_t file_size) {
  if (elf_version(EV_CURRENT) == EV_NONE) throw Error("libelf: " + std::string(elf_errmsg(-1)));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  auto cleanup = [&] {
    if (elf) elf_end(elf);
    ::close(fd);
  };
  try {
    if (!elf || elf_kind(elf) != ELF_K_ELF)
      throw FormatError(path + ": not a readable ELF file: " + elf_errmsg(-1));
    ElfBtfSection result;
    int elf_class = gelf_getclass(elf);
    result.pointer_size = elf_class == ELFCLASS32 ? 4 : 8;
    size_t names_index = 0;
    if (elf_getshdrstrndx(elf, &names_index) != 0)
      throw FormatError(path + ": ELF section names unreadable: " + elf_errmsg(-1));
    bool found = false;
    for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
      GElf_Shdr header;
      if (!gelf_getshdr(scn, &header)) continue;
      const char* name = elf_strptr(elf, names_index, header.sh_name);
      if (!name || std::strcmp(name, ".BTF") != 0) continue;
      if (header.sh_type == SHT_NOBITS)
        throw FormatError(path + ": the .BTF section has no bytes in the file (SHT_NOBITS)");
      if (header.sh_flags & SHF_COMPRESSED)
        throw FormatError(path + ": the .BTF section is compressed; decompress vmlinux first (objcopy --decompress-debug-sections)");
      if (header.sh_offset > file_size || header.sh_size > file_size - header.sh_offset)
        throw FormatError(path + ": the .BTF section [" + hex(header.sh_offset) + ", +" + hex(header.sh_size) +
                          ") runs past the end of the file (" + hex(file_size) + " bytes)");
      result.offset = header.sh_offset;
      result.size = header.sh_size;
      found = true;
      break;
    }
    if (!found)
      throw FormatError(path + ": ELF file has no .BTF section (kernel built without CONFIG_DEBUG_INFO_BTF?)");
    cleanup();
    return result;
  } catch (...) {
    cleanup();
    throw;
  }
}

}  // namespace

Btf Btf::load(const std::string& path) {
  MappedFile file(path);
  const uint8_t* data = file.data();
  if (file.size() >= 4 && std::memcmp(data, "\x7f" "ELF", 4) == 0) {
    ElfBtfSection section = find_elf_btf_section(path, file.size());
    Btf btf = parse(std::span<const uint8_t>(data + section.offset, section.size), path, section.offset);
    btf.pointer_size_ = section.pointer_size;
    return btf;
  }
  if (file.size() >= 2 && ((data[0] == 0x9f && data[1] == 0xeb) || (data[0] == 0xeb && data[1] == 0x9f)))
    return parse(std::span<const uint8_t>(data, file.size()), path, 0);
  throw FormatError(path + ": neither raw BTF (magic 0xeb9f) nor an ELF file with a .BTF section");
}

}  // namespace memscope
