#include "formats/lz4/lz4_seekable_writer.h"

#include "core/convert/image_writer.h"

#define LZ4F_STATIC_LINKING_ONLY
#include <fcntl.h>
#include <lz4frame.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <thread>

#include "core/layers/source_warnings.h"
#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/layers/mapped_file.h"
#include "core/util/ordered_pipeline.h"
#include "formats/lz4/lz4_seekable.h"

#ifndef MEMSCOPE_VERSION
#define MEMSCOPE_VERSION "unknown"
#endif

namespace memscope {
namespace {

LZ4F_preferences_t frame_prefs(uint64_t length, int level) {
  LZ4F_preferences_t prefs{};
  // The smallest block size holding the whole chunk: one block per frame up
  // to 4 MiB, so the decompressor writes straight into the chunk buffer.
  prefs.frameInfo.blockSizeID = length <= (64u << 10)    ? LZ4F_max64KB
                                : length <= (256u << 10) ? LZ4F_max256KB
                                : length <= (1u << 20)   ? LZ4F_max1MB
                                                         : LZ4F_max4MB;
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
  prefs.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
  prefs.frameInfo.frameType = LZ4F_frame;
  prefs.frameInfo.contentSize = length;
  prefs.compressionLevel = level;
  prefs.autoFlush = 1;
  return prefs;
}

// Compresses one chunk into `out` (sized by frame_bound) and returns the
// frame's size. The frame ends with its content checksum, XXH32 of the
// chunk: that value is the seek table's checksum.
size_t compress_chunk(LZ4F_cctx* cctx, const uint8_t* data, size_t length, int level, uint8_t* out,
                      size_t capacity) {
  LZ4F_preferences_t prefs = frame_prefs(length, level);
  size_t n = LZ4F_compressFrame_usingCDict(cctx, out, capacity, data, length, nullptr, &prefs);
  if (LZ4F_isError(n)) throw Error(std::string("lz4-seekable: LZ4 compression failed: ") + LZ4F_getErrorName(n));
  return n;
}

size_t frame_bound(uint64_t chunk_size, int level) {
  LZ4F_preferences_t prefs = frame_prefs(chunk_size, level);
  return LZ4F_compressFrameBound(chunk_size, &prefs);
}

bool all_zero(const uint8_t* data, size_t n) {
  // OR-reduce 4 KiB at a time (vectorised), leaving early on the first
  // non-zero block: most chunks of a live machine fail in the first page.
  constexpr size_t kStep = 4096;
  size_t at = 0;
  for (; at + kStep <= n; at += kStep) {
    uint64_t acc = 0;
    for (size_t i = 0; i < kStep; i += 8) {
      uint64_t word;
      std::memcpy(&word, data + at + i, 8);
      acc |= word;
    }
    if (acc) return false;
  }
  for (; at < n; ++at)
    if (data[at]) return false;
  return true;
}

std::string utc_now_iso8601() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// A buffered, positioned writer for the output file.
class OutputFile {
 public:
  explicit OutputFile(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(path_ + ": cannot create: " + std::strerror(errno));
    buffer_.reserve(kBuffer);
  }
  ~OutputFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  void write(const uint8_t* data, size_t n) {
    if (buffer_.size() + n > kBuffer) flush();
    if (n >= kBuffer) {
      write_all(data, n, offset_);
    } else {
      buffer_.insert(buffer_.end(), data, data + n);
    }
    offset_ += n;
  }
  void flush() {
    if (buffer_.empty()) return;
    write_all(buffer_.data(), buffer_.size(), offset_ - buffer_.size());
    buffer_.clear();
  }
  void pwrite_at(uint64_t offset, const uint8_t* data, size_t n) {
    flush();
    write_all(data, n, offset);
  }
  void close() {
    flush();
    if (::fsync(fd_) != 0) throw Error(path_ + ": fsync failed: " + std::strerror(errno));
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw Error(path_ + ": close failed: " + std::strerror(errno));
  }
  uint64_t offset() const { return offset_; }

