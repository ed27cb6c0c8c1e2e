#include "core/layers/overlay_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/layers/mapped_file.h"
#include "core/layers/physical_layer.h"

namespace memscope {
namespace {

// Layout (docs/overlay-format.md). All integers little-endian.
constexpr char kMagic[8] = {'M', 'S', 'O', 'V', 'R', 'L', 'A', 'Y'};
constexpr char kEndMagic[8] = {'M', 'S', 'O', 'V', 'R', 'E', 'N', 'D'};
constexpr uint64_t kPage = Overlay::kPageSize;
constexpr uint64_t kFixedHeader = 48;            // up to the image path
constexpr uint64_t kHeaderCrc = 4;               // after the fingerprint
constexpr uint64_t kRecordSize = 8 + kPage + 4;  // physical, bytes, crc
constexpr uint64_t kTrailerSize = 24;
constexpr uint64_t kMaxString = 4096;  // image path and fingerprint

uint32_t crc(const uint8_t* bytes, size_t n, uint32_t previous = 0) {
  // zlib's crc32 takes uInt lengths; every piece here is small.
  return static_cast<uint32_t>(::crc32(previous, bytes, static_cast<uInt>(n)));
}

void put_u32(std::vector<uint8_t>& out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}
void put_u64(std::vector<uint8_t>& out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}
uint32_t get_u32(const uint8_t* at) {
  uint32_t value = 0;
  for (int i = 3; i >= 0; --i) value = (value << 8) | at[i];
  return value;
}
uint64_t get_u64(const uint8_t* at) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | at[i];
  return value;
}

std::string system_error(const std::string& what, const std::string& path) {
  return path + ": " + what + ": " + std::strerror(errno);
}

// Buffered writes to a file descriptor, throwing Error on failure.
class Writer {
 public:
  Writer(int fd, const std::string& path) : fd_(fd), path_(path) { buffer_.reserve(kCapacity); }
  void append(const uint8_t* bytes, size_t n) {
    buffer_.insert(buffer_.end(), bytes, bytes + n);
    if (buffer_.size() >= kCapacity) flush();
  }
  void append(const std::vector<uint8_t>& bytes) { append(bytes.data(), bytes.size()); }
  void flush() {
    size_t done = 0;
    while (done < buffer_.size()) {
      ssize_t wrote = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
      if (wrote < 0 && errno == EINTR) continue;
      if (wrote <= 0) throw Error(system_error("cannot write overlay file", path_));
      done += static_cast<size_t>(wrote);
    }
    buffer_.clear();
  }

 private:
  static constexpr size_t kCapacity = 1 << 20;
  int fd_;
  const std::string& path_;
  std::vector<uint8_t> buffer_;
};

std::vector<uint8_t> encode_header(const ImageIdentity& image, uint64_t page_count) {
  // Built from the magic rather than inserted into an empty vector: GCC 12
  // at -O3 reports a false -Wstringop-overflow on the insert.
  std::vector<uint8_t> header(kMagic, kMagic + 8);
  put_u32(header, kOverlayFormatVersion);
  put_u32(header, static_cast<uint32_t>(kFixedHeader + image.path.size() + image.fingerprint.size() + kHeaderCrc));
  put_u32(header, static_cast<uint32_t>(kPage));
  put_u32(header, 0);  // flags
  put_u64(header, page_count);
  put_u64(header, image.size);
  put_u32(header, static_cast<uint32_t>(image.path.size()));
  put_u32(header, static_cast<uint32_t>(image.fingerprint.size()));
  header.insert(header.end(), image.path.begin(), image.path.end());
  header.insert(header.end(), image.fingerprint.begin(), image.fingerprint.end());
  put_u32(header, crc(header.data(), header.size()));
  return header;
}

// Validates and decodes a mapped overlay file. Every failure names the file
// and the offset of the field at fault.
class Reader {
 public:
  explicit Reader(const MappedFile& file) : file_(file), data_(file.data()), size_(file.size()) {}

