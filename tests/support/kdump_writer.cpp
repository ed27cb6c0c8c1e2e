#include "support/kdump_writer.h"

#include <lzo/lzo1x.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "core/layers/image_notes.h"
#include "formats/elf/qemu_cpu_note.h"
#include "formats/kdump/kdump_format.h"

namespace memscope::test {
namespace {

using namespace kdump;

void put32(std::string& s, size_t at, uint32_t v) { std::memcpy(s.data() + at, &v, 4); }
void put64(std::string& s, size_t at, uint64_t v) { std::memcpy(s.data() + at, &v, 8); }
void put_be64(std::string& s, size_t at, int64_t v) {
  uint64_t be = __builtin_bswap64(static_cast<uint64_t>(v));
  std::memcpy(s.data() + at, &be, 8);
}
uint64_t round_up(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

// One ELF note: {namesz, descsz, type}, name padded to 4, descriptor padded to 4.
void add_note(std::string& area, const std::string& name, uint32_t type, const std::string& desc) {
  std::string header(12, '\0');
  put32(header, 0, static_cast<uint32_t>(name.size() + 1));
  put32(header, 4, static_cast<uint32_t>(desc.size()));
  put32(header, 8, type);
  area += header;
  area += name;
  area.append(round_up(name.size() + 1, 4) - name.size(), '\0');
  area += desc;
  area.append(round_up(desc.size(), 4) - desc.size(), '\0');
}

// `page` compressed with `codec`, or empty when it does not shrink (then
// the page is stored, as makedumpfile does).
std::string compress(uint32_t codec, const uint8_t* page, size_t size) {
  std::string out;
  switch (codec) {
    case kCompressedZlib: {
      uLongf length = compressBound(size);
      out.resize(length);
      if (compress2(reinterpret_cast<Bytef*>(out.data()), &length, page, size, 1) != Z_OK)
        throw std::runtime_error("kdump writer: zlib failed");
      out.resize(length);
      break;
    }
    case kCompressedLzo: {
      static bool init = lzo_init() == LZO_E_OK;
      if (!init) throw std::runtime_error("kdump writer: lzo_init failed");
      std::vector<uint8_t> work(LZO1X_1_MEM_COMPRESS);
      lzo_uint length = size + size / 16 + 64 + 3;
      out.resize(length);
      if (lzo1x_1_compress(page, size, reinterpret_cast<uint8_t*>(out.data()), &length, work.data()) != LZO_E_OK)
        throw std::runtime_error("kdump writer: lzo failed");
      out.resize(length);
      break;
    }
    case kCompressedSnappy: {
      size_t length = snappy_max_compressed_length(size);
      out.resize(length);
      if (snappy_compress(reinterpret_cast<const char*>(page), size, out.data(), &length) != SNAPPY_OK)
        throw std::runtime_error("kdump writer: snappy failed");
      out.resize(length);
      break;
    }
    case kCompressedZstd: {
      size_t length = ZSTD_compressBound(size);
      out.resize(length);
      length = ZSTD_compress(out.data(), length, page, size, 1);
      if (ZSTD_isError(length)) throw std::runtime_error("kdump writer: zstd failed");
      out.resize(length);
      break;
    }
    default:
      return {};
  }
  return out.size() < size ? out : std::string();
}

bool test_bit(const std::string& bitmap, uint64_t bit) { return (uint8_t(bitmap[bit / 8]) >> (bit % 8)) & 1; }
void set_bit(std::string& bitmap, uint64_t bit) { bitmap[bit / 8] = char(uint8_t(bitmap[bit / 8]) | (1u << (bit % 8))); }

}  // namespace

KdumpLayout write_kdump(PhysicalLayer& source, const std::string& path, const KdumpWriteOptions& o) {
  const uint64_t ps = o.page_size;
  if (o.header_version < 1 || o.header_version > 6) throw std::runtime_error("kdump writer: header version 1-6");
  std::vector<Range> ranges;
  source.ranges([&](const Range& r) {
    ranges.push_back(r);
    return true;
  });
  if (ranges.empty()) throw std::runtime_error("kdump writer: the source maps nothing");
  const uint64_t max_pfn = (ranges.back().end() + ps - 1) / ps;
  const uint64_t bitmap_bytes = round_up((max_pfn + 7) / 8, ps);
  std::string bitmap1(bitmap_bytes, '\0'), bitmap2(bitmap_bytes, '\0');
  for (const Range& r : ranges)
    for (uint64_t pfn = r.start / ps; pfn < (r.end() + ps - 1) / ps; ++pfn) set_bit(bitmap1, pfn);
  const uint64_t first_pfn = o.split ? o.split->first : 0;
  const uint64_t end_pfn = o.split ? o.split->second : max_pfn;
  std::vector<uint64_t> dumped;
  for (uint64_t pfn = 0; pfn < max_pfn; ++pfn) {
    if (!test_bit(bitmap1, pfn) || (o.exclude && o.exclude(pfn))) continue;
    set_bit(bitmap2, pfn);
    if (pfn >= first_pfn && pfn < end_pfn) dumped.push_back(pfn);
  }

  // Sub-header blocks: the sub-header, VMCOREINFO, the notes.
  const ImageNotes& notes = source.notes();
  const size_t sub_size = sub_header::size_for_version(o.header_version);
  std::string vmcoreinfo = o.vmcoreinfo && o.header_version >= 3 ? notes.vmcoreinfo : "";
  std::string note_area;
  if (o.notes && o.header_version >= 4) {
    for (size_t i = 0; i < notes.cpus.size(); ++i) add_note(note_area, "CORE", 1, std::string(336, '\0'));  // NT_PRSTATUS
    if (!notes.vmcoreinfo.empty()) add_note(note_area, "VMCOREINFO", 0, notes.vmcoreinfo);
    for (const CpuState& cpu : notes.cpus)
      add_note(note_area, std::string(qemu_note::kOwner), qemu_note::kType, qemu_note::encode_cpu_state(cpu));
  }
  const uint64_t sub_blocks = std::max<uint64_t>(1, (sub_size + vmcoreinfo.size() + note_area.size() + ps - 1) / ps);
  const uint64_t vmcoreinfo_at = ps + sub_size;
  const uint64_t note_at = vmcoreinfo_at + vmcoreinfo.size();

  KdumpLayout layout;
  layout.bitmap_offset = (1 + sub_blocks) * ps;
  layout.desc_offset = layout.bitmap_offset + 2 * bitmap_bytes;
  layout.data_offset = layout.desc_offset + dumped.size() * page_desc::kSize;
  layout.dumped_pages = dumped.size();

  std::string image(layout.data_offset, '\0');
  // Page data, and each page's descriptor.
  std::vector<uint8_t> page(ps);
  std::optional<std::tuple<uint64_t, uint32_t, uint32_t>> zero;
  const bool incomplete = o.written_pages.has_value();
  for (uint64_t i = 0; i < dumped.size(); ++i) {
    const uint64_t pfn = dumped[i];
    uint64_t offset = 0;
    uint32_t size = 0, flags = 0;
    if (!incomplete || i < *o.written_pages) {
      IoResult r = source.read(pfn * ps, page.data(), ps, kReadPad);
      if (!r.ok()) throw std::runtime_error("kdump writer: cannot read the source: " + r.fault->message());
      const bool is_zero = std::all_of(page.begin(), page.end(), [](uint8_t b) { return b == 0; });
      if (is_zero && o.share_zero_page) {
        if (!zero) {
          zero = std::make_tuple(uint64_t(image.size()), uint32_t(ps), uint32_t(0));
          image.append(ps, '\0');
        }
        std::tie(offset, size, flags) = *zero;
      } else {
        std::string packed = compress(o.codec, page.data(), ps);
        offset = image.size();
        if (packed.empty()) {
          size = static_cast<uint32_t>(ps);
          image.append(reinterpret_cast<const char*>(page.data()), ps);
        } else {
          size = static_cast<uint32_t>(packed.size());
          flags = o.codec;
          image += packed;
        }
        layout.page_data[pfn] = {offset, size};
      }
    }
    const size_t at = layout.desc_offset + i * page_desc::kSize;
    put64(image, at + page_desc::kOffset, offset);
    put32(image, at + page_desc::kDataSize, size);
    put32(image, at + page_desc::kFlags, flags);
  }
  layout.dump_size = image.size();

  // Bitmaps, sub-header, header.
  std::memcpy(image.data() + layout.bitmap_offset, bitmap1.data(), bitmap_bytes);
  std::memcpy(image.data() + layout.bitmap_offset + bitmap_bytes, bitmap2.data(), bitmap_bytes);
  const size_t s = ps;
  put64(image, s + sub_header::kPhysBase, o.phys_base);
  put32(image, s + sub_header::kDumpLevel, static_cast<uint32_t>(o.dump_level));
  if (o.header_version >= 2) {
    put32(image, s + sub_header::kSplit, o.split ? 1 : 0);
    put64(image, s + sub_header::kStartPfn, o.split ? first_pfn : 0);
    put64(image, s + sub_header::kEndPfn, o.split ? end_pfn : 0);
  }
  if (o.header_version >= 3 && !vmcoreinfo.empty()) {
    std::memcpy(image.data() + vmcoreinfo_at, vmcoreinfo.data(), vmcoreinfo.size());
    put64(image, s + sub_header::kOffsetVmcoreinfo, vmcoreinfo_at);
    put64(image, s + sub_header::kSizeVmcoreinfo, vmcoreinfo.size());
  }
  if (o.header_version >= 4 && !note_area.empty()) {
    std::memcpy(image.data() + note_at, note_area.data(), note_area.size());
    put64(image, s + sub_header::kOffsetNote, note_at);
    put64(image, s + sub_header::kSizeNote, note_area.size());
  }
  if (o.header_version >= 6) {
    put64(image, s + sub_header::kStartPfn64, o.split ? first_pfn : 0);
    put64(image, s + sub_header::kEndPfn64, o.split ? end_pfn : 0);
    put64(image, s + sub_header::kMaxMapnr64, max_pfn);
  }
  std::memcpy(image.data(), kSignature.data(), kSignatureSize);
  put32(image, header::kHeaderVersion, static_cast<uint32_t>(o.header_version));
  std::memcpy(image.data() + header::kUtsRelease, o.release.data(), std::min<size_t>(o.release.size(), 64));
  std::memcpy(image.data() + header::kUtsMachine, o.machine.data(), std::min<size_t>(o.machine.size(), 64));
  put64(image, header::kTimestamp, 1700000000);
  put32(image, header::kStatus, o.codec | (incomplete ? kIncomplete : 0));
  put32(image, header::kBlockSize, static_cast<uint32_t>(ps));
  put32(image, header::kSubHdrSize, static_cast<uint32_t>(sub_blocks));
  put32(image, header::kBitmapBlocks, static_cast<uint32_t>(2 * bitmap_bytes / ps));
  put32(image, header::kMaxMapnr, static_cast<uint32_t>(std::min<uint64_t>(max_pfn, 0xffffffffu)));
  put32(image, header::kNrCpus, static_cast<uint32_t>(notes.cpus.size()));

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("kdump writer: cannot write " + path);
  if (!o.flattened) {
    out.write(image.data(), static_cast<std::streamsize>(image.size()));
  } else {
    std::string header(flat::kHeaderSize, '\0');
    std::memcpy(header.data(), flat::kSignature.data(), flat::kSignature.size());
    put_be64(header, flat::kType, flat::kType1);
    put_be64(header, flat::kVersion, flat::kVersion1);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    auto record = [&](uint64_t offset, const char* bytes, uint64_t size) {
      std::string head(flat::kRecordHeaderSize, '\0');
      put_be64(head, 0, static_cast<int64_t>(offset));
      put_be64(head, 8, static_cast<int64_t>(size));
      out.write(head.data(), static_cast<std::streamsize>(head.size()));
      out.write(bytes, static_cast<std::streamsize>(size));
    };
    if (o.stale_header_first) {
      std::string stale = image.substr(0, header::kSize);
      put32(stale, header::kBlockSize, 12345);
      record(0, stale.data(), stale.size());
    }
    if (!o.header_last) record(0, image.data(), header::kSize);
    // The rest in records of record_size, skipping the zeros between the
    // header and the sub-header as makedumpfile does.
    for (uint64_t at = ps; at < image.size();) {
      uint64_t size = std::min<uint64_t>(o.record_size, image.size() - at);
      record(at, image.data() + at, size);
      at += size;
    }
    if (o.header_last) record(0, image.data(), header::kSize);
    std::string end(flat::kRecordHeaderSize, '\0');
    put_be64(end, 0, flat::kEndFlag);
    put_be64(end, 8, flat::kEndFlag);
    out.write(end.data(), static_cast<std::streamsize>(end.size()));
  }
  if (!out.good()) throw std::runtime_error("kdump writer: write failed: " + path);
  return layout;
}

}  // namespace memscope::test
