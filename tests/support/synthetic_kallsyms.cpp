#include "support/synthetic_kallsyms.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <stdexcept>

#include "core/util/hex.h"

namespace memscope::test {
namespace {

constexpr uint64_t kKernelHalf = 0xffff800000000000ull;

class Writer {
 public:
  uint64_t here() const { return bytes.size(); }
  void align(uint64_t to = 8) {
    while (bytes.size() % to) bytes.push_back(0);
  }
  void raw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    bytes.insert(bytes.end(), b, b + n);
  }
  template <typename T>
  void value(T v) {
    raw(&v, sizeof v);
  }
  std::vector<uint8_t> bytes;
};

// The token table of scripts/kallsyms.c's kind: each used character at its
// own byte value, the free slots filled with the most frequent pairs of
// tokens (most profitable first).
std::array<std::string, 256> make_tokens(const std::vector<std::string>& entries) {
  std::array<std::string, 256> tokens;
  std::array<bool, 256> used{};
  for (const std::string& e : entries)
    for (unsigned char c : e) used[c] = true;
  for (unsigned c = 0; c < 256; ++c)
    if (used[c]) tokens[c] = std::string(1, char(c));
  std::map<std::string, size_t> pairs;
  for (const std::string& e : entries)
    for (size_t i = 0; i + 1 < e.size(); ++i) ++pairs[e.substr(i, 2)];
  std::vector<std::pair<size_t, std::string>> ranked;
  for (const auto& [pair, count] : pairs) ranked.emplace_back(count, pair);
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  size_t next = 0;
  for (unsigned slot = 0; slot < 256; ++slot) {
    if (!tokens[slot].empty()) continue;
    // A slot the kernel leaves without a profitable token holds an empty
    // string; here, a pair when there is one.
    if (next < ranked.size() && ranked[next].first > 1) tokens[slot] = ranked[next++].second;
  }
  return tokens;
}

// Greedy longest match over the tokens.
std::vector<uint8_t> compress(const std::string& entry, const std::array<std::string, 256>& tokens) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i < entry.size();) {
    int best = -1;
    size_t best_length = 0;
    for (unsigned t = 0; t < 256; ++t) {
      const std::string& token = tokens[t];
      if (token.size() > best_length && entry.compare(i, token.size(), token) == 0) {
        best = int(t);
        best_length = token.size();
      }
    }
    if (best < 0) throw std::logic_error("synthetic kallsyms: no token for " + entry);
    out.push_back(uint8_t(best));
    i += best_length;
  }
  return out;
}

}  // namespace

KallsymsTables KallsymsBlob::at(uint64_t base) const {
  KallsymsTables t;
  t.num_syms = base + num_syms;
  t.names = base + names;
  t.markers = base + markers;
  t.token_table = base + token_table;
  t.token_index = base + token_index;
  if (base_relative) {
    t.offsets = base + offsets;
    t.relative_base = base + relative_base;
  } else {
    t.addresses = base + addresses;
  }
  if (seqs_of_names) t.seqs_of_names = base + seqs_of_names;
  return t;
}

std::string KallsymsBlob::vmcoreinfo_lines(uint64_t base) const {
  KallsymsTables t = at(base);
  auto line = [](const char* name, uint64_t v) { return std::string("SYMBOL(") + name + ")=" + hex(v).substr(2) + "\n"; };
  std::string out = line("kallsyms_names", t.names) + line("kallsyms_num_syms", t.num_syms) +
                    line("kallsyms_token_table", t.token_table) + line("kallsyms_token_index", t.token_index);
  if (t.offsets)
    out += line("kallsyms_offsets", t.offsets) + line("kallsyms_relative_base", t.relative_base);
  else
    out += line("kallsyms_addresses", t.addresses);
  return out;
}

KallsymsBlob build_kallsyms(const std::vector<KallsymsInput>& symbols, const KallsymsBlobOptions& options) {
  const uint32_t n = uint32_t(symbols.size());
  std::vector<std::string> entries;
  for (const KallsymsInput& s : symbols) entries.push_back(std::string(1, s.type) + s.name);
  const std::array<std::string, 256> tokens = make_tokens(entries);

  uint64_t relative_base = ~uint64_t{0};
  for (const KallsymsInput& s : symbols)
    if (s.address >= kKernelHalf || !options.absolute_percpu) relative_base = std::min(relative_base, s.address);
  std::vector<int32_t> offsets;
  for (const KallsymsInput& s : symbols) {
    if (options.absolute_percpu)
      offsets.push_back(s.address < kKernelHalf ? int32_t(s.address) : int32_t(int64_t(relative_base - 1 - s.address)));
    else
      offsets.push_back(int32_t(uint32_t(s.address - relative_base)));
  }

  KallsymsBlob blob;
  blob.base_relative = options.base_relative;
  Writer w;
  auto write_offsets = [&] {
    w.align();
    if (options.base_relative) {
      blob.offsets = w.here();
      for (int32_t o : offsets) w.value(o);
      w.align();
      blob.relative_base = w.here();
      w.value(relative_base);
    } else {
      blob.addresses = w.here();
      for (const KallsymsInput& s : symbols) w.value(s.address);
    }
  };
  auto write_names = [&] {
    w.align();
    blob.num_syms = w.here();
    w.value(n);
    w.align();
    blob.names = w.here();
    std::vector<uint64_t> markers;
    for (uint32_t i = 0; i < n; ++i) {
      if (i % 256 == 0) markers.push_back(w.here() - blob.names);
      std::vector<uint8_t> entry = compress(entries[i], tokens);
      if (entry.size() < 0x80) {
        w.value(uint8_t(entry.size()));
      } else {
        w.value(uint8_t((entry.size() & 0x7f) | 0x80));
        w.value(uint8_t(entry.size() >> 7));
      }
      w.raw(entry.data(), entry.size());
    }
    blob.names_end = w.here();
    w.align();
    blob.markers = w.here();
    for (uint64_t m : markers) {
      if (options.marker_size == 8)
        w.value(m);
      else
        w.value(uint32_t(m));
    }
  };
  auto write_seqs = [&] {
    if (!options.seqs_of_names) return;
    w.align();
    blob.seqs_of_names = w.here();
    std::vector<uint32_t> order(n);
    for (uint32_t i = 0; i < n; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return symbols[a].name < symbols[b].name; });
    for (uint32_t i : order) {
      w.value(uint8_t(i >> 16));
      w.value(uint8_t(i >> 8));
      w.value(uint8_t(i));
    }
  };
  auto write_tokens = [&] {
    w.align();
    blob.token_table = w.here();
    std::array<uint16_t, 256> index{};
    for (unsigned t = 0; t < 256; ++t) {
      index[t] = uint16_t(w.here() - blob.token_table);
      w.raw(tokens[t].c_str(), tokens[t].size() + 1);
    }
    w.align();
    blob.token_index = w.here();
    for (uint16_t i : index) w.value(i);
  };
  if (options.order == KallsymsOrder::kUpTo6_3) {
    write_offsets();
    write_names();
    write_seqs();
    write_tokens();
  } else {
    write_names();
    write_tokens();
    write_offsets();
    write_seqs();
  }
  w.align();
  blob.bytes = std::move(w.bytes);
  return blob;
}

}  // namespace memscope::test
