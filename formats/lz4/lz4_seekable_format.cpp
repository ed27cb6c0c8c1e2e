#include "formats/lz4/lz4_seekable_format.h"

#include <zlib.h>

#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope::lz4s {

bool valid_chunk_size(uint64_t size) {
  return size >= kMinChunkSize && size <= kMaxChunkSize && (size & (size - 1)) == 0;
}

uint32_t crc32(const uint8_t* data, size_t n) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths: feed large buffers in pieces.
  while (n > 0) {
    uInt take = n > (1u << 30) ? (1u << 30) : static_cast<uInt>(n);
    crc = ::crc32(crc, data, take);
    data += take;
    n -= take;
  }
  return static_cast<uint32_t>(crc);
}

namespace {

nlohmann::json notes_to_json(const ImageNotes& notes) {
  nlohmann::json j = nlohmann::json::object();
  if (!notes.vmcoreinfo.empty()) j["vmcoreinfo"] = notes.vmcoreinfo;
  if (!notes.cpus.empty()) {
    nlohmann::json cpus = nlohmann::json::array();
    for (const CpuState& cpu : notes.cpus) {
      nlohmann::json c = {{"index", cpu.index}};
      if (cpu.cr0) c["cr0"] = hex(*cpu.cr0);
      if (cpu.cr3) c["cr3"] = hex(*cpu.cr3);
      if (cpu.cr4) c["cr4"] = hex(*cpu.cr4);
      cpus.push_back(std::move(c));
    }
    j["cpus"] = std::move(cpus);
  }
  return j;
}

std::optional<uint64_t> register_from_json(const nlohmann::json& cpu, const char* name, const std::string& where) {
  if (!cpu.contains(name)) return std::nullopt;
  const auto& v = cpu[name];
  if (!v.is_string()) throw FormatError(where + ": metadata notes: cpu " + name + " is not a hex string");
  return parse_u64(v.get<std::string>(), where + ": metadata notes: cpu " + name);
}

ImageNotes notes_from_json(const nlohmann::json& j, const std::string& where) {
  ImageNotes notes;
  if (!j.is_object()) return notes;
  if (j.contains("vmcoreinfo") && j["vmcoreinfo"].is_string()) notes.set_vmcoreinfo(j["vmcoreinfo"].get<std::string>());
  if (j.contains("cpus") && j["cpus"].is_array()) {
    for (const auto& cpu : j["cpus"]) {
      if (!cpu.is_object()) throw FormatError(where + ": metadata notes: cpu entry is not an object");
      CpuState state;
      if (cpu.contains("index") && cpu["index"].is_number_unsigned()) state.index = cpu["index"].get<unsigned>();
      state.cr0 = register_from_json(cpu, "cr0", where);
      state.cr3 = register_from_json(cpu, "cr3", where);
      state.cr4 = register_from_json(cpu, "cr4", where);
      notes.cpus.push_back(state);
    }
  }
  return notes;
}

std::string string_field(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_string()) return "";
  return j[key].get<std::string>();
}

}  // namespace