 private:
  static constexpr size_t kBuffer = 1 << 20;
  void write_all(const uint8_t* data, size_t n, uint64_t at) {
    while (n > 0) {
      ssize_t done = ::pwrite(fd_, data, n, static_cast<off_t>(at));
      if (done < 0 && errno == EINTR) continue;
      if (done <= 0) throw Error(path_ + ": write failed at offset " + hex(at) + ": " + std::strerror(errno));
      data += done;
      n -= static_cast<size_t>(done);
      at += static_cast<uint64_t>(done);
    }
  }
  std::string path_;
  int fd_ = -1;
  std::vector<uint8_t> buffer_;
  uint64_t offset_ = 0;
};

// Reads the data stream (the ranges' bytes, concatenated) in order.
class DataStream {
 public:
  DataStream(PhysicalLayer& source, std::vector<Range> ranges) : source_(source), ranges_(std::move(ranges)) {}
  void read(uint8_t* out, size_t n) {
    while (n > 0) {
      if (range_ >= ranges_.size()) throw Error(source_.path() + ": ranges ended before the data stream did");
      const Range& r = ranges_[range_];
      size_t take = static_cast<size_t>(std::min<uint64_t>(n, r.size - inside_));
      const uint64_t at = r.start + inside_;
      if (known_zero(at, take)) {
        // A hole of a sparse source (or a zero block of a compressed one):
        // reading it through the mapping would only fault in zero pages.
        std::memset(out, 0, take);
      } else {
        IoResult result = source_.read(at, out, take);
        if (!result.ok())
          throw Error(source_.path() + ": " + result.fault->message() + " (inside a range the image lists)");
        // Read once: keep the source's pages out of this process (converting
        // a 256 GB image must not make it 256 GB resident).
        source_.release(at, take);
      }
      out += take;
      n -= take;
      inside_ += take;
      if (inside_ == r.size) {
        ++range_;
        inside_ = 0;
      }
    }
  }

  // True when the source's index says [at, at + n) is all zeros.
  bool known_zero(uint64_t at, size_t n) const {
    uint64_t covered = at;
    source_.extents(at, at + n, [&](const PhysicalExtent& e) {
      if (e.kind != ExtentKind::kZero || e.start != covered) return false;
      covered = e.end();
      return true;
    });
    return covered == at + n;
  }

