// File identity (the key of every cache of derived data) and the
// head-and-tail content fingerprint.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/util/error.h"
#include "core/util/file_identity.h"
#include "core/util/sha256.h"
#include "support/temp_file.h"

using namespace memscope;
namespace fs = std::filesystem;

namespace {

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

// The fingerprint as its documentation states it, computed here independently.
std::string expected_fingerprint(const std::string& bytes, uint64_t window) {
  uint64_t size = bytes.size();
  uint64_t head = std::min(size, window);
  uint64_t tail = std::max(head, size > window ? size - window : size);
  Sha256 hash;
  hash.update(&size, sizeof size);
  hash.update(bytes.data(), head);
  hash.update(bytes.data() + tail, size - tail);
  return "head-tail-sha256:" + Sha256::to_hex(hash.finish());
}

}  // namespace

TEST_CASE("file identity: every change of the file changes it") {
  test::TempDir dir("file-identity");
  std::string path = dir.file("a.json");
  write_file(path, "0123456789");
  FileIdentity first = file_identity(path);
  CHECK(first.size == 10);
  CHECK(find_file_identity(path) == first);
  CHECK(file_identity(path) == first);  // stable while nothing happens
  int fd = ::open(path.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  CHECK(file_identity(fd, path) == first);
  ::close(fd);

  // Timestamps move in clock ticks: let one pass between changes.
  auto tick = [] { std::this_thread::sleep_for(std::chrono::milliseconds(20)); };
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);

  // The same size, the mtime put back: only the ctime tells.
  tick();
  write_file(path, "0123456780");
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
  FileIdentity edited = file_identity(path);
  CHECK(edited.size == first.size);
  CHECK(edited.mtime_ns == first.mtime_ns);
  CHECK(edited.inode == first.inode);
  CHECK(edited.ctime_ns != first.ctime_ns);
  CHECK_FALSE(edited == first);
  CHECK(edited.digest() != first.digest());

  // Touched: mtime and ctime.
  tick();
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), nullptr, 0) == 0);
  FileIdentity touched = file_identity(path);
  CHECK(touched.mtime_ns != edited.mtime_ns);

  // Replaced by another file: another inode.
  write_file(dir.file("b.json"), "0123456780");
  FileIdentity other = file_identity(dir.file("b.json"));
  fs::rename(dir.file("b.json"), path);
  FileIdentity replaced = file_identity(path);
  CHECK(replaced.inode == other.inode);
  CHECK(replaced.inode != first.inode);

  CHECK_THAT(touched.to_string(), Catch::Contains("ino " + std::to_string(touched.inode)) && Catch::Contains("ctime"));
}

TEST_CASE("file identity: a missing file or a directory has none") {
  test::TempDir dir("file-identity-missing");
  CHECK_FALSE(find_file_identity(dir.file("missing")));
  CHECK_FALSE(find_file_identity(dir.path()));
  CHECK_THROWS_WITH(file_identity(dir.file("missing")), Catch::Contains(dir.file("missing")));
  CHECK_THROWS_WITH(file_identity(dir.path()), Catch::Contains("not a regular file"));
}

TEST_CASE("file identity: each field counts in the digest") {
  FileIdentity base{1, 2, 3, 4, 5};
  for (int field = 0; field < 5; ++field) {
    FileIdentity changed = base;
    uint64_t* fields[] = {&changed.device, &changed.inode, &changed.size, reinterpret_cast<uint64_t*>(&changed.mtime_ns),
                          reinterpret_cast<uint64_t*>(&changed.ctime_ns)};
    *fields[field] += 1;
    CHECK(changed.digest() != base.digest());
  }
}

TEST_CASE("fingerprint: size and first and last bytes / from a path and from memory alike") {
  test::TempDir dir("fingerprint");
  const uint64_t window = 4096;
  for (size_t size : {size_t(0), size_t(1), size_t(4095), size_t(4096), size_t(8191), size_t(8192), size_t(8193),
                      size_t(100000)}) {
    INFO("size " << size);
    std::string bytes(size, '\0');
    for (size_t i = 0; i < size; ++i) bytes[i] = char(i * 131 + i / 7);
    std::string path = dir.file("f" + std::to_string(size));
    write_file(path, bytes);
    std::string expected = expected_fingerprint(bytes, window);
    CHECK(head_tail_fingerprint(path, window) == expected);
    CHECK(head_tail_fingerprint(bytes.data(), bytes.size(), window) == expected);
    CHECK(head_tail_fingerprint(path, window).rfind("head-tail-sha256:", 0) == 0);
  }
  // A copy has the same fingerprint; an edit in the middle of a large file
  // does not change it (that is what FileIdentity is for); one at either end does.
  std::string big(3 * window, 'x');
  write_file(dir.file("big"), big);
  write_file(dir.file("copy"), big);
  CHECK(head_tail_fingerprint(dir.file("big"), window) == head_tail_fingerprint(dir.file("copy"), window));
  big[big.size() / 2] = 'y';
  write_file(dir.file("copy"), big);
  CHECK(head_tail_fingerprint(dir.file("big"), window) == head_tail_fingerprint(dir.file("copy"), window));
  big[big.size() - 1] = 'y';
  write_file(dir.file("copy"), big);
  CHECK(head_tail_fingerprint(dir.file("big"), window) != head_tail_fingerprint(dir.file("copy"), window));
  CHECK_THROWS_WITH(head_tail_fingerprint(dir.file("missing")), Catch::Contains(dir.file("missing")));
}
