#include "core/layers/chunk_cache.h"

#include <atomic>
#include <cstdlib>
#include <optional>
#include <string>

#include "core/util/error.h"

namespace memscope {

ChunkCache::ChunkCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}

ChunkCache& ChunkCache::shared() {
  // Never destroyed: a layer owned by a static object (or closed from an
  // atexit handler of a C API user) drops its chunks during exit, possibly
  // after a function-local static here would already be gone.
  static ChunkCache* const cache = new ChunkCache(default_capacity());
  return *cache;
}

size_t ChunkCache::default_capacity() {
  constexpr size_t kDefault = 256ull << 20;
  const char* env = std::getenv("MEMSCOPE_CHUNK_CACHE");
  if (!env || !*env) return kDefault;
  char* end = nullptr;
  unsigned long long value = std::strtoull(env, &end, 10);
  if (end == env) return kDefault;
  switch (*end) {
    case 'k': case 'K': value <<= 10; break;
    case 'm': case 'M': value <<= 20; break;
    case 'g': case 'G': value <<= 30; break;
    default: break;
  }
  return static_cast<size_t>(value);
}

uint64_t ChunkCache::new_layer_id() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

BlockRef ChunkCache::find(const Key& key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.block;
}

BlockRef ChunkCache::get(const Key& key, const std::function<BlockRef()>& load) {
  std::optional<std::promise<BlockRef>> promise;  // only a miss pays for one
  {
    std::unique_lock lock(mutex_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      ++stats_.hits;
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return it->second.block;
    }
    auto pending = loading_.find(key);
    if (pending != loading_.end()) {
      ++stats_.hits;
      std::shared_future<BlockRef> future = pending->second;
      lock.unlock();
      return future.get();  // rethrows the loader's exception
    }
    ++stats_.misses;
    promise.emplace();
    loading_.emplace(key, promise->get_future().share());
  }

  BlockRef block;
  try {
    block = load();
  } catch (...) {
    std::lock_guard lock(mutex_);
    promise->set_exception(std::current_exception());
    loading_.erase(key);
    throw;
  }
  std::lock_guard lock(mutex_);
  promise->set_value(block);
  loading_.erase(key);
  if (block) insert_locked(key, block);
  return block;
}

void ChunkCache::insert_locked(const Key& key, BlockRef block) {
  size_t size = block->size();
  if (size > capacity_) return;
  auto it = entries_.find(key);
  if (it != entries_.end()) {  // a racing insert of the same key: keep the newest
    bytes_ -= it->second.block->size();
    lru_.erase(it->second.lru);
    entries_.erase(it);
  }
  evict_locked(capacity_ - size);
  lru_.push_front(key);
  entries_.emplace(key, Entry{std::move(block), lru_.begin()});
  bytes_ += size;
}

void ChunkCache::evict_locked(size_t target_bytes) {
  while (bytes_ > target_bytes && !lru_.empty()) {
    auto it = entries_.find(lru_.back());
    bytes_ -= it->second.block->size();
    entries_.erase(it);
    lru_.pop_back();
    ++stats_.evictions;
  }
}

void ChunkCache::drop_layer(uint64_t layer) {
  std::lock_guard lock(mutex_);
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (it->layer != layer) {
      ++it;
      continue;
    }
    auto entry = entries_.find(*it);
    bytes_ -= entry->second.block->size();
    entries_.erase(entry);
    it = lru_.erase(it);
  }
}

void ChunkCache::set_capacity(size_t bytes) {
  std::lock_guard lock(mutex_);
  capacity_ = bytes;
  evict_locked(capacity_);
}

size_t ChunkCache::capacity() const {
  std::lock_guard lock(mutex_);
  return capacity_;
}

ChunkCache::Stats ChunkCache::stats() const {
  std::lock_guard lock(mutex_);
  Stats s = stats_;
  s.bytes = bytes_;
  s.blocks = entries_.size();
  s.capacity = capacity_;
  return s;
}

}  // namespace memscope