 private:
  PhysicalLayer& source_;
  std::vector<Range> ranges_;
  size_t range_ = 0;
  uint64_t inside_ = 0;
};

// Hashes the source file on its own thread, never more than kLead bytes
// ahead of the compressor, so that on images larger than RAM both read the
// same pages while they are still cached.
class SourceFileHasher {
 public:
  static constexpr uint64_t kLead = 256ull << 20;
  explicit SourceFileHasher(std::string path) : file_(std::move(path)) {
    thread_ = std::thread([this] { run(); });
  }
  ~SourceFileHasher() {
    {
      std::lock_guard lock(mutex_);
      cancelled_ = true;
      allowed_ = UINT64_MAX;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  void allow_up_to(uint64_t bytes) {
    {
      std::lock_guard lock(mutex_);
      allowed_ = bytes + kLead;
    }
    changed_.notify_all();
  }
  Sha256Digest result() {
    allow_up_to(UINT64_MAX - kLead);
    thread_.join();
    if (error_) std::rethrow_exception(error_);
    return digest_;
  }
  uint64_t size() const { return file_.size(); }

 private:
  void run() {
    try {
      Sha256 hash;
      constexpr uint64_t kStep = 4ull << 20;
      file_.advise_sequential();
      for (uint64_t at = 0; at < file_.size();) {
        {
          std::unique_lock lock(mutex_);
          changed_.wait(lock, [&] { return cancelled_ || at < allowed_; });
          if (cancelled_) return;
        }
        uint64_t take = std::min(kStep, file_.size() - at);
        hash.update(file_.data() + at, take);
        file_.release(at, take);  // hashed once: not resident in this process
        at += take;
      }
      digest_ = hash.finish();
    } catch (...) {
      error_ = std::current_exception();
    }
  }
  MappedFile file_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  uint64_t allowed_ = kLead;
  bool cancelled_ = false;
  Sha256Digest digest_{};
  std::exception_ptr error_;
};

struct Slot {
  std::unique_ptr<uint8_t[]> data;
  std::unique_ptr<uint8_t[]> frame;
  size_t length = 0;
  size_t frame_size = 0;
  bool zero = false;
  uint32_t checksum = 0;
};

// A frame of `length` zero bytes, compressed with the fast compressor: the
// same bytes for every all-zero chunk of that length.
std::string make_zero_frame(uint64_t length) {
  auto zeros = std::make_unique<uint8_t[]>(length);  // value-initialised
  LZ4F_preferences_t prefs = frame_prefs(length, 1);
  std::string frame(LZ4F_compressFrameBound(length, &prefs), '\0');
  size_t n = LZ4F_compressFrame(frame.data(), frame.size(), zeros.get(), length, &prefs);
  if (LZ4F_isError(n)) throw Error(std::string("lz4-seekable: LZ4 compression failed: ") + LZ4F_getErrorName(n));
  frame.resize(n);
  return frame;
}

}  // namespace

std::string lz4_seekable_zero_frame(uint64_t length) {
  static std::mutex mutex;
  static std::vector<std::pair<uint64_t, std::string>> cache;
  std::lock_guard lock(mutex);
  for (const auto& [len, frame] : cache)
    if (len == length) return frame;
  if (cache.size() > 16) cache.erase(cache.begin());
  cache.emplace_back(length, make_zero_frame(length));
  return cache.back().second;
}

Lz4WriteResult write_lz4_seekable(PhysicalLayer& source, const std::string& out_path, const Lz4WriteOptions& options) {
  const uint64_t chunk_size = options.chunk_size;
  if (!lz4s::valid_chunk_size(chunk_size))
    throw Error("chunk size " + std::to_string(chunk_size) + " is not a power of two between 4 KiB and 64 MiB");
  if (options.level > LZ4F_compressionLevel_max())
    throw Error("LZ4 level " + std::to_string(options.level) + " is above the maximum, " +
                std::to_string(LZ4F_compressionLevel_max()));
  unsigned threads = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());

  lz4s::Metadata meta;
  meta.chunk_size = chunk_size;
  source.ranges([&](const Range& r) {
    if (r.size) meta.ranges.push_back(r);
    return true;
  });
  for (const Range& r : meta.ranges) {
    if (meta.data_size + r.size < meta.data_size) throw Error(source.path() + ": ranges add up past 2^64 bytes");
    meta.data_size += r.size;
  }
  meta.chunk_count = lz4s::chunk_count_for(meta.data_size, chunk_size);
  meta.source_format = source.format();
  meta.source_name = std::filesystem::path(source.path()).filename().string();
  meta.source_size = source.file_size();
  meta.created = utc_now_iso8601();
  meta.tool = std::string("memscope ") + MEMSCOPE_VERSION;
  meta.notes = source.notes();
  meta.source_warnings = source.warnings();

  // A raw image's file is its data stream: one hash serves both.
  const bool file_is_data = meta.ranges.size() == 1 && meta.ranges[0].start == 0 &&
                            meta.ranges[0].size == source.file_size() && source.format() == "raw";
  std::unique_ptr<SourceFileHasher> file_hasher;
  std::error_code ec;
  if (options.hash_source_file && !file_is_data && std::filesystem::is_regular_file(source.path(), ec))
    file_hasher = std::make_unique<SourceFileHasher>(source.path());

  OutputFile out(out_path);
  std::vector<uint8_t> meta_frame = lz4s::encode_metadata_frame(meta);  // hashes patched at the end
  out.write(meta_frame.data(), meta_frame.size());
  const uint64_t first_frame_offset = out.offset();

  Lz4WriteResult result;
  result.data_bytes = meta.data_size;
  result.chunks = meta.chunk_count;
  std::vector<lz4s::SeekEntry> entries;
  entries.reserve(meta.chunk_count);

