#include "formats/kdump/kdump.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <tuple>

#include "core/layers/format_registry.h"
#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/util/progress.h"
#include "formats/kdump/page_codec.h"

namespace memscope {

using namespace kdump;

namespace {

static_assert(std::endian::native == std::endian::little, "kdump headers are read as little-endian");

constexpr uint64_t kMinPageSize = 4096;
constexpr uint64_t kMaxPageSize = uint64_t{1} << 20;
// VMCOREINFO is one page in the kernel (VMCOREINFO_BYTES); a larger claim is
// not believed. The notes of 8192 CPUs fit well within the note cap.
constexpr uint64_t kMaxVmcoreinfo = uint64_t{1} << 20;
constexpr uint64_t kMaxNotes = uint64_t{64} << 20;
constexpr uint64_t kRankBlock = 512;  // pfns per rank_ entry: 8 bitmap words

// 64-bit little-endian machines whose dumps have the layout read here.
constexpr std::string_view kMachines[] = {"x86_64", "aarch64", "arm64", "ppc64le", "riscv64", "loongarch64"};

std::string c_string(const uint8_t* bytes, size_t max) {
  std::string out;
  for (size_t i = 0; i < max && bytes[i]; ++i) out += (bytes[i] >= 0x20 && bytes[i] < 0x7f) ? char(bytes[i]) : '?';
  return out;
}

// Per-thread buffers for bytes a flattened dump splits between records.
std::vector<uint8_t>& scratch_buffer() {
  thread_local std::vector<uint8_t> scratch;
  return scratch;
}

}  // namespace

bool KdumpLayer::probe(const MappedFile& file) {
  std::string_view head = file.bytes(0, kSignatureSize);
  if (head.empty()) return false;
  return head == kSignature || head == kOldDiskdumpSignature || DumpFile::is_flattened(file);
}

KdumpLayer::KdumpLayer(std::shared_ptr<const MappedFile> file, ChunkCache& cache)
    : file_(std::move(file)), cache_(cache), cache_id_(ChunkCache::new_layer_id()) {}

KdumpLayer::~KdumpLayer() { cache_.drop_layer(cache_id_); }

std::unique_ptr<KdumpLayer> KdumpLayer::open(std::shared_ptr<const MappedFile> file, ChunkCache& cache) {
  std::unique_ptr<KdumpLayer> layer(new KdumpLayer(std::move(file), cache));
  layer->parse();
  return layer;
}

std::string KdumpLayer::field(const char* name, uint64_t dump_offset) const {
  return file_->path() + ": kdump: " + name + " (" + dump_->where(dump_offset) + ")";
}

void KdumpLayer::parse() {
  dump_ = std::make_unique<DumpFile>(file_);
  for (const std::string& w : dump_->warnings()) warnings_.push_back(w);
  parse_header();
  parse_sub_header();
  load_bitmaps();
  build_rank_index();
  read_vmcoreinfo_and_notes();
  find_unwritten_pages();
  find_zero_descriptor();
  summarise_pages();
}

void KdumpLayer::parse_header() {
  const std::string& path = file_->path();
  std::vector<uint8_t> scratch;
  const uint8_t* h = dump_->bytes(0, header::kSize, scratch);
  if (!h)
    throw FormatError(path + ": kdump: disk_dump_header: the " + std::string(dump_->flattened() ? "dump" : "file") +
                      " holds fewer than its " + std::to_string(header::kSize) + " bytes (truncated?)");
  std::string_view signature(reinterpret_cast<const char*>(h), kSignatureSize);
  if (signature != kSignature) {
    if (signature == kOldDiskdumpSignature)
      throw FormatError(path + ": kdump: disk_dump_header.signature is \"DISKDUMP\": the diskdump format of the "
                               "2.6-era diskdump patches is not supported (only makedumpfile's \"KDUMP   \")");
    if (dump_->flattened() && std::memcmp(h, "\x7f" "ELF", 4) == 0)
      throw FormatError(path + ": flattened makedumpfile stream holding an ELF dump (makedumpfile -E -F): "
                               "reassemble it with `makedumpfile -R image.elf < " + path + "` and open image.elf");
    throw FormatError(field("disk_dump_header.signature", 0) + " is \"" + c_string(h, kSignatureSize) +
                      "\", not \"KDUMP   \"");
  }
  header_version_ = static_cast<int32_t>(load_u32(h + header::kHeaderVersion));
  if (header_version_ < kMinHeaderVersion || header_version_ > kMaxHeaderVersion)
    throw FormatError(field("disk_dump_header.header_version", header::kHeaderVersion) + " is " +
                      std::to_string(header_version_) + ": versions " + std::to_string(kMinHeaderVersion) + " to " +
                      std::to_string(kMaxHeaderVersion) + " are known");
  release_ = c_string(h + header::kUtsRelease, header::kUtsFieldSize);
  machine_ = c_string(h + header::kUtsMachine, header::kUtsFieldSize);
  nodename_ = c_string(h + header::kUtsname + header::kUtsFieldSize, header::kUtsFieldSize);
  if (!machine_.empty() && std::find(std::begin(kMachines), std::end(kMachines), machine_) == std::end(kMachines))
    throw FormatError(field("disk_dump_header.utsname.machine", header::kUtsMachine) + " is \"" + machine_ +
                      "\": memscope reads dumps of 64-bit little-endian machines (x86_64, aarch64, ppc64le, "
                      "riscv64), whose headers have this layout");
  timestamp_ = load_u64(h + header::kTimestamp);
  status_ = load_u32(h + header::kStatus);
  const int32_t block_size = static_cast<int32_t>(load_u32(h + header::kBlockSize));
  if (block_size < int32_t(kMinPageSize) || uint64_t(block_size) > kMaxPageSize ||
      !std::has_single_bit(uint32_t(block_size)))
    throw FormatError(field("disk_dump_header.block_size", header::kBlockSize) + " is " + std::to_string(block_size) +
                      ": not a power of two from 4096 to 1 MiB");
  page_size_ = uint64_t(block_size);
  page_shift_ = static_cast<unsigned>(std::countr_zero(page_size_));
  const int32_t sub_blocks = static_cast<int32_t>(load_u32(h + header::kSubHdrSize));
  const uint64_t needed = sub_header::size_for_version(header_version_);
  if (sub_blocks < 1 || uint64_t(sub_blocks) * page_size_ < needed || uint64_t(sub_blocks) > dump_->size() / page_size_)
    throw FormatError(field("disk_dump_header.sub_hdr_size", header::kSubHdrSize) + " is " +
                      std::to_string(sub_blocks) + " blocks: the version " + std::to_string(header_version_) +
                      " sub-header needs " + std::to_string(needed) + " bytes within the file");
  sub_header_blocks_ = uint64_t(sub_blocks);
  bitmap_blocks_ = load_u32(h + header::kBitmapBlocks);
  if (bitmap_blocks_ == 0 || bitmap_blocks_ % 2 != 0)
    throw FormatError(field("disk_dump_header.bitmap_blocks", header::kBitmapBlocks) + " is " +
                      std::to_string(bitmap_blocks_) + ": the two bitmaps need an even, non-zero number of blocks");
  max_mapnr_ = load_u32(h + header::kMaxMapnr);
  nr_cpus_ = static_cast<int32_t>(load_u32(h + header::kNrCpus));
}

void KdumpLayer::parse_sub_header() {
  std::vector<uint8_t> scratch;
  const uint64_t at = page_size_;  // block 1
  const size_t size = sub_header::size_for_version(header_version_);
  const uint8_t* s = dump_->bytes(at, size, scratch);
  if (!s)
    throw FormatError(field("kdump_sub_header", at) + ": its " + std::to_string(size) +
                      " bytes are not in the file (truncated?)");
  phys_base_ = load_u64(s + sub_header::kPhysBase);
  dump_level_ = static_cast<int32_t>(load_u32(s + sub_header::kDumpLevel));
  if (header_version_ >= 2) {
    split_ = load_u32(s + sub_header::kSplit) != 0;
    first_pfn_ = load_u64(s + sub_header::kStartPfn);
    end_pfn_ = load_u64(s + sub_header::kEndPfn);
  }
  if (header_version_ >= 3) {
    vmcoreinfo_offset_ = load_u64(s + sub_header::kOffsetVmcoreinfo);
    vmcoreinfo_size_ = load_u64(s + sub_header::kSizeVmcoreinfo);
  }
  if (header_version_ >= 4) {
    note_offset_ = load_u64(s + sub_header::kOffsetNote);
    note_size_ = load_u64(s + sub_header::kSizeNote);
  }
  if (header_version_ >= 5) {
    eraseinfo_offset_ = load_u64(s + sub_header::kOffsetEraseinfo);
    eraseinfo_size_ = load_u64(s + sub_header::kSizeEraseinfo);
  }
  const char* mapnr_field = "disk_dump_header.max_mapnr";
  uint64_t mapnr_at = header::kMaxMapnr;
  if (header_version_ >= 6) {
    // The 32-bit fields are obsolete from version 6 on (they overflow above
    // 16 TiB of 4 KiB pages): the 64-bit ones count.
    uint64_t mapnr64 = load_u64(s + sub_header::kMaxMapnr64);
    if (mapnr64 != 0) {
      max_mapnr_ = mapnr64;
      mapnr_field = "kdump_sub_header.max_mapnr_64";
      mapnr_at = at + sub_header::kMaxMapnr64;
    }
    if (split_) {
      first_pfn_ = load_u64(s + sub_header::kStartPfn64);
      end_pfn_ = load_u64(s + sub_header::kEndPfn64);
    }
  }
  bitmap_bytes_ = bitmap_blocks_ / 2 * page_size_;
  const uint64_t capacity = bitmap_bytes_ * 8;
  if (max_mapnr_ == 0 || max_mapnr_ > capacity || max_mapnr_ > (~uint64_t{0} >> page_shift_))
    throw FormatError(field(mapnr_field, mapnr_at) + " is " + std::to_string(max_mapnr_) + ": " +
                      (max_mapnr_ == 0 ? std::string("no pages")
                                       : "more pages than the " + std::to_string(capacity) +
                                             " bits of a bitmap of bitmap_blocks / 2 blocks"));
  if (!split_) {
    first_pfn_ = 0;
    end_pfn_ = max_mapnr_;
  } else if (first_pfn_ >= end_pfn_ || end_pfn_ > max_mapnr_) {
    throw FormatError(field(header_version_ >= 6 ? "kdump_sub_header.start_pfn_64/end_pfn_64"
                                                 : "kdump_sub_header.start_pfn/end_pfn",
                            at + (header_version_ >= 6 ? sub_header::kStartPfn64 : sub_header::kStartPfn)) +
                      ": split dump part holding pfns " + hex(first_pfn_) + "-" + hex(end_pfn_) +
                      " is empty or beyond max_mapnr " + hex(max_mapnr_));
  }
}

void KdumpLayer::load_bitmaps() {
  const uint64_t first = (1 + sub_header_blocks_) * page_size_;
  if (!dump_->contains(first, 2 * bitmap_bytes_))
    throw FormatError(field("bitmaps", first) + ": the two bitmaps of " + std::to_string(bitmap_bytes_) +
                      " bytes each (disk_dump_header.bitmap_blocks " + std::to_string(bitmap_blocks_) +
                      ") are not all in the file (truncated?)");
  if (!dump_->flattened()) {
    bitmap1_ = file_->data() + first;
  } else {
    // Copied once: a flattened stream splits them between records.
    std::vector<uint8_t> scratch;
    const uint8_t* bytes = dump_->bytes(first, 2 * bitmap_bytes_, scratch);
    bitmap_storage_.assign(bytes, bytes + 2 * bitmap_bytes_);
    bitmap1_ = bitmap_storage_.data();
  }
  bitmap2_ = bitmap1_ + bitmap_bytes_;
  desc_offset_ = first + 2 * bitmap_bytes_;
}

namespace {
uint64_t word_of(const uint8_t* bitmap, uint64_t word) { return load_u64(bitmap + word * 8); }
}  // namespace

uint64_t KdumpLayer::dump_word(uint64_t w) const {
  const uint64_t lo = w * 64;
  if (lo >= end_pfn_ || lo + 64 <= first_pfn_) return 0;
  uint64_t v = word_of(bitmap2_, w);
  if (first_pfn_ > lo) v &= ~uint64_t{0} << (first_pfn_ - lo);
  if (end_pfn_ < lo + 64) v &= (uint64_t{1} << (end_pfn_ - lo)) - 1;
  return v;
}

void KdumpLayer::build_rank_index() {
  const uint64_t blocks = (end_pfn_ + kRankBlock - 1) / kRankBlock;
  rank_.resize(blocks + 1);
  uint64_t count = 0;
  for (uint64_t b = 0; b < blocks; ++b) {
    rank_[b] = count;
    for (uint64_t w = b * (kRankBlock / 64); w < (b + 1) * (kRankBlock / 64); ++w)
      count += static_cast<uint64_t>(std::popcount(dump_word(w)));
  }
  rank_[blocks] = count;
  desc_count_ = count;
}

uint64_t KdumpLayer::rank(uint64_t pfn) const {
  const uint64_t block = pfn / kRankBlock;
  uint64_t r = rank_[block];
  const uint64_t last_word = pfn / 64;
  for (uint64_t w = block * (kRankBlock / 64); w < last_word; ++w) r += static_cast<uint64_t>(std::popcount(dump_word(w)));
  if (pfn % 64) r += static_cast<uint64_t>(std::popcount(dump_word(last_word) & ((uint64_t{1} << (pfn % 64)) - 1)));
  return r;
}

bool KdumpLayer::written(uint64_t pfn) const {
  if (unwritten_.empty()) return true;
  auto it = std::upper_bound(unwritten_.begin(), unwritten_.end(), pfn,
                             [](uint64_t p, const std::pair<uint64_t, uint64_t>& r) { return p < r.first; });
  return it == unwritten_.begin() || std::prev(it)->second <= pfn;
}

KdumpLayer::PageState KdumpLayer::page_state(uint64_t pfn) const {
  if (pfn >= max_mapnr_) return PageState::kNotRam;
  const bool in_second = (bitmap2_[pfn >> 3] >> (pfn & 7)) & 1;
  if (!in_second) return ((bitmap1_[pfn >> 3] >> (pfn & 7)) & 1) ? PageState::kExcluded : PageState::kNotRam;
  if (pfn < first_pfn_ || pfn >= end_pfn_) return PageState::kOtherSplitPart;
  return written(pfn) ? PageState::kDumped : PageState::kNotWritten;
}

void KdumpLayer::for_each_run(uint64_t from, uint64_t to,
                              const std::function<bool(uint64_t, uint64_t)>& visit) const {
  from = std::max(from, first_pfn_);
  to = std::min(to, end_pfn_);
  if (from >= to) return;
  // Subtracts the unwritten runs from [a, b) before visiting.
  auto emit = [&](uint64_t a, uint64_t b) -> bool {
    a = std::max(a, from);
    b = std::min(b, to);
    if (a >= b) return true;
    if (unwritten_.empty()) return visit(a, b);
    auto it = std::upper_bound(unwritten_.begin(), unwritten_.end(), a,
                               [](uint64_t p, const std::pair<uint64_t, uint64_t>& r) { return p < r.first; });
    if (it != unwritten_.begin() && std::prev(it)->second > a) --it;
    uint64_t at = a;
    for (; it != unwritten_.end() && it->first < b; ++it) {
      if (it->first > at && !visit(at, it->first)) return false;
      at = std::max(at, it->second);
    }
    return at < b ? visit(at, b) : true;
  };
  const uint64_t words = (to + 63) / 64;
  bool in_run = false;
  uint64_t run_start = 0;
  for (uint64_t w = from / 64; w < words; ++w) {
    const uint64_t v = dump_word(w);
    if ((!in_run && v == 0) || (in_run && v == ~uint64_t{0})) continue;
    const uint64_t base = w * 64;
    unsigned pos = 0;
    while (pos < 64) {
      if (!in_run) {
        const uint64_t rest = v >> pos;
        if (!rest) break;
        pos += static_cast<unsigned>(std::countr_zero(rest));
        run_start = base + pos;
        in_run = true;
      } else {
        const uint64_t rest = ~v >> pos;
        if (!rest) break;
        pos += static_cast<unsigned>(std::countr_zero(rest));
        if (!emit(run_start, base + pos)) return;
        in_run = false;
      }
    }
  }
  if (in_run) emit(run_start, std::min(words * 64, to));
}

void KdumpLayer::read_vmcoreinfo_and_notes() {
  std::vector<uint8_t> scratch;
  const uint64_t sub = page_size_;
  if (header_version_ >= 3 && vmcoreinfo_size_ > 0) {
    const uint8_t* text = nullptr;
    if (vmcoreinfo_size_ <= kMaxVmcoreinfo) text = dump_->bytes(vmcoreinfo_offset_, vmcoreinfo_size_, scratch);
    if (text) {
      std::string_view view(reinterpret_cast<const char*>(text), vmcoreinfo_size_);
      notes_.set_vmcoreinfo(std::string(view.substr(0, view.find('\0'))));
    } else {
      warnings_.push_back(field("kdump_sub_header.offset_vmcoreinfo/size_vmcoreinfo", sub + sub_header::kOffsetVmcoreinfo) +
                          ": VMCOREINFO of " + std::to_string(vmcoreinfo_size_) + " bytes at dump offset " +
                          hex(vmcoreinfo_offset_) + (vmcoreinfo_size_ > kMaxVmcoreinfo ? " is implausibly large"
                                                                                       : " is not in the file") +
                          "; it is ignored");
    }
  }
  if (header_version_ >= 4 && note_size_ > 0) {
    const uint8_t* area = nullptr;
    if (note_size_ <= kMaxNotes) area = dump_->bytes(note_offset_, note_size_, scratch);
    if (area) {
      note_summary_ = parse_notes(std::string_view(reinterpret_cast<const char*>(area), note_size_),
                                  file_->path() + ": kdump: ELF notes at " + dump_->where(note_offset_), notes_);
      if (!note_summary_.problem.empty())
        warnings_.push_back(note_summary_.problem + "; the notes after it are ignored");
    } else {
      warnings_.push_back(field("kdump_sub_header.offset_note/size_note", sub + sub_header::kOffsetNote) +
                          ": ELF notes of " + std::to_string(note_size_) + " bytes at dump offset " +
                          hex(note_offset_) + (note_size_ > kMaxNotes ? " are implausibly large" : " are not in the file") +
                          "; they are ignored");
    }
  }
}

void KdumpLayer::find_unwritten_pages() {
  std::vector<uint8_t> scratch;
  const uint64_t table_bytes = desc_count_ * page_desc::kSize;
  const bool incomplete = status_ & kIncomplete;
  bool truncated = desc_count_ > 0 && !dump_->contains(desc_offset_, table_bytes);
  if (!truncated && desc_count_ > 0) {
    // Pages are written in pfn order: if the last one's data is in the
    // file, the dump was not cut short.
    const uint8_t* last = dump_->bytes(desc_offset_ + table_bytes - page_desc::kSize, page_desc::kSize, scratch);
    const uint64_t offset = load_u64(last + page_desc::kOffset);
    const uint32_t size = load_u32(last + page_desc::kDataSize);
    truncated = offset != 0 && !dump_->contains(offset, size);
  }
  if (!incomplete && !truncated) return;

  // Walk every descriptor: those without data (offset 0, as makedumpfile
  // leaves them when it runs out of space, or beyond the end of the file)
  // mark pages that are not in the dump.
  uint64_t index = 0;
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  for_each_run([&](uint64_t first, uint64_t end) {
    for (uint64_t pfn = first; pfn < end; ++pfn, ++index) {
      const uint8_t* d = dump_->bytes(desc_offset_ + index * page_desc::kSize, page_desc::kSize, scratch);
      bool present = d != nullptr;
      if (present) {
        const uint64_t offset = load_u64(d + page_desc::kOffset);
        const uint32_t size = load_u32(d + page_desc::kDataSize);
        present = offset != 0 && dump_->contains(offset, size);
      }
      if (present) continue;
      ++absent_pages_;
      if (!runs.empty() && runs.back().second == pfn)
        runs.back().second = pfn + 1;
      else
        runs.emplace_back(pfn, pfn + 1);
    }
    return true;
  });
  unwritten_ = std::move(runs);
  std::string what = incomplete ? "incomplete dump (disk_dump_header.status has the incomplete flag 0x8: the "
                                  "producer ran out of space)"
                                : "truncated dump (the page data ends before the descriptors say)";
  warnings_.push_back(file_->path() + ": kdump: " + what + ": " + std::to_string(absent_pages_) + " of " +
                      std::to_string(desc_count_) + " dumped pages are not in the file and read as absent");
}

void KdumpLayer::summarise_pages() {
  dumped_pages_ = desc_count_ - absent_pages_;
  // RAM pages (first bitmap) of this file's pfns that the second lacks.
  const uint64_t words = (end_pfn_ + 63) / 64;
  for (uint64_t w = first_pfn_ / 64; w < words; ++w) {
    uint64_t ram = word_of(bitmap1_, w);
    const uint64_t lo = w * 64;
    if (first_pfn_ > lo) ram &= ~uint64_t{0} << (first_pfn_ - lo);
    if (end_pfn_ < lo + 64) ram &= (uint64_t{1} << (end_pfn_ - lo)) - 1;
    excluded_pages_ += static_cast<uint64_t>(std::popcount(ram & ~word_of(bitmap2_, w)));
  }
  uint64_t last_end = 0;
  for_each_run([&](uint64_t, uint64_t end) {
    last_end = end;
    return true;
  });
  limit_ = last_end << page_shift_;
}

void KdumpLayer::ranges(const std::function<bool(const Range&)>& visit) const {
  for_each_run([&](uint64_t first, uint64_t end) {
    return visit(Range{first << page_shift_, (end - first) << page_shift_});
  });
}

std::string KdumpLayer::page_name(uint64_t pfn) const {
  return file_->path() + ": kdump page at physical " + hex(pfn << page_shift_) + " (pfn " + hex(pfn) + ")";
}

std::optional<PageDesc> KdumpLayer::raw_descriptor(uint64_t index) const {
  const uint8_t* d = dump_->bytes(desc_offset_ + index * page_desc::kSize, page_desc::kSize, scratch_buffer());
  if (!d) return std::nullopt;
  return PageDesc{load_u64(d + page_desc::kOffset), load_u32(d + page_desc::kDataSize), load_u32(d + page_desc::kFlags)};
}

void KdumpLayer::find_zero_descriptor() {
  // makedumpfile (dump level 1) and QEMU write one zero page and point the
  // descriptor of every zero page at it. The descriptor most shared among
  // the first pages, if it decodes to zeros, is that one.
  constexpr uint64_t kSample = 4096;
  std::vector<std::pair<PageDesc, uint64_t>> seen;
  auto same = [](const PageDesc& a, const PageDesc& b) {
    return a.offset == b.offset && a.size == b.size && a.flags == b.flags;
  };
  std::vector<PageDesc> sample;
  for (uint64_t i = 0; i < std::min(desc_count_, kSample); ++i) {
    std::optional<PageDesc> d = raw_descriptor(i);
    if (!d || d->offset == 0 || d->size == 0 || d->size > page_size_ || !codec_supported(d->flags)) continue;
    sample.push_back(*d);
  }
  std::sort(sample.begin(), sample.end(), [](const PageDesc& a, const PageDesc& b) {
    return std::tie(a.offset, a.size, a.flags) < std::tie(b.offset, b.size, b.flags);
  });
  std::optional<PageDesc> best;
  uint64_t best_count = 1;
  for (size_t i = 0; i < sample.size();) {
    size_t j = i;
    while (j < sample.size() && same(sample[i], sample[j])) ++j;
    if (j - i > best_count) {
      best_count = j - i;
      best = sample[i];
    }
    i = j;
  }
  if (!best) return;
  std::vector<uint8_t> page(page_size_);
  std::vector<uint8_t> scratch;
  const uint8_t* data = dump_->bytes(best->offset, best->size, scratch);
  if (!data || decode_page(best->flags, data, best->size, page.data(), page_size_)) return;
  if (std::all_of(page.begin(), page.end(), [](uint8_t b) { return b == 0; })) zero_desc_ = best;
}

std::optional<PageDesc> KdumpLayer::descriptor(uint64_t pfn, std::string* why) const {
  PageState state = page_state(pfn);
  if (state != PageState::kDumped) {
    if (why) *why = page_name(pfn) + ": " + not_readable_reason(pfn, state);
    return std::nullopt;
  }
  const uint64_t index = rank(pfn);
  const uint64_t at = desc_offset_ + index * page_desc::kSize;
  std::optional<PageDesc> found = raw_descriptor(index);
  if (!found) {
    if (why) *why = page_name(pfn) + ": its descriptor #" + std::to_string(index) + " at " + dump_->where(at) +
                    " is not in the file (truncated dump?)";
    return std::nullopt;
  }
  const PageDesc desc = *found;
  std::string problem;
  if (desc.offset == 0)
    problem = "has data offset 0: the page was not written (incomplete dump)";
  else if (desc.size == 0 || desc.size > page_size_)
    problem = "gives its data a size of " + std::to_string(desc.size) + " bytes, not 1 to " + std::to_string(page_size_);
  else if (!codec_supported(desc.flags))
    problem = "has flags " + hex(desc.flags) + ", which name no single known codec";
  if (!problem.empty()) {
    if (why) *why = page_name(pfn) + ": descriptor #" + std::to_string(index) + " at " + dump_->where(at) + " " + problem;
    return std::nullopt;
  }
  return desc;
}

std::optional<std::string> KdumpLayer::load_page(uint64_t pfn, uint8_t* out) const {
  std::string why;
  std::optional<PageDesc> desc = descriptor(pfn, &why);
  if (!desc) return why;
  if (is_zero_descriptor(*desc)) {
    std::memset(out, 0, page_size_);
    return std::nullopt;
  }
  const uint8_t* data = dump_->bytes(desc->offset, desc->size, scratch_buffer());
  if (!data)
    return page_name(pfn) + ": its " + std::to_string(desc->size) + " bytes of " + codec_name(desc->flags) +
           " data at " + dump_->where(desc->offset) + " run past the end of the file (truncated dump?)";
  if (std::optional<std::string> error = decode_page(desc->flags, data, desc->size, out, page_size_))
    return page_name(pfn) + ": " + std::to_string(desc->size) + " bytes of " + codec_name(desc->flags) + " data at " +
           dump_->where(desc->offset) + " do not decode: " + *error;
  return std::nullopt;
}

std::string KdumpLayer::not_readable_reason(uint64_t pfn, PageState state) const {
  switch (state) {
    case PageState::kExcluded:
      return "page " + hex(pfn << page_shift_) + " (pfn " + hex(pfn) +
             ") is RAM that makedumpfile excluded from the dump (dump level " + std::to_string(dump_level_) + ")";
    case PageState::kOtherSplitPart:
      return "page " + hex(pfn << page_shift_) + " (pfn " + hex(pfn) +
             ") is in another file of this split dump (this one holds pfns " + hex(first_pfn_) + "-" + hex(end_pfn_) + ")";
    case PageState::kNotWritten:
      return "page " + hex(pfn << page_shift_) + " (pfn " + hex(pfn) +
             ") was never written: the dump is incomplete or truncated";
    case PageState::kNotRam:
    case PageState::kDumped:
      break;
  }
  return "physical address not in the image";
}

bool KdumpLayer::group_complete(uint64_t group) const {
  const uint64_t first = group * kGroupPages;
  if (first < first_pfn_ || first + kGroupPages > end_pfn_) return false;
  const uint64_t bits = dump_word(first / 64) >> (first % 64);
  if ((bits & ((uint64_t{1} << kGroupPages) - 1)) != (uint64_t{1} << kGroupPages) - 1) return false;
  if (unwritten_.empty()) return true;
  auto it = std::upper_bound(unwritten_.begin(), unwritten_.end(), first + kGroupPages - 1,
                             [](uint64_t p, const std::pair<uint64_t, uint64_t>& r) { return p < r.first; });
  return it == unwritten_.begin() || std::prev(it)->second <= first;
}

BlockRef KdumpLayer::group_block(uint64_t group) {
  return cache_.get(ChunkCache::Key{cache_id_, group}, [&]() -> BlockRef {
    auto block = std::make_shared<CachedBlock>(kGroupPages * page_size_);
    for (uint64_t i = 0; i < kGroupPages; ++i) {
      const uint64_t pfn = group * kGroupPages + i;
      uint8_t* page = block->data() + i * page_size_;
      if (page_state(pfn) != PageState::kDumped) {
        std::memset(page, 0, page_size_);
        continue;
      }
      if (std::optional<std::string> error = load_page(pfn, page)) throw FormatError(*error);
    }
    return block;
  });
}

IoResult KdumpLayer::do_read(uint64_t address, void* buffer, size_t n, unsigned flags) {
  IoResult result;
  auto* out = static_cast<uint8_t*>(buffer);
  const uint64_t group_bytes = kGroupPages * page_size_;
  BlockRef block;
  uint64_t block_group = ~uint64_t{0};
  while (result.done < n) {
    const uint64_t at = address + result.done;
    const uint64_t pfn = at >> page_shift_;
    const uint64_t in_page = at & (page_size_ - 1);
    size_t take = static_cast<size_t>(std::min<uint64_t>(n - result.done, page_size_ - in_page));
    const PageState state = page_state(pfn);
    if (state != PageState::kDumped) {
      if (!(flags & kReadPad)) {
        result.fault = Fault{at, format(), not_readable_reason(pfn, state)};
        return result;
      }
      std::memset(out + result.done, 0, take);
      result.done += take;
      continue;
    }
    const uint64_t group = pfn / kGroupPages;
    if (group != block_group) {
      block.reset();
      block_group = group;
      // A read covering a whole group that is not cached: decompress it
      // straight into the caller's buffer (a sequential reader does not
      // come back for it, and the cache keeps what others use).
      if (at % group_bytes == 0 && n - result.done >= group_bytes && group_complete(group) &&
          !(block = cache_.find(ChunkCache::Key{cache_id_, group}))) {
        for (uint64_t i = 0; i < kGroupPages; ++i) {
          if (std::optional<std::string> error = load_page(pfn + i, out + result.done)) {
            result.fault = Fault{address + result.done, format(), *error};
            return result;
          }
          result.done += page_size_;
        }
        continue;
      }
      if (!block) {
        try {
          block = group_block(group);
        } catch (const FormatError&) {
          block.reset();  // a bad page in the group: read this page alone below
        }
      }
    }
    if (block) {
      std::memcpy(out + result.done, block->data() + (pfn % kGroupPages) * page_size_ + in_page, take);
    } else {
      thread_local std::vector<uint8_t> page;
      page.resize(page_size_);
      if (std::optional<std::string> error = load_page(pfn, page.data())) {
        result.fault = Fault{at, format(), *error};
        return result;
      }
      std::memcpy(out + result.done, page.data() + in_page, take);
    }
    result.done += take;
  }
  return result;
}

void KdumpLayer::extents(uint64_t begin, uint64_t end,
                         const std::function<bool(const PhysicalExtent&)>& visit) const {
  if (begin >= end) return;
  const uint64_t from = begin >> page_shift_;
  const uint64_t to = ((end - 1) >> page_shift_) + 1;
  std::optional<PhysicalExtent> pending;
  bool stopped = false;
  auto add = [&](uint64_t start, uint64_t stop, ExtentKind kind) {
    start = std::max(start, begin);
    stop = std::min(stop, end);
    if (pending && pending->kind == kind && pending->end() == start) {
      pending->size += stop - start;
      return true;
    }
    if (pending && !visit(*pending)) return false;
    pending = PhysicalExtent{start, stop - start, kind, PhysicalExtent::kNoFileOffset};
    return true;
  };
  for_each_run(from, to, [&](uint64_t first, uint64_t last) {
    if (!zero_desc_) {
      stopped = !add(first << page_shift_, last << page_shift_, ExtentKind::kStored);
      return !stopped;
    }
    // Descriptors of a run are consecutive in the table.
    uint64_t index = rank(first);
    for (uint64_t pfn = first; pfn < last; ++pfn, ++index) {
      std::optional<PageDesc> d = raw_descriptor(index);
      ExtentKind kind = d && is_zero_descriptor(*d) ? ExtentKind::kZero : ExtentKind::kStored;
      if (!add(pfn << page_shift_, (pfn + 1) << page_shift_, kind)) {
        stopped = true;
        return false;
      }
    }
    return true;
  });
  if (!stopped && pending) visit(*pending);
}

IoResult KdumpLayer::scan_read(uint64_t address, uint8_t* out, size_t n) {
  thread_local std::vector<uint8_t> page;
  IoResult result;
  while (result.done < n) {
    const uint64_t at = address + result.done;
    const uint64_t pfn = at >> page_shift_;
    const uint64_t in_page = at & (page_size_ - 1);
    const size_t take = static_cast<size_t>(std::min<uint64_t>(n - result.done, page_size_ - in_page));
    uint8_t* to = out + result.done;
    result.done += take;
    if (page_state(pfn) != PageState::kDumped) {
      std::memset(to, 0, take);
      continue;
    }
    std::optional<std::string> error;
    if (take == page_size_) {
      error = load_page(pfn, to);
    } else {
      page.resize(page_size_);
      error = load_page(pfn, page.data());
      if (!error) std::memcpy(to, page.data() + in_page, take);
    }
    if (error) {
      // A corrupt page reads as zeros in a scan; the first fault is kept.
      std::memset(to, 0, take);
      if (!result.fault) result.fault = Fault{at, format(), *error};
    }
  }
  return result;
}

const uint8_t* KdumpLayer::peek(uint64_t address, size_t n) {
  const uint64_t pfn = address >> page_shift_;
  const uint64_t in_page = address & (page_size_ - 1);
  if (n == 0 || n > page_size_ - in_page) return nullptr;
  std::optional<PageDesc> desc = descriptor(pfn);
  if (!desc || desc->flags != 0 || desc->size != page_size_) return nullptr;
  std::vector<uint8_t>& scratch = scratch_buffer();
  const uint8_t* bytes = dump_->bytes(desc->offset + in_page, n, scratch);
  return bytes && (scratch.empty() || bytes != scratch.data()) ? bytes : nullptr;
}

std::string KdumpLayer::codec() const {
  const uint32_t codec = status_ & kCodecMask;
  return codec == 0 ? "none (pages stored)" : codec_name(codec);
}

LayerDescription KdumpLayer::describe() const {
  LayerDescription lines;
  if (dump_->flattened())
    lines.emplace_back("kdump layout", "flattened (makedumpfile -F / QEMU): " + std::to_string(dump_->record_count()) +
                                           " records, indexed in place");
  else
    lines.emplace_back("kdump layout", "seekable (diskdump)");
  std::string status;
  for (auto [bit, name] : {std::pair{kCompressedZlib, "zlib"}, {kCompressedLzo, "lzo"}, {kCompressedSnappy, "snappy"},
                           {kCompressedZstd, "zstd"}, {kIncomplete, "incomplete"}, {kExcludedVmemmap, "excluded-vmemmap"}})
    if (status_ & bit) status += std::string(status.empty() ? "" : ", ") + name;
  lines.emplace_back("page codec", codec());
  lines.emplace_back("header version", std::to_string(header_version_));
  lines.emplace_back("header status", hex(status_) + (status.empty() ? "" : " (" + status + ")"));
  lines.emplace_back("kernel release", release_.empty() ? "(not recorded)" : release_);
  lines.emplace_back("machine", machine_.empty() ? "(not recorded)" : machine_);
  if (!nodename_.empty()) lines.emplace_back("node name", nodename_);
  lines.emplace_back("page size", std::to_string(page_size_) + " bytes");
  lines.emplace_back("max_mapnr", std::to_string(max_mapnr_) + " pfns");
  lines.emplace_back("dump level", std::to_string(dump_level_));
  lines.emplace_back("dumped pages", std::to_string(dumped_pages_));
  lines.emplace_back("excluded pages", std::to_string(excluded_pages_));
  if (absent_pages_) lines.emplace_back("unwritten pages", std::to_string(absent_pages_));
  if (zero_desc_)
    lines.emplace_back("shared zero page", std::string(codec_name(zero_desc_->flags)) + ", " +
                                               std::to_string(zero_desc_->size) + " bytes at " +
                                               dump_->where(zero_desc_->offset));
  if (split_) lines.emplace_back("split dump", "this file holds pfns " + hex(first_pfn_) + "-" + hex(end_pfn_));
  lines.emplace_back("CPUs (header)", std::to_string(nr_cpus_));
  std::string phys_base = hex(phys_base_);
  auto vmcoreinfo_phys_base = notes_.vmcoreinfo_keys.find("NUMBER(phys_base)");
  if (vmcoreinfo_phys_base != notes_.vmcoreinfo_keys.end()) {
    int64_t value = 0;
    try {
      value = std::stoll(vmcoreinfo_phys_base->second);
    } catch (const std::exception&) {
    }
    if (static_cast<uint64_t>(value) != phys_base_)
      phys_base += " (differs from VMCOREINFO's NUMBER(phys_base)=" + vmcoreinfo_phys_base->second +
                   ", which is the one used)";
  }
  lines.emplace_back("phys_base (sub-header)", phys_base);
  if (!note_summary_.counts.empty()) {
    std::string kinds;
    for (const auto& [kind, count] : note_summary_.counts)
      kinds += (kinds.empty() ? "" : ", ") + kind + " x" + std::to_string(count);
    lines.emplace_back("notes", kinds);
  }
  auto release = notes_.vmcoreinfo_keys.find("OSRELEASE");
  if (release != notes_.vmcoreinfo_keys.end()) lines.emplace_back("VMCOREINFO OSRELEASE", release->second);
  if (eraseinfo_size_) lines.emplace_back("eraseinfo", std::to_string(eraseinfo_size_) + " bytes (data erased by makedumpfile --config)");
  lines.emplace_back("chunk cache", Progress::human_bytes(double(cache_.capacity())));
  for (size_t i = 0; i < warnings_.size(); ++i)
    lines.emplace_back(warnings_.size() == 1 ? "warning" : "warning " + std::to_string(i + 1), warnings_[i]);
  return lines;
}

MEMSCOPE_REGISTER(format_registry(), FormatHandler{
    .name = "kdump",
    .description = "kdump-compressed (makedumpfile, QEMU dump-guest-memory -z/-l/-s), seekable or flattened: "
                   "zlib, LZO, Snappy, zstd pages",
    .priority = 100,
    .probe = [](const MappedFile& file) { return KdumpLayer::probe(file); },
    .open = [](std::shared_ptr<const MappedFile> file) -> std::unique_ptr<PhysicalLayer> {
      return KdumpLayer::open(std::move(file));
    }});

}  // namespace memscope