std::vector<uint8_t> encode_metadata_frame(const Metadata& m) {
  nlohmann::json j = {{"source_format", m.source_format}, {"source_name", m.source_name},
                      {"created", m.created},             {"tool", m.tool},
                      {"notes", notes_to_json(m.notes)}};
  if (!m.source_warnings.empty()) j["source_warnings"] = m.source_warnings;
  std::string text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (m.ranges.size() > std::numeric_limits<uint32_t>::max() / kRangeEntrySize)
    throw Error("lz4-seekable: too many physical ranges (" + std::to_string(m.ranges.size()) + ")");
  uint64_t payload = uint64_t(kMetadataFixedSize) + m.ranges.size() * kRangeEntrySize + text.size() + 4;
  if (payload > std::numeric_limits<uint32_t>::max())
    throw Error("lz4-seekable: metadata of " + std::to_string(payload) + " bytes exceeds a skippable frame");

  std::vector<uint8_t> frame(kSkippableHeaderSize + payload, 0);
  store_u32(frame.data(), kMetadataFrameMagic);
  store_u32(frame.data() + 4, static_cast<uint32_t>(payload));
  uint8_t* p = frame.data() + kSkippableHeaderSize;
  std::memcpy(p, kMetadataMagic, 8);
  store_u16(p + 8, m.version_major);
  store_u16(p + 10, m.version_minor);
  store_u32(p + 12, kMetadataFixedSize);
  store_u64(p + 16, m.chunk_size);
  store_u64(p + 24, m.data_size);
  store_u64(p + 32, m.chunk_count);
  store_u32(p + 40, static_cast<uint32_t>(m.ranges.size()));
  store_u32(p + 44, static_cast<uint32_t>(text.size()));
  store_u64(p + 48, m.source_size);
  uint32_t flags = 0;
  if (m.source_sha256) {
    std::memcpy(p + kSourceSha256Offset, m.source_sha256->data(), 32);
    flags |= kHasSourceSha256;
  }
  if (m.data_sha256) {
    std::memcpy(p + kDataSha256Offset, m.data_sha256->data(), 32);
    flags |= kHasDataSha256;
  }
  store_u32(p + kMetadataFlagsOffset, flags);
  uint8_t* r = p + kMetadataFixedSize;
  for (const Range& range : m.ranges) {
    store_u64(r, range.start);
    store_u64(r + 8, range.size);
    r += kRangeEntrySize;
  }
  std::memcpy(r, text.data(), text.size());
  store_u32(p + payload - 4, crc32(p, payload - 4));
  return frame;
}

