#include "formats/plain_writers.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/hex.h"
#include "core/physical_layer.h"
#include "formats/lime_format.h"
#include "formats/qemu_cpu_note.h"

namespace memscope {
namespace {

constexpr uint64_t kElfDataAlignment = 4096;

// The output file: written sequentially, with holes left by seeking.
class OutputFile {
 public:
  explicit OutputFile(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(path_ + ": cannot create: " + std::strerror(errno));
  }
  ~OutputFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  const std::string& path() const { return path_; }

  void write(const void* data, size_t n) {
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

  // Advances over n zero bytes: a sparse hole on files that can seek,
  // written zeros on pipes.
  void skip_zeros(uint64_t n) {
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

  void finish() {
    // A hole at the very end exists only once the file size covers it.
    if (seeked_ && ::ftruncate(fd_, static_cast<off_t>(position_)) != 0)
      fail("cannot set the file size to " + hex(position_));
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("cannot close");
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(path_ + ": " + what + ": " + std::strerror(errno));
  }

  std::string path_;
  int fd_ = -1;
  uint64_t position_ = 0;
  bool seeked_ = false;
};

// Opening out_path truncates it: if it is the very file the source reads
// from, the evidence would be destroyed (and the mmap would fault).
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

// Sorted, non-empty, non-overlapping copies of `ranges`.
std::vector<Range> normalize(std::vector<Range> ranges, const std::string& out_path) {
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

// Copies ranges from the source to the output in bounded chunks.
class Copier {
 public:
  Copier(AddressSpace& source, OutputFile& out, const ProgressFn& progress, uint64_t total)
      : source_(source), out_(out), progress_(progress), total_(total) {}

  void copy(const Range& range) {
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

  void advance(uint64_t n) {
    done_ += n;
    if (progress_) progress_(done_, total_);
  }

 private:
  AddressSpace& source_;
  OutputFile& out_;
  const ProgressFn& progress_;
  uint64_t total_;
  uint64_t done_ = 0;
  std::vector<uint8_t> buffer_;
};

uint64_t align_up(uint64_t value, uint64_t alignment) { return (value + alignment - 1) & ~(alignment - 1); }

void append_note(std::string& out, std::string_view owner, uint32_t type, std::string_view descriptor,
                 const std::string& out_path) {
  if (descriptor.size() > std::numeric_limits<uint32_t>::max())
    throw Error(out_path + ": note " + std::string(owner) + " is too large for an ELF note");
  Elf64_Nhdr header{};
  header.n_namesz = static_cast<uint32_t>(owner.size() + 1);
  header.n_descsz = static_cast<uint32_t>(descriptor.size());
  header.n_type = type;
  out.append(reinterpret_cast<const char*>(&header), sizeof header);
  out.append(owner);
  out.push_back('\0');
  out.resize(align_up(out.size(), 4), '\0');
  out.append(descriptor);
  out.resize(align_up(out.size(), 4), '\0');
}

std::string build_notes(const ImageNotes& notes, const std::string& out_path) {
  std::string blob;
  if (!notes.vmcoreinfo.empty()) append_note(blob, "VMCOREINFO", 0, notes.vmcoreinfo, out_path);
  for (const CpuState& cpu : notes.cpus)
    if (cpu.cr0 || cpu.cr3 || cpu.cr4)
      append_note(blob, qemu_note::kOwner, qemu_note::kType, qemu_note::encode_cpu_state(cpu), out_path);
  return blob;
}

}  // namespace

std::vector<Range> collect_ranges(const AddressSpace& source) {
  std::vector<Range> ranges;
  source.ranges([&](const Range& range) {
    ranges.push_back(range);
    return true;
  });
  return ranges;
}

void write_raw_image(AddressSpace& source, const std::vector<Range>& ranges, const std::string& out_path,
                     const ProgressFn& progress) {
  std::vector<Range> sorted = normalize(ranges, out_path);
  refuse_to_overwrite_evidence(source, out_path);
  uint64_t total = sorted.empty() ? 0 : sorted.back().end();
  if (!sorted.empty() && total == 0)
    throw Error(out_path + ": a raw image cannot reach physical 2^64 (its size would not fit a file)");
  OutputFile out(out_path);
  Copier copier(source, out, progress, total);
  uint64_t position = 0;
  for (const Range& range : sorted) {
    out.skip_zeros(range.start - position);
    copier.advance(range.start - position);
    copier.copy(range);
    position = range.end();
  }
  out.finish();
}

void write_lime_image(AddressSpace& source, const std::vector<Range>& ranges, const std::string& out_path,
                      const ProgressFn& progress) {
  std::vector<Range> sorted = normalize(ranges, out_path);
  refuse_to_overwrite_evidence(source, out_path);
  OutputFile out(out_path);
  Copier copier(source, out, progress, total_bytes(sorted));
  for (const Range& range : sorted) {
    lime::RangeHeader header;
    header.start = range.start;
    header.end_inclusive = range.start + (range.size - 1);
    out.write(&header, sizeof header);
    copier.copy(range);
  }
  out.finish();
}

void write_elf_core(AddressSpace& source, const std::vector<Range>& ranges, const ImageNotes& notes,
                    const std::string& out_path, const ProgressFn& progress) {
  std::vector<Range> sorted = normalize(ranges, out_path);
  refuse_to_overwrite_evidence(source, out_path);
  const std::string note_blob = build_notes(notes, out_path);

  const uint64_t header_count = sorted.size() + (note_blob.empty() ? 0 : 1);
  if (header_count > std::numeric_limits<uint32_t>::max())
    throw Error(out_path + ": " + std::to_string(sorted.size()) + " ranges are too many for an ELF core");
  // e_phnum is 16 bits: beyond PN_XNUM - 1 headers the count moves to
  // section header 0's sh_info (System V gABI "extended program header numbering").
  const bool extended = header_count >= PN_XNUM;

  uint64_t offset = sizeof(Elf64_Ehdr);
  const uint64_t section_offset = extended ? offset : 0;
  if (extended) offset += sizeof(Elf64_Shdr);
  const uint64_t program_offset = offset;
  offset += header_count * sizeof(Elf64_Phdr);
  const uint64_t note_offset = offset;
  offset += note_blob.size();
  const uint64_t data_offset = align_up(offset, kElfDataAlignment);

  Elf64_Ehdr ehdr{};
  std::memcpy(ehdr.e_ident, ELFMAG, SELFMAG);
  ehdr.e_ident[EI_CLASS] = ELFCLASS64;
  ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
  ehdr.e_ident[EI_VERSION] = EV_CURRENT;
  ehdr.e_ident[EI_OSABI] = ELFOSABI_NONE;
  ehdr.e_type = ET_CORE;
  ehdr.e_machine = EM_X86_64;
  ehdr.e_version = EV_CURRENT;
  ehdr.e_phoff = header_count ? program_offset : 0;
  ehdr.e_shoff = section_offset;
  ehdr.e_ehsize = sizeof(Elf64_Ehdr);
  ehdr.e_phentsize = sizeof(Elf64_Phdr);
  ehdr.e_phnum = static_cast<Elf64_Half>(extended ? PN_XNUM : header_count);
  ehdr.e_shentsize = extended ? sizeof(Elf64_Shdr) : 0;
  ehdr.e_shnum = extended ? 1 : 0;
  ehdr.e_shstrndx = SHN_UNDEF;

  std::vector<Elf64_Phdr> headers;
  headers.reserve(header_count);
  if (!note_blob.empty()) {
    Elf64_Phdr note{};
    note.p_type = PT_NOTE;
    note.p_offset = note_offset;
    note.p_filesz = note.p_memsz = note_blob.size();
    note.p_align = 4;
    headers.push_back(note);
  }
  uint64_t data_at = data_offset;
  for (const Range& range : sorted) {
    Elf64_Phdr load{};
    load.p_type = PT_LOAD;
    load.p_flags = PF_R | PF_W | PF_X;
    load.p_offset = data_at;
    load.p_vaddr = 0;
    load.p_paddr = range.start;
    load.p_filesz = load.p_memsz = range.size;
    headers.push_back(load);
    data_at += range.size;
  }

  OutputFile out(out_path);
  out.write(&ehdr, sizeof ehdr);
  if (extended) {
    Elf64_Shdr first{};
    first.sh_info = static_cast<Elf64_Word>(header_count);
    out.write(&first, sizeof first);
  }
  out.write(headers.data(), headers.size() * sizeof(Elf64_Phdr));
  out.write(note_blob.data(), note_blob.size());
  std::string padding(data_offset - offset, '\0');
  out.write(padding.data(), padding.size());

  Copier copier(source, out, progress, total_bytes(sorted));
  for (const Range& range : sorted) copier.copy(range);
  out.finish();
}

}  // namespace memscope
