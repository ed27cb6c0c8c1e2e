#include "formats/writers/image_output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "core/layers/physical_layer.h"
#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope {

OutputFile::OutputFile(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(path_ + ": cannot create: " + std::strerror(errno));
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
}

void OutputFile::write(const void* data, size_t n) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  while (n > 0) {
    ssize_t written = ::write(fd_, bytes, n);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) fail("cannot write at offset " + hex(position_));
    bytes += written;
    n -= static_cast<size_t>(written);
    position_ += static_cast<uint64_t>(written);
  }
}

void OutputFile::skip_zeros(uint64_t n) {
  if (n == 0) return;
  constexpr uint64_t kMaxOffset = static_cast<uint64_t>(std::numeric_limits<off_t>::max());
  if (n > kMaxOffset - position_)
    throw Error(path_ + ": cannot extend the file by " + hex(n) + " bytes past " + hex(position_) +
                ": beyond the largest possible file");
  if (::lseek(fd_, static_cast<off_t>(position_ + n), SEEK_SET) >= 0) {
    position_ += n;
    seeked_ = true;
    return;
  }
  if (errno != ESPIPE) fail("cannot extend the file to " + hex(position_ + n));
  static const uint8_t zeros[64 * 1024] = {};
  while (n > 0) {
    size_t take = static_cast<size_t>(std::min<uint64_t>(n, sizeof zeros));
    write(zeros, take);
    n -= take;
  }
}

void OutputFile::finish() {
  // A hole at the very end exists only once the file size covers it.
  if (seeked_ && ::ftruncate(fd_, static_cast<off_t>(position_)) != 0)
    fail("cannot set the file size to " + hex(position_));
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("cannot close");
}

void OutputFile::fail(const std::string& what) const {
  throw Error(path_ + ": " + what + ": " + std::strerror(errno));
}

void refuse_to_overwrite_evidence(const AddressSpace& source, const std::string& out_path) {
  const AddressSpace* bottom = &source;
  for (int depth = 0; bottom->below() && depth < 64; ++depth) bottom = bottom->below();
  const auto* physical = dynamic_cast<const PhysicalLayer*>(bottom);
  if (!physical) return;
  struct stat out {}, in {};
  if (::stat(out_path.c_str(), &out) != 0 || ::stat(physical->path().c_str(), &in) != 0) return;
  if (out.st_dev == in.st_dev && out.st_ino == in.st_ino)
    throw Error(out_path + ": is the image being read (" + physical->path() + "); refusing to overwrite evidence");
}

std::vector<Range> normalize_ranges(std::vector<Range> ranges, const std::string& out_path) {
  std::erase_if(ranges, [](const Range& r) { return r.size == 0; });
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.start < b.start; });
  for (size_t i = 0; i < ranges.size(); ++i) {
    const Range& r = ranges[i];
    uint64_t last = r.start + (r.size - 1);
    if (last < r.start)
      throw Error(out_path + ": range " + hex(r.start) + " of " + hex(r.size) + " bytes wraps past 2^64");
    if (i > 0) {
      const Range& previous = ranges[i - 1];
      if (r.start <= previous.start + (previous.size - 1))
        throw Error(out_path + ": ranges overlap at physical " + hex(r.start));
    }
  }
  return ranges;
}

uint64_t total_bytes(const std::vector<Range>& ranges) {
  uint64_t total = 0;
  for (const Range& r : ranges) total += r.size;
  return total;
}

void Copier::copy(const Range& range) {
  for (uint64_t at = 0; at < range.size;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kWriteChunk, range.size - at));
    uint64_t address = range.start + at;
    // Zero-copy when the layer holds the bytes (mmap'd formats).
    const uint8_t* bytes = source_.peek(address, n);
    if (!bytes) {
      buffer_.resize(kWriteChunk);
      IoResult result = source_.read(address, buffer_.data(), n);
      if (result.done != n)
        throw Error(out_.path() + ": cannot copy physical " + hex(address) + ".." + hex(address + n) + ": " +
                    (result.fault ? result.fault->message() : source_.name() + ": short read"));
      bytes = buffer_.data();
    }
    out_.write(bytes, n);
    at += n;
    advance(n);
  }
}

void Copier::advance(uint64_t n) {
  done_ += n;
  if (progress_) progress_(done_, total_);
}

std::vector<Range> collect_ranges(const AddressSpace& source) {
  std::vector<Range> ranges;
  source.ranges([&](const Range& range) {
    ranges.push_back(range);
    return true;
  });
  return ranges;
}

}  // namespace memscope