Metadata decode_metadata_payload(const uint8_t* p, size_t size, const std::string& where) {
  const std::string at = where + ": lz4-seekable metadata (file offset 0x8)";
  if (size < kMetadataFixedSize + 4)
    throw FormatError(at + ": " + std::to_string(size) + " bytes, too short for the fixed header");
  if (std::memcmp(p, kMetadataMagic, 8) != 0) throw FormatError(at + ": bad magic (not a memscope seekable LZ4 file)");
  Metadata m;
  m.version_major = load_u16(p + 8);
  m.version_minor = load_u16(p + 10);
  if (m.version_major != kVersionMajor)
    throw FormatError(at + ": format version " + std::to_string(m.version_major) + "." +
                      std::to_string(m.version_minor) + " is not supported (this memscope reads " +
                      std::to_string(kVersionMajor) + ".x)");
  uint32_t fixed = load_u32(p + 12);
  if (fixed < kMetadataFixedSize || fixed > size - 4)
    throw FormatError(at + ": fixed header size " + std::to_string(fixed) + " out of bounds");
  uint32_t stored_crc = load_u32(p + size - 4);
  uint32_t actual_crc = crc32(p, size - 4);
  if (stored_crc != actual_crc)
    throw FormatError(at + ": CRC-32 mismatch (stored " + hex(stored_crc) + ", computed " + hex(actual_crc) +
                      "): the metadata is corrupt");
  m.chunk_size = load_u64(p + 16);
  m.data_size = load_u64(p + 24);
  m.chunk_count = load_u64(p + 32);
  uint32_t range_count = load_u32(p + 40);
  uint32_t json_size = load_u32(p + 44);
  m.source_size = load_u64(p + 48);
  uint32_t flags = load_u32(p + kMetadataFlagsOffset);
  if (flags & kHasSourceSha256) {
    m.source_sha256.emplace();
    std::memcpy(m.source_sha256->data(), p + kSourceSha256Offset, 32);
  }
  if (flags & kHasDataSha256) {
    m.data_sha256.emplace();
    std::memcpy(m.data_sha256->data(), p + kDataSha256Offset, 32);
  }
  if (!valid_chunk_size(m.chunk_size))
    throw FormatError(at + ": chunk size " + std::to_string(m.chunk_size) +
                      " is not a power of two between 4 KiB and 64 MiB");
  if (m.chunk_count != chunk_count_for(m.data_size, m.chunk_size))
    throw FormatError(at + ": " + std::to_string(m.chunk_count) + " chunks cannot hold " +
                      std::to_string(m.data_size) + " bytes in chunks of " + std::to_string(m.chunk_size));
  if (uint64_t(fixed) + uint64_t(range_count) * kRangeEntrySize + json_size + 4 != size)
    throw FormatError(at + ": " + std::to_string(range_count) + " ranges and " + std::to_string(json_size) +
                      " bytes of JSON do not fill the " + std::to_string(size) + "-byte payload");

  m.ranges.reserve(range_count);
  uint64_t total = 0;
  const uint8_t* r = p + fixed;
  for (uint32_t i = 0; i < range_count; ++i, r += kRangeEntrySize) {
    Range range{load_u64(r), load_u64(r + 8)};
    std::string which = at + ": range " + std::to_string(i) + " (" + hex(range.start) + ", " + hex(range.size) + ")";
    if (range.size == 0) throw FormatError(which + " is empty");
    if (range.start + range.size < range.start && range.end() != 0) throw FormatError(which + " wraps past 2^64");
    if (range.end() == 0 && i + 1 != range_count) throw FormatError(which + " ends at 2^64 but is not the last");
    if (!m.ranges.empty() && (m.ranges.back().end() == 0 || m.ranges.back().end() > range.start))
      throw FormatError(which + " overlaps or precedes the range before it");
    if (total + range.size < total) throw FormatError(which + ": ranges add up past 2^64 bytes");
    total += range.size;
    m.ranges.push_back(range);
  }
  if (total != m.data_size)
    throw FormatError(at + ": ranges hold " + std::to_string(total) + " bytes but the header says " +
                      std::to_string(m.data_size));

  nlohmann::json j = nlohmann::json::parse(r, r + json_size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw FormatError(at + ": descriptive JSON does not parse");
  m.source_format = string_field(j, "source_format");
  m.source_name = string_field(j, "source_name");
  m.created = string_field(j, "created");
  m.tool = string_field(j, "tool");
  if (j.contains("notes")) m.notes = notes_from_json(j["notes"], at);
  if (j.contains("source_warnings")) {
    const nlohmann::json& warnings = j["source_warnings"];
    if (!warnings.is_array()) throw FormatError(at + ": source_warnings is not an array");
    for (const nlohmann::json& w : warnings) {
      if (!w.is_string()) throw FormatError(at + ": source_warnings holds something other than text");
      m.source_warnings.push_back(w.get<std::string>());
    }
  }
  return m;
}

std::vector<uint8_t> encode_seek_table_frame(const std::vector<SeekEntry>& entries, uint64_t first_frame_offset) {
  uint64_t payload = entries.size() * uint64_t(kSeekEntrySize) + kFooterSize;
  if (payload > std::numeric_limits<uint32_t>::max())
    throw Error("lz4-seekable: " + std::to_string(entries.size()) +
                " chunks do not fit one seek table (use a larger --chunk-size)");
  std::vector<uint8_t> frame(kSkippableHeaderSize + payload, 0);
  store_u32(frame.data(), kSeekTableFrameMagic);
  store_u32(frame.data() + 4, static_cast<uint32_t>(payload));
  uint8_t* e = frame.data() + kSkippableHeaderSize;
  for (const SeekEntry& entry : entries) {
    store_u32(e, entry.compressed_size);
    store_u32(e + 4, entry.checksum);
    store_u32(e + 8, entry.flags);
    e += kSeekEntrySize;
  }
  uint8_t* f = e;
  store_u64(f, entries.size());
  store_u32(f + 8, kSeekEntrySize);
  store_u32(f + 12, crc32(frame.data() + kSkippableHeaderSize, entries.size() * kSeekEntrySize));
  store_u64(f + 16, first_frame_offset);
  std::memcpy(f + 24, kFooterMagic, 8);
  return frame;
}

Footer decode_footer(const uint8_t* f, const std::string& where, uint64_t offset) {
  const std::string at = where + ": lz4-seekable footer at file offset " + hex(offset);
  if (std::memcmp(f + 24, kFooterMagic, 8) != 0)
    throw FormatError(at + ": bad footer magic (file truncated, or not written to the end?)");
  Footer footer;
  footer.chunk_count = load_u64(f);
  footer.entry_size = load_u32(f + 8);
  footer.entries_crc32 = load_u32(f + 12);
  footer.first_frame_offset = load_u64(f + 16);
  if (footer.entry_size < kSeekEntrySize || footer.entry_size > 1024)
    throw FormatError(at + ": seek table entry size " + std::to_string(footer.entry_size) + " is not supported");
  return footer;
}

}  // namespace memscope::lz4s