  const size_t bound = frame_bound(chunk_size, options.level);
  const unsigned window = 2 * threads;
  std::vector<Slot> slots(window);
  for (Slot& slot : slots) {
    slot.data = std::make_unique_for_overwrite<uint8_t[]>(chunk_size);
    slot.frame = std::make_unique_for_overwrite<uint8_t[]>(bound);
  }
  const std::string zero_frame = lz4_seekable_zero_frame(chunk_size);
  const uint64_t last_length =
      meta.chunk_count ? lz4s::chunk_length(meta.chunk_count - 1, meta.data_size, chunk_size) : 0;
  const std::string last_zero_frame = last_length && last_length != chunk_size ? lz4_seekable_zero_frame(last_length)
                                                                               : zero_frame;

  // The source is read in order, one chunk at a time, by whichever worker's
  // turn it is; compression runs in parallel.
  DataStream stream(source, meta.ranges);
  std::mutex read_mutex;
  std::condition_variable read_turn;
  uint64_t next_to_read = 0;
  constexpr uint64_t kReadFailed = UINT64_MAX;

  // One compression context per worker thread, reused across chunks.
  struct CctxDeleter {
    void operator()(LZ4F_cctx* c) const { LZ4F_freeCompressionContext(c); }
  };

  Sha256 data_hash;
  uint64_t written_data = 0;

  auto work = [&](uint64_t index, Slot& slot) {
    thread_local std::unique_ptr<LZ4F_cctx, CctxDeleter> cctx;
    if (!cctx) {
      LZ4F_cctx* c = nullptr;
      if (LZ4F_isError(LZ4F_createCompressionContext(&c, LZ4F_VERSION))) throw Error("lz4-seekable: out of memory");
      cctx.reset(c);
    }
    slot.length = lz4s::chunk_length(index, meta.data_size, chunk_size);
    {
      std::unique_lock lock(read_mutex);
      read_turn.wait(lock, [&] { return next_to_read == index || next_to_read == kReadFailed; });
      if (next_to_read == kReadFailed) throw Error("lz4-seekable: stopped after a read error");
      try {
        stream.read(slot.data.get(), slot.length);
      } catch (...) {
        next_to_read = kReadFailed;  // nobody reads after a failure
        read_turn.notify_all();
        throw;
      }
      ++next_to_read;
    }
    read_turn.notify_all();
    slot.zero = all_zero(slot.data.get(), slot.length);
    if (slot.zero) return;
    slot.frame_size = compress_chunk(cctx.get(), slot.data.get(), slot.length, options.level, slot.frame.get(), bound);
    slot.checksum = lz4s::load_u32(slot.frame.get() + slot.frame_size - 4);
  };

  auto emit = [&](uint64_t index, Slot& slot) {
    lz4s::SeekEntry entry;
    if (slot.zero) {
      const std::string& frame = index + 1 == meta.chunk_count ? last_zero_frame : zero_frame;
      out.write(reinterpret_cast<const uint8_t*>(frame.data()), frame.size());
      entry.compressed_size = static_cast<uint32_t>(frame.size());
      entry.checksum = lz4s::load_u32(reinterpret_cast<const uint8_t*>(frame.data()) + frame.size() - 4);
      entry.flags = lz4s::kChunkAllZero;
      ++result.zero_chunks;
    } else {
      out.write(slot.frame.get(), slot.frame_size);
      entry.compressed_size = static_cast<uint32_t>(slot.frame_size);
      entry.checksum = slot.checksum;
    }
    entries.push_back(entry);
    data_hash.update(slot.data.get(), slot.length);
    written_data += slot.length;
    if (file_hasher) file_hasher->allow_up_to(written_data);
    if (options.progress) options.progress->advance(slot.length);
  };

  // Workers waiting for their turn to read always get it: indices are
  // handed out in order, and a failed read releases them all (kReadFailed).
  run_ordered(meta.chunk_count, threads, slots, work, emit);

  std::vector<uint8_t> table = lz4s::encode_seek_table_frame(entries, first_frame_offset);
  out.write(table.data(), table.size());

