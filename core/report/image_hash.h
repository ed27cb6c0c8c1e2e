// The SHA-256 of an evidence file, computed on a thread of its own while
// the plugins analyse the image: the report names the exact bytes it came
// from without a second pass over the file after the analysis. The thread
// reads the file sequentially with pread into one 1 MiB buffer (memory does
// not grow with the image) through the page cache the analysis also uses.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <thread>

namespace memscope {

class ImageHash {
 public:
  // Starts hashing `path` (returns at once).
  explicit ImageHash(std::string path);
  // Stops the thread early if result() was not called.
  ~ImageHash();
  ImageHash(const ImageHash&) = delete;
  ImageHash& operator=(const ImageHash&) = delete;

  // Waits for the thread: lowercase hex, or nullopt with the reason in
  // error() (unreadable file, a read error naming the offset, interrupted).
  std::optional<std::string> result();
  const std::string& error() const { return error_; }

 private:
  void run();

  std::string path_;
  std::atomic<bool> stop_{false};
  std::optional<std::string> digest_;
  std::string error_;
  std::thread thread_;
};

}  // namespace memscope
