#include "core/linux/ftrace.h"

#include <unordered_set>

#include "core/linux/syscalls.h"
#include "core/types/object.h"
#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {
namespace {

// The ips of the ftrace_hash at `hash` (bounded, see ftrace.h).
std::vector<uint64_t> hash_entries(const KernelView& kernel, uint64_t hash, const std::string& what,
                                   Warnings& warnings) {
  std::vector<uint64_t> out;
  Object h = kernel.object("ftrace_hash", hash);
  const uint64_t size_bits = h["size_bits"].as_u64();
  const uint64_t count = h["count"].as_u64();
  const uint64_t buckets = h["buckets"].pointer();
  if (size_bits > kMaxFtraceHashBits) {
    warnings.add(what + ": ftrace_hash " + hex_address(hash) + " claims 2^" + std::to_string(size_bits) +
                 " buckets; not read");
    return out;
  }
  if (buckets == 0) return out;
  const uint64_t bucket_size = kernel.profile().size_of("hlist_head");
  const uint64_t bucket_count = uint64_t{1} << size_bits;
  auto firsts = read_pointer_array(kernel.kernel(), buckets, bucket_count * bucket_size / 8,
                                   what + ": buckets of ftrace_hash " + hex_address(hash), warnings);
  for (uint64_t b = 0; b < bucket_count; ++b) {
    const auto& first = firsts[b * bucket_size / 8];
    if (!first || *first == 0) continue;
    if (out.size() >= kMaxFtraceFilter) {
      warnings.add(what + ": more than " + std::to_string(kMaxFtraceFilter) + " filtered functions (the hash says " +
                   std::to_string(count) + "); the rest are not listed");
      break;
    }
    WalkOptions options;
    options.limit = kMaxFtraceFilter - out.size();
    Object head = kernel.object("hlist_head", buckets + b * bucket_size);
    ListWalk walk = hlist_entries(head, "ftrace_func_entry", "hlist", options);
    for (const Object& entry : walk) {
      try {
        out.push_back(entry["ip"].as_u64());
      } catch (const Error& e) {
        warnings.add(what + ": ftrace_func_entry " + hex_address(entry.address()) + ": " + e.what());
      }
    }
    for (const std::string& w : walk.warnings()) warnings.add(what + ": filter bucket " + std::to_string(b) + ": " + w);
  }
  return out;
}

}  // namespace

std::vector<FtraceOps> ftrace_ops_list(const KernelView& kernel, Warnings& warnings) {
  const Profile& profile = kernel.profile();
  const TypeInfo& ops_type = profile.require_type("ftrace_ops");
  const uint64_t end = kernel.symbol_address("ftrace_list_end");
  const uint64_t list = kernel.symbol_address("ftrace_ops_list");
  const bool has_func_hash = profile.find_member(ops_type, "func_hash") != nullptr;
  const bool has_filter_hash = profile.find_member(ops_type, "filter_hash") != nullptr;

  std::vector<FtraceOps> out;
  uint64_t node = 0;
  try {
    node = kernel.kernel().read_value<uint64_t>(list);
  } catch (const Error& e) {
    warnings.add(std::string("ftrace_ops_list: cannot read it: ") + e.what());
    return out;
  }
  std::unordered_set<uint64_t> seen;
  while (node != end) {
    if (node == 0) {
      warnings.add("ftrace_ops_list: ends with NULL, not at ftrace_list_end " + hex_address(end));
      break;
    }
    if (out.size() == kMaxFtraceOps) {
      warnings.add("ftrace_ops_list: more than " + std::to_string(kMaxFtraceOps) + " ops; stopped at " +
                   hex_address(node));
      break;
    }
    if (!seen.insert(node).second) {
      warnings.add("ftrace_ops_list: cycle: the list comes back to " + hex_address(node) + "; stopped there");
      break;
    }
    Object ops(profile, kernel.kernel(), ops_type.id, node);
    FtraceOps entry;
    entry.address = node;
    const std::string what = "ftrace_ops " + hex_address(node);
    ItemFailures failed;
    failed.attempt("func", [&] { entry.func = ops["func"].pointer(); });
    failed.attempt("flags", [&] { entry.flags = ops["flags"].as_u64(); });
    if (ops.has_member("trampoline")) failed.attempt("trampoline", [&] { entry.trampoline = ops["trampoline"].as_u64(); });
    failed.attempt("filter", [&] {
      uint64_t hash = 0;
      if (has_func_hash) {
        uint64_t func_hash = ops["func_hash"].pointer();
        if (func_hash) hash = kernel.object("ftrace_ops_hash", func_hash)["filter_hash"].pointer();
      } else if (has_filter_hash) {
        hash = ops["filter_hash"].pointer();
      } else {
        return;  // no filter in this kernel's ftrace_ops
      }
      if (hash) entry.filter = hash_entries(kernel, hash, what, warnings);
      entry.filter_read = true;
    });
    uint64_t next = 0;
    bool next_read = failed.attempt("next", [&] { next = ops["next"].pointer(); });
    failed.report(warnings, "ftrace_ops", what);
    out.push_back(std::move(entry));
    if (!next_read) {
      warnings.add("ftrace_ops_list: the list stops at " + what + " (its next pointer cannot be read)");
      break;
    }
    node = next;
  }
  return out;
}

}  // namespace memscope::linux_kernel
