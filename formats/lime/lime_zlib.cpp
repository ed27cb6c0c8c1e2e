#include "formats/lime/lime_zlib.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "core/layers/format_registry.h"
#include "core/layers/index_cache.h"
#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/util/progress.h"
#include "formats/lime/lime_format.h"

namespace memscope {
namespace {

constexpr char kIndexMagic[8] = {'M', 'S', 'L', 'Z', 'L', 'I', 'X', '1'};
constexpr uint32_t kIndexVersion = 1;
constexpr size_t kZlibHeader = 2;
constexpr size_t kMaxWindow = 32768;

// A valid zlib header: deflate, window at most 32 KiB, no preset dictionary.
bool zlib_header(const uint8_t* p, uint32_t* window_bits) {
  const uint8_t cmf = p[0], flg = p[1];
  if ((cmf & 0x0f) != 8 || (cmf >> 4) > 7 || (flg & 0x20) || ((uint32_t(cmf) << 8) | flg) % 31 != 0) return false;
  *window_bits = (cmf >> 4) + 8;
  return true;
}

struct Inflater {
  z_stream z{};
  bool ready = false;
  explicit Inflater(int window_bits) { ready = inflateInit2(&z, window_bits) == Z_OK; }
  ~Inflater() {
    if (ready) inflateEnd(&z);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
};

void put32(std::string& s, uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); }
void put64(std::string& s, uint64_t v) { s.append(reinterpret_cast<const char*>(&v), 8); }

class Reader {
 public:
  Reader(const std::string& bytes) : bytes_(bytes) {}
  bool u32(uint32_t& v) { return take(&v, 4); }
  bool u64(uint64_t& v) { return take(&v, 8); }
  bool text(std::string& out, uint64_t n) {
    if (n > bytes_.size() - at_) return false;
    out.assign(bytes_, at_, n);
    at_ += n;
    return true;
  }
  size_t at() const { return at_; }
  size_t left() const { return bytes_.size() - at_; }

 private:
  bool take(void* v, size_t n) {
    if (n > bytes_.size() - at_) return false;
    std::memcpy(v, bytes_.data() + at_, n);
    at_ += n;
    return true;
  }
  const std::string& bytes_;
  size_t at_ = 0;
};

}  // namespace

LimeZlibLayer::Kind LimeZlibLayer::probe(const MappedFile& file) {
  std::string_view head = file.bytes(0, kZlibHeader);
  uint32_t bits = 0;
  if (head.empty() || !zlib_header(reinterpret_cast<const uint8_t*>(head.data()), &bits)) return Kind::kNone;
  // Inflate the start: a LiME header, or (to refuse it by name) at least
  // 4 KiB of something else without an error, which random bytes that
  // happen to look like a zlib header do not give.
  Inflater inflater(15);
  if (!inflater.ready) return Kind::kNone;
  uint8_t out[4096];
  inflater.z.next_in = const_cast<Bytef*>(file.data());
  inflater.z.avail_in = static_cast<uInt>(std::min<uint64_t>(file.size(), 1 << 16));
  inflater.z.next_out = out;
  inflater.z.avail_out = sizeof out;
  int rc = inflate(&inflater.z, Z_SYNC_FLUSH);
  const size_t produced = sizeof out - inflater.z.avail_out;
  if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) return Kind::kNone;
  if (produced >= sizeof(lime::RangeHeader)) {
    lime::RangeHeader header;
    std::memcpy(&header, out, sizeof header);
    if (header.magic == lime::kMagic) return Kind::kLime;
  }
  return produced == sizeof out ? Kind::kOtherZlib : Kind::kNone;
}

LimeZlibLayer::LimeZlibLayer(std::shared_ptr<const MappedFile> file, ChunkCache& cache)
    : file_(std::move(file)), cache_(cache), cache_id_(ChunkCache::new_layer_id()) {}

LimeZlibLayer::~LimeZlibLayer() { cache_.drop_layer(cache_id_); }

