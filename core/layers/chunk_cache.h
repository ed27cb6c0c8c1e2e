// A bounded, thread-safe LRU cache of decompressed blocks, shared by every
// compressed image format (seekable LZ4 chunks, plain .lz4 blocks, and later
// kdump-compressed pages and AVML blocks). Blocks are keyed by (layer id,
// block index); each layer takes a fresh id with new_layer_id() and drops
// its blocks with drop_layer() when it goes away.
//
// Blocks are handed out as shared pointers: a block being read stays alive
// even if another thread evicts it meanwhile, so the bound applies to what
// the cache holds, not to what callers still hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace memscope {

// A buffer of decompressed bytes, allocated without zero-filling (the
// decompressor writes every byte) and page-aligned: a 4 KiB read of a
// page-aligned address then touches one page, not two (measured: aligned
// copies out of the cache run ~1.5x faster). The alignment is done by hand
// over a plain new[]: glibc's aligned allocation of MiB-sized blocks goes to
// mmap every time, and the page faults of fresh memory halved sequential
// reads once the cache started evicting.
class CachedBlock {
 public:
  static constexpr size_t kAlignment = 4096;
  explicit CachedBlock(size_t size)
      : storage_(std::make_unique_for_overwrite<uint8_t[]>(size + kAlignment)),
        bytes_(storage_.get() + (kAlignment - reinterpret_cast<uintptr_t>(storage_.get()) % kAlignment) % kAlignment),
        size_(size) {}
  uint8_t* data() { return bytes_; }
  const uint8_t* data() const { return bytes_; }
  size_t size() const { return size_; }

 private:
  std::unique_ptr<uint8_t[]> storage_;
  uint8_t* bytes_;
  size_t size_;
};
using BlockRef = std::shared_ptr<const CachedBlock>;

class ChunkCache {
 public:
  struct Key {
    uint64_t layer = 0;
    uint64_t block = 0;
    bool operator==(const Key&) const = default;
  };
  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;     // loads started
    uint64_t evictions = 0;
    uint64_t bytes = 0;      // held now
    uint64_t blocks = 0;     // held now
    uint64_t capacity = 0;
  };

  explicit ChunkCache(size_t capacity_bytes);
  ChunkCache(const ChunkCache&) = delete;
  ChunkCache& operator=(const ChunkCache&) = delete;

  // The process-wide cache the image formats use by default, sized by
  // default_capacity().
  static ChunkCache& shared();
  // 256 MiB, or $MEMSCOPE_CHUNK_CACHE (bytes, with an optional K/M/G suffix).
  static size_t default_capacity();
  // A fresh layer id (never 0, never reused in this process).
  static uint64_t new_layer_id();

  // The block for `key`: from the cache, or made by `load` (called without
  // the cache's lock; threads asking for the same key meanwhile wait for that
  // one load instead of repeating it). If `load` throws, every waiter gets
  // the exception and nothing is cached. A block larger than the capacity is
  // returned but not kept.
  BlockRef get(const Key& key, const std::function<BlockRef()>& load);
  // The cached block, or nullptr (counts neither hit nor miss).
  BlockRef find(const Key& key);
  // Forgets every block of `layer`.
  void drop_layer(uint64_t layer);
  // Changes the bound, evicting least recently used blocks as needed.
  void set_capacity(size_t bytes);
  size_t capacity() const;
  Stats stats() const;

 private:
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept {
      return std::hash<uint64_t>{}(k.block * 0x9e3779b97f4a7c15ull ^ k.layer);
    }
  };
  struct Entry {
    BlockRef block;
    std::list<Key>::iterator lru;  // position in lru_ (front: most recent)
  };

  void insert_locked(const Key& key, BlockRef block);
  void evict_locked(size_t target_bytes);

  mutable std::mutex mutex_;
  size_t capacity_;
  size_t bytes_ = 0;
  std::list<Key> lru_;
  std::unordered_map<Key, Entry, KeyHash> entries_;
  std::unordered_map<Key, std::shared_future<BlockRef>, KeyHash> loading_;
  Stats stats_;
};

}  // namespace memscope