  OverlayFileContents read() {
    OverlayFileContents contents;
    OverlayFileInfo& info = contents.info;
    if (size_ < kFixedHeader + kHeaderCrc)
      fail(0, "truncated: " + std::to_string(size_) + " bytes, an overlay header needs at least " +
                  std::to_string(kFixedHeader + kHeaderCrc));
    if (std::memcmp(data_, kMagic, 8) != 0) fail(0, "not a memscope overlay file (wrong magic)");
    info.version = get_u32(data_ + 8);
    if (info.version != kOverlayFormatVersion)
      fail(8, "unsupported overlay format version " + std::to_string(info.version) + " (this build reads version " +
                  std::to_string(kOverlayFormatVersion) + ")");
    uint64_t path_length = get_u32(data_ + 40);
    uint64_t fingerprint_length = get_u32(data_ + 44);
    if (path_length > kMaxString) fail(40, "image path length " + std::to_string(path_length) + " exceeds 4096");
    if (fingerprint_length > kMaxString)
      fail(44, "fingerprint length " + std::to_string(fingerprint_length) + " exceeds 4096");
    uint64_t header_size = kFixedHeader + path_length + fingerprint_length + kHeaderCrc;
    if (get_u32(data_ + 12) != header_size)
      fail(12, "header size " + std::to_string(get_u32(data_ + 12)) + " does not match its string lengths (" +
                   std::to_string(header_size) + ")");
    if (header_size > size_)
      fail(size_, "truncated inside the header (needs " + std::to_string(header_size) + " bytes)");
    uint64_t crc_offset = header_size - kHeaderCrc;
    uint32_t stored_header_crc = get_u32(data_ + crc_offset);
    uint32_t header_crc = crc(data_, crc_offset);
    if (stored_header_crc != header_crc)
      fail(crc_offset, "header checksum mismatch (stored " + hex(stored_header_crc) + ", computed " +
                           hex(header_crc) + ")");
    if (get_u32(data_ + 16) != kPage)
      fail(16, "page size " + std::to_string(get_u32(data_ + 16)) + " (only 4096 is supported)");
    if (get_u32(data_ + 20) != 0) fail(20, "unknown flags " + hex(get_u32(data_ + 20)));
    info.pages = get_u64(data_ + 24);
    info.image.size = get_u64(data_ + 32);
    info.image.path.assign(reinterpret_cast<const char*>(data_ + kFixedHeader), path_length);
    info.image.fingerprint.assign(reinterpret_cast<const char*>(data_ + kFixedHeader + path_length),
                                  fingerprint_length);

    // The size must be exact before anything is allocated for the pages.
    uint64_t room = size_ - header_size;
    if (info.pages > room / kRecordSize || info.pages * kRecordSize + kTrailerSize > room)
      fail(size_, "truncated: " + std::to_string(info.pages) + " pages (count at offset 0x18) need " +
                      std::to_string(info.pages) + " records and a trailer, the file ends first");
    uint64_t expected = header_size + info.pages * kRecordSize + kTrailerSize;
    if (size_ != expected)
      fail(expected, std::to_string(size_ - expected) +
                         " unexpected bytes after the trailer (extended file or wrong page count at offset 0x18)");

    uint32_t pages_crc = 0;
    uint64_t previous = 0;
    contents.pages.reserve(static_cast<size_t>(info.pages));
    for (uint64_t index = 0; index < info.pages; ++index) {
      uint64_t offset = header_size + index * kRecordSize;
      const uint8_t* record = data_ + offset;
      uint32_t stored = get_u32(record + 8 + kPage);
      uint32_t computed = crc(record, 8 + kPage);
      if (stored != computed)
        fail(offset, "checksum mismatch in page record " + std::to_string(index) + " (stored " + hex(stored) +
                         ", computed " + hex(computed) + ")");
      uint64_t physical = get_u64(record);
      if (physical % kPage) fail(offset, "page address " + hex(physical) + " is not page-aligned");
      if (index > 0 && physical <= previous)
        fail(offset, "page address " + hex(physical) + " does not follow " + hex(previous) +
                         " (records must be strictly ascending)");
      previous = physical;
      pages_crc = crc(record, kRecordSize, pages_crc);
      auto page = std::make_unique<Overlay::Page>();
      std::memcpy(page->data(), record + 8, kPage);
      contents.pages.emplace(physical, std::move(page));
    }

    uint64_t trailer = header_size + info.pages * kRecordSize;
    const uint8_t* end = data_ + trailer;
    if (std::memcmp(end, kEndMagic, 8) != 0) fail(trailer, "trailer magic missing");
    uint32_t trailer_crc = crc(end, 20);
    if (get_u32(end + 20) != trailer_crc)
      fail(trailer + 20, "trailer checksum mismatch (stored " + hex(get_u32(end + 20)) + ", computed " +
                             hex(trailer_crc) + ")");
    if (get_u64(end + 8) != info.pages)
      fail(trailer + 8, "trailer page count " + std::to_string(get_u64(end + 8)) + " differs from the header's " +
                            std::to_string(info.pages));
    if (get_u32(end + 16) != pages_crc)
      fail(trailer + 16, "checksum of all page records mismatch (stored " + hex(get_u32(end + 16)) +
                             ", computed " + hex(pages_crc) + ")");
    return contents;
  }

 private:
  [[noreturn]] void fail(uint64_t offset, const std::string& why) const {
    throw FormatError(file_.path() + ": offset " + hex(offset) + ": " + why);
  }

  const MappedFile& file_;
  const uint8_t* data_;
  uint64_t size_;
};

}  // namespace