std::unique_ptr<LimeZlibLayer> LimeZlibLayer::open(std::shared_ptr<const MappedFile> file,
                                                   const OpenOptions& options) {
  if (probe(*file) == Kind::kOtherZlib)
    throw FormatError(file->path() + ": lime-zlib: a zlib stream that does not start with a LiME header (LiME "
                                     "format=raw or padded with compress=1?): decompress it (`zlib-flate -uncompress "
                                     "< FILE > image`) and open the result");
  ChunkCache& cache = options.cache ? *options.cache : ChunkCache::shared();
  std::unique_ptr<LimeZlibLayer> layer(new LimeZlibLayer(file, cache));
  const IndexCache index_cache(*file, options.use_index_cache, options.index_dir, "lime-zlib-index");
  layer->index_path_ = index_cache.path();
  if (index_cache.usable() && layer->load_index(layer->index_path_)) {
    layer->index_origin_ = "cached";
  } else {
    layer->build_index();
    layer->index_origin_ = "built";
    if (!index_cache.store(layer->serialize_index())) layer->index_path_.clear();
  }
  return layer;
}

void LimeZlibLayer::build_index() {
  const std::string& path = file_->path();
  const uint8_t* data = file_->data();
  const uint64_t file_size = file_->size();
  if (file_size < kZlibHeader || !zlib_header(data, &window_bits_))
    throw FormatError(path + ": lime-zlib: no zlib header at file offset 0x0");
  const size_t window_size = size_t{1} << window_bits_;
  Inflater inflater(15);
  if (!inflater.ready) throw Error(path + ": lime-zlib: cannot initialise zlib");
  z_stream& z = inflater.z;

  std::unique_ptr<Progress> progress;
  if (file_size >= (64ull << 20))
    progress = std::make_unique<Progress>("indexing " + std::filesystem::path(path).filename().string(), file_size);

  std::vector<uint8_t> buffer(256 << 10);
  std::vector<uint8_t> window;  // the last window_size bytes of output
  window.reserve(2 * window_size + buffer.size());
  checkpoints_.clear();
  windows_.clear();
  segments_.clear();
  checkpoints_.push_back(Checkpoint{0, kZlibHeader, 0, 0, 0});

  // The LiME records in the output: the next header's stream offset, and
  // its bytes as they arrive.
  uint64_t next_header = 0;
  lime::RangeHeader header;
  size_t header_have = 0;
  bool records_ok = true;
  uint64_t out_total = 0;
  auto parse = [&](const uint8_t* bytes, size_t n, uint64_t base) {
    while (records_ok && next_header < base + n) {
      if (next_header + header_have < base) return;  // inside skipped data (cannot happen)
      const uint64_t from = next_header + header_have - base;
      const size_t take = std::min<size_t>(sizeof header - header_have, n - from);
      std::memcpy(reinterpret_cast<uint8_t*>(&header) + header_have, bytes + from, take);
      header_have += take;
      if (header_have < sizeof header) return;
      uint64_t length = 0;
      std::string problem = lime::check_range_header(header, ~uint64_t{0} - next_header - sizeof header, &length);
      if (problem.empty() && segments_.size() >= lime::kMaxRanges)
        problem = "more than " + std::to_string(lime::kMaxRanges) + " ranges; not a plausible LiME image";
      if (!problem.empty()) {
        if (segments_.empty())
          throw FormatError(path + ": lime-zlib: LiME header at stream offset 0x0 (inside the zlib stream): " + problem);
        warnings_.push_back(path + ": lime-zlib: LiME header at stream offset " + hex(next_header) + ": " + problem +
                            "; the " + std::to_string(segments_.size()) + " ranges before it are read");
        records_ok = false;
        return;
      }
      segments_.push_back(Segment{header.start, length, next_header + sizeof header});
      next_header += sizeof header + length;
      header_have = 0;
    }
  };

  uint64_t in = 0;
  bool ended = false;
  std::string damage;
  uint64_t block_start = 0;  // output offset of the deflate block being decoded
  while (records_ok) {
    if (z.avail_in == 0) {
      if (in >= file_size) {
        damage = "the zlib stream ends at file offset " + hex(file_size) + " before its end (truncated acquisition?)";
        break;
      }
      const uint64_t chunk = std::min<uint64_t>(file_size - in, 1 << 20);
      z.next_in = const_cast<Bytef*>(data + in);
      z.avail_in = static_cast<uInt>(chunk);
      in += chunk;
      if (progress) progress->set_done(in);
    }
    z.next_out = buffer.data();
    z.avail_out = static_cast<uInt>(buffer.size());
    const int rc = inflate(&z, Z_BLOCK);
    const size_t produced = buffer.size() - z.avail_out;
    if (produced) {
      parse(buffer.data(), produced, out_total);
      out_total += produced;
      window.insert(window.end(), buffer.begin(), buffer.begin() + static_cast<ptrdiff_t>(produced));
      if (window.size() > window_size) window.erase(window.begin(), window.end() - static_cast<ptrdiff_t>(window_size));
    }
    if (rc == Z_STREAM_END) {
      ended = true;
      break;
    }
    if (rc == Z_DATA_ERROR && z.msg && std::string_view(z.msg) == "incorrect data check") {
      // Every block decoded, but the Adler-32 after them disagrees: some
      // bytes are wrong, and deflate cannot tell which.
      ended = true;
      warnings_.push_back(path + ": lime-zlib: the zlib stream's Adler-32 (file offset " + hex(z.total_in - 4) +
                          ") does not match its data: some bytes of the image are corrupt and the format cannot tell "
                          "which; every byte is read as decoded");
      break;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      const uint64_t at = z.total_in;
      damage = std::string("the zlib stream is corrupt at file offset ") + hex(at) + ": " +
               (z.msg ? z.msg : "error " + std::to_string(rc));
      // What the failing deflate block gave is dropped; earlier blocks may
      // hold damaged literals too, which deflate cannot tell.
      out_total = std::min(out_total, block_start);
      break;
    }
    if ((z.data_type & 128) && !(z.data_type & 64)) block_start = out_total;
    // At the end of a deflate block (not the last), after enough output: a checkpoint.
    if ((z.data_type & 128) && !(z.data_type & 64) && out_total - checkpoints_.back().out >= kSpacing) {
      Checkpoint c{out_total, z.total_in, static_cast<uint32_t>(z.data_type & 7),
                   static_cast<uint32_t>(window.size()), windows_.size()};
      windows_.append(reinterpret_cast<const char*>(window.data()), window.size());
      checkpoints_.push_back(c);
    }
  }
  if (progress) progress->finish();
  if (ended && z.total_in < file_size)
    warnings_.push_back(path + ": lime-zlib: " + std::to_string(file_size - z.total_in) +
                        " bytes after the end of the zlib stream at file offset " + hex(z.total_in) + " are ignored");
  // A stream cut or damaged before its end: the output so far stands (the
  // Adler-32 that would vouch for it is lost), minus what the last span
  // produced after the last checkpoint... which is kept too: inflate only
  // ever gives out bytes it decoded.
  data_size_ = out_total;
  if (!damage.empty())
    warnings_.push_back(path + ": lime-zlib: " + damage + "; the " + std::to_string(out_total) +
                        " bytes of the deflate blocks before it are read, without the stream's checksum to vouch "
                        "for them");
  // The last range may be cut short by the damage.
  while (!segments_.empty() && segments_.back().stream_offset >= data_size_) segments_.pop_back();
  if (!segments_.empty() && segments_.back().stream_offset + segments_.back().size > data_size_) {
    Segment& last = segments_.back();
    const uint64_t kept = data_size_ - last.stream_offset;
    if (damage.empty())
      warnings_.push_back(path + ": lime-zlib: the range at physical " + hex(last.physical) + " needs " +
                          std::to_string(last.size) + " bytes but the stream ends after " + std::to_string(kept) +
                          " (truncated image?)");
    last.size = kept;
  }
  if (segments_.empty()) throw FormatError(path + ": lime-zlib: no LiME range could be decoded");
  std::sort(segments_.begin(), segments_.end(),
            [](const Segment& a, const Segment& b) { return a.physical < b.physical; });
  for (size_t i = 1; i < segments_.size(); ++i)
    if (segments_[i].physical < segments_[i - 1].physical + segments_[i - 1].size)
      throw FormatError(path + ": lime-zlib: the ranges at physical " + hex(segments_[i - 1].physical) + " and " +
                        hex(segments_[i].physical) + " overlap");
}

