// makedumpfile's kdump-compressed format ("diskdump" layout), as written by
// makedumpfile -c/-l/-p/-z and by QEMU's dump-guest-memory -z/-l/-s:
//
//   block 0                 disk_dump_header (signature "KDUMP   ")
//   block 1 ..              kdump_sub_header (sub_hdr_size blocks), then
//                           VMCOREINFO text, ELF notes, eraseinfo where its
//                           offsets say
//   block 1 + sub_hdr_size  first bitmap (pages that are RAM), then the
//                           second bitmap (pages that were dumped): each
//                           bitmap_blocks / 2 blocks, bit i of byte j is pfn
//                           8*j + i
//   then                    page_desc table: one 24-byte descriptor per
//                           dumped pfn, in pfn order
//   then                    page data, each page compressed on its own or
//                           stored as is
//
// All fields are the producer's native byte order; memscope reads the
// little-endian 64-bit layout (x86_64, aarch64, ...). Offsets are named
// here so that every error can name the field it found wrong.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace memscope::kdump {

inline constexpr std::string_view kSignature = "KDUMP   ";
inline constexpr std::string_view kOldDiskdumpSignature = "DISKDUMP";
inline constexpr size_t kSignatureSize = 8;

// disk_dump_header field offsets (64-bit layout: struct timeval is 16 bytes,
// 8-aligned after the 6 x 65-byte utsname).
namespace header {
inline constexpr size_t kHeaderVersion = 8;    // int
inline constexpr size_t kUtsname = 12;         // struct new_utsname: 6 x 65 chars
inline constexpr size_t kUtsFieldSize = 65;
inline constexpr size_t kUtsRelease = kUtsname + 2 * kUtsFieldSize;
inline constexpr size_t kUtsMachine = kUtsname + 4 * kUtsFieldSize;
inline constexpr size_t kTimestamp = 408;      // struct timeval {tv_sec, tv_usec}
inline constexpr size_t kStatus = 424;         // unsigned int: DUMP_DH_* flags
inline constexpr size_t kBlockSize = 428;      // int
inline constexpr size_t kSubHdrSize = 432;     // int, in blocks
inline constexpr size_t kBitmapBlocks = 436;   // unsigned int, both bitmaps
inline constexpr size_t kMaxMapnr = 440;       // unsigned int (32-bit; v6: see the sub-header)
inline constexpr size_t kTotalRamBlocks = 444;
inline constexpr size_t kDeviceBlocks = 448;
inline constexpr size_t kWrittenBlocks = 452;
inline constexpr size_t kCurrentCpu = 456;
inline constexpr size_t kNrCpus = 460;         // int
inline constexpr size_t kSize = 464;
}  // namespace header

// kdump_sub_header field offsets, and the header version that added each.
namespace sub_header {
inline constexpr size_t kPhysBase = 0;           // unsigned long, v1 (not to be trusted)
inline constexpr size_t kDumpLevel = 8;          // int, v1
inline constexpr size_t kSplit = 12;             // int, v2
inline constexpr size_t kStartPfn = 16;          // unsigned long, v2 (32-bit only: v6 has _64)
inline constexpr size_t kEndPfn = 24;            // unsigned long, v2
inline constexpr size_t kOffsetVmcoreinfo = 32;  // off_t, v3
inline constexpr size_t kSizeVmcoreinfo = 40;    // unsigned long, v3
inline constexpr size_t kOffsetNote = 48;        // off_t, v4
inline constexpr size_t kSizeNote = 56;          // unsigned long, v4
inline constexpr size_t kOffsetEraseinfo = 64;   // off_t, v5
inline constexpr size_t kSizeEraseinfo = 72;     // unsigned long, v5
inline constexpr size_t kStartPfn64 = 80;        // unsigned long long, v6
inline constexpr size_t kEndPfn64 = 88;          // unsigned long long, v6
inline constexpr size_t kMaxMapnr64 = 96;        // unsigned long long, v6
// Bytes of the sub-header a given header version defines.
constexpr size_t size_for_version(int version) {
  return version >= 6 ? 104 : version >= 5 ? 80 : version >= 4 ? 64 : version >= 3 ? 48 : version >= 2 ? 32 : 16;
}
}  // namespace sub_header

inline constexpr int kMinHeaderVersion = 1;
inline constexpr int kMaxHeaderVersion = 6;

// disk_dump_header.status and page_desc.flags.
inline constexpr uint32_t kCompressedZlib = 0x1;
inline constexpr uint32_t kCompressedLzo = 0x2;
inline constexpr uint32_t kCompressedSnappy = 0x4;
inline constexpr uint32_t kIncomplete = 0x8;        // status only: the dump ran out of space
inline constexpr uint32_t kExcludedVmemmap = 0x10;  // status only: unused vmemmap pages excluded
inline constexpr uint32_t kCompressedZstd = 0x20;
inline constexpr uint32_t kCodecMask = kCompressedZlib | kCompressedLzo | kCompressedSnappy | kCompressedZstd;

// page_desc: {off_t offset; unsigned int size; unsigned int flags; unsigned long long page_flags}.
namespace page_desc {
inline constexpr size_t kOffset = 0;
inline constexpr size_t kDataSize = 8;
inline constexpr size_t kFlags = 12;
inline constexpr size_t kPageFlags = 16;
inline constexpr size_t kSize = 24;
}  // namespace page_desc

struct PageDesc {
  uint64_t offset = 0;  // dump offset of the page's data (0: not written)
  uint32_t size = 0;    // bytes of data
  uint32_t flags = 0;   // one kCompressed* bit, or 0 for a page stored as is
};

// makedumpfile's flattened stream (makedumpfile -F, QEMU's default):
// a 4096-byte header starting with "makedumpfile", then records
// {int64 offset; int64 size (big-endian)} each followed by `size` bytes that
// belong at `offset` of the dump, until a record of offset -1 and size -1.
namespace flat {
inline constexpr std::string_view kSignature = "makedumpfile";
inline constexpr size_t kSignatureField = 16;  // char signature[16]
inline constexpr size_t kType = 16;            // int64 BE, 1
inline constexpr size_t kVersion = 24;         // int64 BE, 1
inline constexpr size_t kHeaderSize = 4096;    // MAX_SIZE_MDF_HEADER
inline constexpr size_t kRecordHeaderSize = 16;
inline constexpr int64_t kType1 = 1;
inline constexpr int64_t kVersion1 = 1;
inline constexpr int64_t kEndFlag = -1;
}  // namespace flat

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint64_t load_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline int64_t load_be_i64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return static_cast<int64_t>(__builtin_bswap64(v));
}

// "zlib", "lzo", "snappy", "zstd", "stored" for one page's flags; several
// bits or unknown ones give "unknown".
const char* codec_name(uint32_t flags);

}  // namespace memscope::kdump