  result.data_sha256 = data_hash.finish();
  meta.data_sha256 = result.data_sha256;
  if (file_is_data && options.hash_source_file)
    meta.source_sha256 = result.data_sha256;
  else if (file_hasher)
    meta.source_sha256 = file_hasher->result();
  result.source_sha256 = meta.source_sha256;
  // Same sizes as the placeholder frame: only the hashes, flags and CRC change.
  std::vector<uint8_t> final_meta = lz4s::encode_metadata_frame(meta);
  if (final_meta.size() != meta_frame.size()) throw Error("lz4-seekable: internal error: metadata size changed");
  out.pwrite_at(0, final_meta.data(), final_meta.size());
  result.output_bytes = out.offset();
  out.close();
  if (options.progress) options.progress->finish();
  return result;
}

void verify_lz4_seekable(const std::string& path, unsigned threads, Progress* progress) {
  auto file = std::make_shared<const MappedFile>(path);
  // A private cache: verification must decompress, not trust earlier reads.
  ChunkCache cache(0);
  auto layer = Lz4SeekableLayer::open(file, cache);
  // Whatever the reader had to work around (a seek table it could not
  // use, chunks missing) is a file that was not written right. The
  // source's own warnings, which the reader repeats first, are not.
  const lz4s::Metadata& meta = layer->metadata();
  const size_t repeated = repeat_source_warnings(path, meta.source_name, meta.source_warnings).size();
  if (layer->warnings().size() > repeated)
    throw FormatError(path + ": verification failed: " + layer->warnings()[repeated]);
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  struct Buffer {
    std::unique_ptr<uint8_t[]> bytes;
    size_t length = 0;
  };
  std::vector<Buffer> slots(2 * threads);
  for (Buffer& b : slots) b.bytes = std::make_unique_for_overwrite<uint8_t[]>(meta.chunk_size);
  Sha256 hash;
  run_ordered(
      meta.chunk_count, threads, slots,
      [&](uint64_t index, Buffer& b) {
        b.length = lz4s::chunk_length(index, meta.data_size, meta.chunk_size);
        layer->decompress_chunk_unmapped(index, b.bytes.get());  // read once: never resident
      },
      [&](uint64_t, Buffer& b) {
        hash.update(b.bytes.get(), b.length);
        if (progress) progress->advance(b.length);
      });
  Sha256Digest digest = hash.finish();
  if (!meta.data_sha256)
    throw FormatError(path + ": lz4-seekable metadata has no data SHA-256 to verify against");
  if (digest != *meta.data_sha256)
    throw FormatError(path + ": verification failed: the data stream's SHA-256 is " + Sha256::to_hex(digest) +
                      " but the metadata records " + Sha256::to_hex(*meta.data_sha256));
  if (progress) progress->finish();
}

}  // namespace memscope

namespace memscope {
namespace {

void check_lz4_request(const WriteRequest& request) {
  if (!lz4s::valid_chunk_size(request.chunk_size))
    throw Error("convert: chunk size " + std::to_string(request.chunk_size) +
                " is not a power of two between 4 KiB and 64 MiB");
}

WriteOutcome write_lz4(const WriteRequest& request) {
  Lz4WriteOptions options;
  options.chunk_size = request.chunk_size;
  options.level = request.level;
  options.threads = request.threads;
  options.progress = request.progress;
  Lz4WriteResult written = write_lz4_seekable(request.source, request.out_path, options);
  return WriteOutcome{.chunks = written.chunks,
                      .zero_chunks = written.zero_chunks,
                      .data_sha256 = Sha256::to_hex(written.data_sha256)};
}

// The file's own checksums (per chunk, and the data stream's SHA-256) are
// the stronger check, and cost one parallel pass.
void verify_lz4(const std::string& path, const WriteRequest& request) {
  verify_lz4_seekable(path, request.threads, request.progress);
}

}  // namespace

MEMSCOPE_REGISTER(image_writer_registry(), ImageWriter{
  .name = "lz4",
  .format = "lz4-seekable",
  .description = "seekable LZ4 (docs/formats/lz4-seekable.md): random access, checksummed",
  .uses_chunking = true,
  .check = check_lz4_request,
  .write = write_lz4,
  .verify = verify_lz4,
});

}  // namespace memscope