std::string LimeZlibLayer::serialize_index() const {
  std::string out(kIndexMagic, sizeof kIndexMagic);
  put32(out, kIndexVersion);
  put32(out, window_bits_);
  put64(out, file_->size());
  put64(out, data_size_);
  put64(out, checkpoints_.size());
  put64(out, segments_.size());
  std::string warnings;
  for (const std::string& w : warnings_) warnings += w + '\n';
  put64(out, warnings.size());
  for (const Checkpoint& c : checkpoints_) {
    put64(out, c.out);
    put64(out, c.in);
    put32(out, c.bits);
    put32(out, c.window_size);
    out.append(windows_, c.window_offset, c.window_size);
  }
  for (const Segment& s : segments_) {
    put64(out, s.physical);
    put64(out, s.size);
    put64(out, s.stream_offset);
  }
  out += warnings;
  put32(out, static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(out.data()), static_cast<uInt>(out.size()))));
  return out;
}

bool LimeZlibLayer::load_index(const std::string& path) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec || size < sizeof kIndexMagic + 4 || size > (uint64_t{1} << 32)) return false;
  std::string bytes;
  try {
    MappedFile mapped(path);
    bytes.assign(reinterpret_cast<const char*>(mapped.data()), mapped.size());
  } catch (const Error&) {
    return false;
  }
  uint32_t stored;
  std::memcpy(&stored, bytes.data() + bytes.size() - 4, 4);
  if (stored != crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size() - 4))) return false;
  bytes.resize(bytes.size() - 4);
  if (std::memcmp(bytes.data(), kIndexMagic, sizeof kIndexMagic) != 0) return false;
  Reader r(bytes);
  std::string magic;
  uint32_t version = 0, bits = 0;
  uint64_t file_size = 0, data_size = 0, ncp = 0, nseg = 0, nwarn = 0;
  if (!r.text(magic, sizeof kIndexMagic) || !r.u32(version) || version != kIndexVersion || !r.u32(bits) || bits < 8 ||
      bits > 15 || !r.u64(file_size) || file_size != file_->size() || !r.u64(data_size) || !r.u64(ncp) ||
      !r.u64(nseg) || !r.u64(nwarn) || ncp == 0 || ncp > r.left() / 24 || nseg > r.left() / 24)
    return false;
  std::vector<Checkpoint> checkpoints;
  std::string windows;
  for (uint64_t i = 0; i < ncp; ++i) {
    Checkpoint c;
    std::string window;
    if (!r.u64(c.out) || !r.u64(c.in) || !r.u32(c.bits) || !r.u32(c.window_size) || c.bits > 7 ||
        c.window_size > kMaxWindow || c.in > file_size || c.out > data_size ||
        (i > 0 && c.out <= checkpoints.back().out) || !r.text(window, c.window_size))
      return false;
    c.window_offset = windows.size();
    windows += window;
    checkpoints.push_back(c);
  }
  std::vector<Segment> segments;
  for (uint64_t i = 0; i < nseg; ++i) {
    Segment s;
    if (!r.u64(s.physical) || !r.u64(s.size) || !r.u64(s.stream_offset) || s.stream_offset > data_size ||
        s.size > data_size - s.stream_offset || (i > 0 && s.physical < segments.back().physical + segments.back().size))
      return false;
    segments.push_back(s);
  }
  std::string warnings;
  if (!r.text(warnings, nwarn) || r.left() != 0 || segments.empty()) return false;
  window_bits_ = bits;
  data_size_ = data_size;
  checkpoints_ = std::move(checkpoints);
  windows_ = std::move(windows);
  segments_ = std::move(segments);
  warnings_.clear();
  for (size_t at = 0; at < warnings.size();) {
    size_t eol = warnings.find('\n', at);
    if (eol == std::string::npos) eol = warnings.size();
    warnings_.push_back(warnings.substr(at, eol - at));
    at = eol + 1;
  }
  return true;
}