namespace {

// The evidence is never an output: renaming the overlay over it would give
// the evidence's name to the overlay. Compared by device and inode, so no
// spelling of the path (a symlink, "./", a hard link) gets past.
void refuse_evidence(const Overlay& overlay, const ImageIdentity& image, const std::string& path) {
  struct stat target {};
  if (::stat(path.c_str(), &target) != 0) return;  // a new file
  std::vector<std::string> evidence{image.path};
  for (const AddressSpace* layer = overlay.below(); layer; layer = layer->below())
    if (const auto* physical = dynamic_cast<const PhysicalLayer*>(layer)) evidence.push_back(physical->path());
  for (const std::string& image_path : evidence) {
    struct stat st {};
    if (!image_path.empty() && ::stat(image_path.c_str(), &st) == 0 && st.st_dev == target.st_dev &&
        st.st_ino == target.st_ino)
      throw Error(path + ": is the evidence image " + image_path + "; refusing to write an overlay over it");
  }
}

}  // namespace

void save_overlay(const Overlay& overlay, const ImageIdentity& image, const std::string& path) {
  refuse_evidence(overlay, image, path);
  if (image.path.size() > kMaxString || image.fingerprint.size() > kMaxString)
    throw Error(path + ": image path or fingerprint longer than 4096 bytes cannot be stored in an overlay file");
  std::vector<uint64_t> addresses = overlay.dirty_page_addresses();

  std::string temp = path + ".tmp-XXXXXX";
  int fd = ::mkstemp(temp.data());
  if (fd < 0) throw Error(system_error("cannot create a temporary file next to the overlay file", path));
  try {
    Writer writer(fd, temp);
    writer.append(encode_header(image, addresses.size()));
    uint32_t pages_crc = 0;
    std::vector<uint8_t> record;
    for (uint64_t address : addresses) {
      record.clear();
      put_u64(record, address);
      const uint8_t* bytes = overlay.dirty_page(address);
      record.insert(record.end(), bytes, bytes + kPage);
      put_u32(record, crc(record.data(), record.size()));
      pages_crc = crc(record.data(), record.size(), pages_crc);
      writer.append(record);
    }
    std::vector<uint8_t> trailer(kEndMagic, kEndMagic + 8);
    put_u64(trailer, addresses.size());
    put_u32(trailer, pages_crc);
    put_u32(trailer, crc(trailer.data(), trailer.size()));
    writer.append(trailer);
    writer.flush();
    if (::fsync(fd) != 0) throw Error(system_error("cannot flush overlay file", temp));
    int closed = ::close(fd);
    fd = -1;
    if (closed != 0) throw Error(system_error("cannot close overlay file", temp));
    if (::rename(temp.c_str(), path.c_str()) != 0) throw Error(system_error("cannot rename " + temp + " to", path));
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
}

OverlayFileContents read_overlay_file(const std::string& path) {
  // MappedFile refuses empty files with a generic message: name the format
  // problem instead.
  struct stat status {};
  if (::stat(path.c_str(), &status) == 0 && S_ISREG(status.st_mode) && status.st_size == 0)
    throw FormatError(path + ": offset 0x0: truncated: the overlay file is empty");
  MappedFile file(path);
  return Reader(file).read();
}

OverlayFileInfo load_overlay(Overlay& overlay, const ImageIdentity& image, const std::string& path,
                             IdentityCheck check) {
  OverlayFileContents contents = read_overlay_file(path);
  OverlayFileInfo& info = contents.info;
  std::vector<std::string> mismatches;
  if (info.image.size != image.size)
    mismatches.push_back("it was saved for an image of " + std::to_string(info.image.size) +
                         " bytes, this image has " + std::to_string(image.size));
  if (!info.image.fingerprint.empty() && !image.fingerprint.empty() &&
      info.image.fingerprint != image.fingerprint)
    mismatches.push_back("image fingerprint differs (saved \"" + info.image.fingerprint + "\", this image \"" +
                         image.fingerprint + "\")");
  if (!mismatches.empty() && check == IdentityCheck::strict) {
    std::string message = path + ": overlay does not belong to " + image.path + ":";
    for (const std::string& why : mismatches) message += " " + why + ";";
    message.pop_back();
    throw Error(message);
  }
  for (std::string& why : mismatches) info.warnings.push_back(path + ": " + why);
  if (info.image.path != image.path)
    info.warnings.push_back(path + ": saved for image path " + info.image.path + ", loading onto " + image.path);

  AddressSpace* lower = overlay.below();
  for (const auto& [address, bytes] : contents.pages)
    if (lower && !lower->is_readable(address, kPage))
      throw Error(path + ": page " + hex(address) + " is not in the image below the overlay (" + lower->name() +
                  "): wrong image?");
  overlay.replace_pages(std::move(contents.pages));
  return info;
}

}  // namespace memscope