std::optional<std::string> LimeZlibLayer::inflate_span(size_t k, uint8_t* out) const {
  const Checkpoint& c = checkpoints_[k];
  const uint64_t length = span_end(k) - c.out;
  auto where = [&] {
    return file_->path() + ": lime-zlib: span " + std::to_string(k) + " (stream offset " + hex(c.out) +
           ", from file offset " + hex(c.in) + ")";
  };
  Inflater inflater(-15);  // raw deflate from the checkpoint on
  if (!inflater.ready) return where() + ": cannot initialise zlib";
  z_stream& z = inflater.z;
  if (c.bits) {
    if (c.in == 0) return where() + ": bad checkpoint";
    inflatePrime(&z, static_cast<int>(c.bits), file_->data()[c.in - 1] >> (8 - c.bits));
  }
  if (c.window_size &&
      inflateSetDictionary(&z, reinterpret_cast<const Bytef*>(windows_.data() + c.window_offset), c.window_size) != Z_OK)
    return where() + ": cannot set the checkpoint's window";
  uint64_t in = c.in;
  uint64_t done = 0;
  while (done < length) {
    if (z.avail_in == 0) {
      if (in >= file_->size()) return where() + ": the file ends before the span does";
      const uint64_t chunk = std::min<uint64_t>(file_->size() - in, 1 << 20);
      z.next_in = const_cast<Bytef*>(file_->data() + in);
      z.avail_in = static_cast<uInt>(chunk);
      in += chunk;
    }
    const uint64_t want = std::min<uint64_t>(length - done, 1u << 30);
    z.next_out = out + done;
    z.avail_out = static_cast<uInt>(want);
    const int rc = inflate(&z, Z_NO_FLUSH);
    done += want - z.avail_out;
    if (rc == Z_STREAM_END || done == length) break;  // damage after the span is not its concern
    if (rc != Z_OK && rc != Z_BUF_ERROR)
      return where() + ": corrupt deflate data near file offset " + hex(c.in + z.total_in) + ": " +
             (z.msg ? z.msg : "error " + std::to_string(rc));
  }
  if (done != length)
    return where() + ": inflates to " + std::to_string(done) + " bytes, the index says " + std::to_string(length);
  return std::nullopt;
}

size_t LimeZlibLayer::find_segment(uint64_t address) const {
  size_t hint = last_segment_.load(std::memory_order_relaxed);
  if (hint < segments_.size() && address - segments_[hint].physical < segments_[hint].size) return hint;
  auto it = std::upper_bound(segments_.begin(), segments_.end(), address,
                             [](uint64_t a, const Segment& s) { return a < s.physical; });
  size_t index = static_cast<size_t>(it - segments_.begin());
  if (index > 0 && address - segments_[index - 1].physical < segments_[index - 1].size) {
    last_segment_.store(index - 1, std::memory_order_relaxed);
    return index - 1;
  }
  return index;
}

size_t LimeZlibLayer::find_span(uint64_t stream_offset) const {
  auto it = std::upper_bound(checkpoints_.begin(), checkpoints_.end(), stream_offset,
                             [](uint64_t o, const Checkpoint& c) { return o < c.out; });
  return static_cast<size_t>(it - checkpoints_.begin()) - 1;
}

std::optional<std::string> LimeZlibLayer::copy_out(uint64_t offset, size_t n, uint8_t* out, bool use_cache) {
  const size_t k = find_span(offset);
  const uint64_t start = checkpoints_[k].out;
  const uint64_t length = span_end(k) - start;
  const ChunkCache::Key key{cache_id_, k};
  if (offset == start && n == length) {
    if (use_cache)
      if (BlockRef cached = cache_.find(key)) {
        std::memcpy(out, cached->data(), n);
        return std::nullopt;
      }
    return inflate_span(k, out);  // a sequential reader does not come back for it
  }
  if (!use_cache) {
    thread_local std::vector<uint8_t> scratch;
    scratch.resize(length);
    if (std::optional<std::string> error = inflate_span(k, scratch.data())) return error;
    std::memcpy(out, scratch.data() + (offset - start), n);
    return std::nullopt;
  }
  try {
    BlockRef block = cache_.get(key, [&]() -> BlockRef {
      auto fresh = std::make_shared<CachedBlock>(length);
      if (std::optional<std::string> error = inflate_span(k, fresh->data())) throw FormatError(*error);
      return fresh;
    });
    std::memcpy(out, block->data() + (offset - start), n);
  } catch (const FormatError& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

IoResult LimeZlibLayer::read_impl(uint64_t address, uint8_t* out, size_t n, bool pad, bool scan) {
  IoResult result;
  while (result.done < n) {
    const uint64_t at = address + result.done;
    const size_t want = n - result.done;
    const size_t s = find_segment(at);
    if (s >= segments_.size() || at - segments_[s].physical >= segments_[s].size) {
      if (!pad) {
        result.fault = Fault{at, format(), "physical address not in the image"};
        return result;
      }
      uint64_t gap = want;
      if (s < segments_.size()) gap = std::min<uint64_t>(gap, segments_[s].physical - at);
      std::memset(out + result.done, 0, gap);
      result.done += gap;
      continue;
    }
    const Segment& segment = segments_[s];
    const uint64_t offset = segment.stream_offset + (at - segment.physical);
    const size_t k = find_span(offset);
    const size_t take = static_cast<size_t>(
        std::min<uint64_t>({want, segment.size - (at - segment.physical), span_end(k) - offset}));
    if (std::optional<std::string> error = copy_out(offset, take, out + result.done, !scan)) {
      if (!scan) {
        result.fault = Fault{at, format(), *error};
        return result;
      }
      std::memset(out + result.done, 0, take);
      if (!result.fault) result.fault = Fault{at, format(), *error};
    }
    result.done += take;
  }
  return result;
}

IoResult LimeZlibLayer::do_read(uint64_t address, void* buffer, size_t n, unsigned flags) {
  return read_impl(address, static_cast<uint8_t*>(buffer), n, flags & kReadPad, false);
}

IoResult LimeZlibLayer::scan_read(uint64_t address, uint8_t* out, size_t n) {
  return read_impl(address, out, n, true, true);
}

uint64_t LimeZlibLayer::limit() const { return segments_.empty() ? 0 : segments_.back().physical + segments_.back().size; }

void LimeZlibLayer::ranges(const std::function<bool(const Range&)>& visit) const {
  Range pending{};
  bool have = false;
  for (const Segment& s : segments_) {
    if (!s.size) continue;
    if (have && pending.end() == s.physical) {
      pending.size += s.size;
      continue;
    }
    if (have && !visit(pending)) return;
    pending = Range{s.physical, s.size};
    have = true;
  }
  if (have) visit(pending);
}

LayerDescription LimeZlibLayer::describe() const {
  LayerDescription lines;
  lines.emplace_back("LiME ranges", std::to_string(segments_.size()));
  lines.emplace_back("compression", "zlib, one stream (LiME compress=1), window " +
                                        std::to_string(1u << window_bits_) + " bytes");
  lines.emplace_back("stream size", std::to_string(data_size_) + " bytes decompressed");
  if (file_->size() > 0) {
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%.2f", double(data_size_) / double(file_->size()));
    lines.emplace_back("compression ratio", std::string(ratio) + ":1");
  }
  lines.emplace_back("checkpoints", std::to_string(checkpoints_.size()) + " (one per " +
                                        Progress::human_bytes(double(kSpacing)) + " of output at least)");
  lines.emplace_back("lime-zlib index",
                     index_origin_ + (index_path_.empty() ? " (not saved)" : " " + index_path_));
  lines.emplace_back("chunk cache", Progress::human_bytes(double(cache_.capacity())));
  for (size_t i = 0; i < warnings_.size(); ++i)
    lines.emplace_back(warnings_.size() == 1 ? "warning" : "warning " + std::to_string(i + 1), warnings_[i]);
  return lines;
}

MEMSCOPE_REGISTER(format_registry(), FormatHandler{
    .name = "lime-zlib",
    .description = "LiME written with compress=1: one zlib stream, indexed on first open (checkpoints every MiB)",
    .priority = 90,
    .probe = [](const MappedFile& file) { return LimeZlibLayer::probe(file) != LimeZlibLayer::Kind::kNone; },
    .open = [](std::shared_ptr<const MappedFile> file) -> std::unique_ptr<PhysicalLayer> {
      return LimeZlibLayer::open(std::move(file));
    }});

}  // namespace memscope
