#include "core/linux/printk.h"

#include <algorithm>
#include <cstring>

#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {
namespace {

// kernel/printk/printk_ringbuffer.h: the top two bits of a descriptor's
// state_var are its state, the rest its id.
constexpr unsigned kStateShift = 62;
constexpr uint64_t kIdMask = ~(uint64_t{3} << kStateShift);
enum DescState : uint64_t { kReserved = 0, kCommitted = 1, kFinalized = 2, kReusable = 3 };
// A data position with bit 0 set holds no data (FAILED_LPOS, NO_LPOS).
constexpr uint64_t kLposDataless = 1;
// CONFIG_LOG_BUF_SHIFT is at most 25 and log_buf_len= at most 2 GiB; the
// descriptor count is the buffer size / 32. Larger values are forged.
constexpr unsigned kMaxSizeBits = 31, kMaxCountBits = 26;

uint64_t little(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  std::memcpy(&v, p, std::min<size_t>(n, 8));
  if (n < 8) v &= (uint64_t{1} << (8 * n)) - 1;
  return v;
}

// One field of a record type: its offset and size (bitfields: bit position
// and length within the bytes at offset).
struct RecordField {
  uint64_t offset = 0, size = 0;
  unsigned bit_position = 0, bit_length = 0;
  bool present = false;

  static RecordField of(const Profile& profile, const TypeInfo& record, std::string_view name) {
    RecordField f;
    const MemberInfo* m = profile.find_member(record, name);
    if (!m) return f;
    const TypeInfo& type = profile.type(m->type);
    f.present = true;
    f.offset = m->offset;
    if (type.kind == TypeKind::kBitfield) {
      f.bit_position = type.bit_position;
      f.bit_length = type.bit_length;
      f.size = (type.bit_position + type.bit_length + 7) / 8;
    } else {
      f.size = type.size;
    }
    return f;
  }
  uint64_t get(const uint8_t* record) const {
    uint64_t raw = little(record + offset, size);
    if (bit_length) raw = (raw >> bit_position) & ((uint64_t{1} << bit_length) - 1);
    return raw;
  }
};

// The fields of a record's metadata that both buffers share.
struct InfoFields {
  RecordField seq, ts_nsec, text_len, facility, flags, level, caller_id;
  explicit InfoFields(const Profile& profile, const TypeInfo& type) {
    seq = RecordField::of(profile, type, "seq");
    ts_nsec = RecordField::of(profile, type, "ts_nsec");
    text_len = RecordField::of(profile, type, "text_len");
    facility = RecordField::of(profile, type, "facility");
    flags = RecordField::of(profile, type, "flags");
    level = RecordField::of(profile, type, "level");
    caller_id = RecordField::of(profile, type, "caller_id");
    for (const auto& [field, name] : {std::pair{&ts_nsec, "ts_nsec"}, {&text_len, "text_len"}, {&level, "level"}})
      if (!field->present) profile.fail("struct " + std::string(profile.name(type)) + " has no " + name);
  }
  void fill(LogRecord& out, const uint8_t* record) const {
    if (seq.present) out.sequence = seq.get(record);
    out.timestamp_ns = ts_nsec.get(record);
    if (facility.present) out.facility = static_cast<unsigned>(facility.get(record));
    if (flags.present) out.flags = static_cast<uint8_t>(flags.get(record));
    out.level = static_cast<unsigned>(level.get(record));
    if (caller_id.present) out.caller_id = static_cast<uint32_t>(caller_id.get(record));
  }
};

// Reads [address, address + size) of kernel memory into `out`; false (with
// a warning naming `what`) if any of it cannot be read.
bool read_block(AddressSpace& space, uint64_t address, uint64_t size, std::vector<uint8_t>& out,
                const std::string& what, Warnings& warnings) {
  out.resize(size);
  IoResult r = space.read(address, out.data(), size);
  if (!r.ok()) {
    warnings.add("kernel log: cannot read " + what + " (" + std::to_string(size) + " bytes at " + hex(address) +
                 "): " + r.fault->message());
    return false;
  }
  return true;
}

}  // namespace

std::string printk_caller_text(uint32_t caller_id) {
  // printk_caller_id(): 0x80000000 + CPU outside task context, else the pid.
  if (caller_id & 0x80000000u) return "C" + std::to_string(caller_id & ~0x80000000u);
  return "T" + std::to_string(caller_id);
}

KernelLog::KernelLog(const KernelView& kernel) : kernel_(kernel) {
  const Profile& profile = kernel.profile();
  if (profile.find_symbol("prb") && profile.find_type("printk_ringbuffer")) {
    source_ = "prb";
    for (const char* type : {"prb_desc_ring", "prb_data_ring", "prb_desc", "printk_info", "prb_data_blk_lpos"})
      profile.require_type(type);
  } else if (profile.find_symbol("log_buf") && profile.find_symbol("log_first_idx")) {
    source_ = "log_buf";
    if (!profile.find_type("printk_log") && !profile.find_type("log"))
      profile.fail("log_buf without struct printk_log (or struct log): cannot read its records");
  } else {
    profile.fail(
        "neither the printk ring buffer (prb, struct printk_ringbuffer; 5.10+) nor log_buf with "
        "log_first_idx (3.5-5.9): cannot find the kernel log");
  }
}

std::vector<LogRecord> KernelLog::records(Warnings& warnings) const {
  return source_ == "prb" ? ring_records(warnings) : log_buf_records(warnings);
}

std::vector<LogRecord> KernelLog::ring_records(Warnings& warnings) const {
  const Profile& profile = kernel_.profile();
  AddressSpace& space = kernel_.kernel();
  std::vector<LogRecord> out;
  Object ring(profile, space, "printk_ringbuffer", 0);
  uint64_t count_bits = 0, size_bits = 0, descs = 0, infos = 0, data = 0, head_id = 0, tail_id = 0;
  try {
    // `prb` points at the static ring, or at the one setup_log_buf() made.
    ring = kernel_.object("printk_ringbuffer", space.read_value<uint64_t>(kernel_.symbol_address("prb")));
    Object desc_ring = ring["desc_ring"], data_ring = ring["text_data_ring"];
    count_bits = desc_ring["count_bits"].as_u64();
    descs = desc_ring["descs"].pointer();
    infos = desc_ring["infos"].pointer();
    head_id = desc_ring["head_id.counter"].as_u64();
    tail_id = desc_ring["tail_id.counter"].as_u64();
    size_bits = data_ring["size_bits"].as_u64();
    data = data_ring["data"].pointer();
  } catch (const Error& e) {
    warnings.add("kernel log: cannot read the ring buffer (prb): " + std::string(e.what()));
    return out;
  }
  const std::string at = " (ring buffer at " + hex(ring.address()) + ")";
  if (count_bits > kMaxCountBits || size_bits > kMaxSizeBits || size_bits < 3) {
    warnings.add("kernel log: the ring buffer's sizes are impossible: count_bits " + std::to_string(count_bits) +
                 ", size_bits " + std::to_string(size_bits) + at);
    return out;
  }
  const uint64_t count = uint64_t{1} << count_bits, data_size = uint64_t{1} << size_bits;
  const TypeInfo& desc_type = profile.require_type("prb_desc");
  const TypeInfo& info_type = profile.require_type("printk_info");
  const uint64_t desc_size = desc_type.size, info_size = info_type.size;
  const uint64_t state_offset = profile.offset_of("prb_desc", "state_var");
  const uint64_t begin_offset = profile.offset_of("prb_desc", "text_blk_lpos.begin");
  const uint64_t next_offset = profile.offset_of("prb_desc", "text_blk_lpos.next");
  const InfoFields fields(profile, info_type);

  std::vector<uint8_t> desc_bytes, info_bytes, text;
  if (!read_block(space, descs, count * desc_size, desc_bytes, "the descriptor ring", warnings) ||
      !read_block(space, infos, count * info_size, info_bytes, "the record infos", warnings) ||
      !read_block(space, data, data_size, text, "the text data ring", warnings))
    return out;

  // The record of descriptor `index`, whose state_var must hold `id`;
  // false when it holds another id (overwritten, or indexes that lie).
  auto read_record = [&](uint64_t index, uint64_t id) {
    const uint8_t* desc = desc_bytes.data() + index * desc_size;
    const uint64_t state_var = little(desc + state_offset, 8);
    const uint64_t state = state_var >> kStateShift;
    if ((state_var & kIdMask) != id) return false;
    if (state != kCommitted && state != kFinalized) return true;  // being written, or given back
    LogRecord record;
    const uint8_t* info = info_bytes.data() + index * info_size;
    fields.fill(record, info);
    record.finalized = state == kFinalized;
    const std::string where = "kernel log: record " + std::to_string(record.sequence) + " (descriptor " +
                              hex(descs + index * desc_size) + ")";
    if ((record.sequence & (count - 1)) != index)
      warnings.add("kernel log: inconsistent record", where + ": sequence number does not belong to this descriptor");
    const uint64_t begin = little(desc + begin_offset, 8), next = little(desc + next_offset, 8);
    const uint64_t text_len = fields.text_len.get(info);
    if ((begin & kLposDataless) && (next & kLposDataless)) {
      if (text_len) warnings.add("kernel log: record without data", where + ": its text was lost (no data block)");
      out.push_back(std::move(record));
      return true;
    }
    // get_data(): a block lies in one wrap of the ring, or wraps to its
    // start. Positions start one ring size below 0 (BLK0_LPOS), so the
    // first lap's wrapping block has begin near 2^64 and next just above
    // 0: the wrap count of begin + size, not begin's plus one, is next's.
    uint64_t offset = 0, size = 0;
    const uint64_t begin_wrap = begin >> size_bits, next_wrap = next >> size_bits;
    if (begin_wrap == next_wrap && begin < next) {
      offset = begin & (data_size - 1);
      size = next - begin;
    } else if (((begin + data_size) >> size_bits) == next_wrap) {
      offset = 0;
      size = next & (data_size - 1);
    } else {
      warnings.add("kernel log: bad data position",
                   where + ": data positions " + hex(begin) + ".." + hex(next) + " are impossible");
      return true;
    }
    if (size < 8 || offset + size > data_size) {
      warnings.add("kernel log: bad data position", where + ": data block of " + std::to_string(size) + " bytes at " +
                                                        hex(data + offset) + " does not fit the ring");
      return true;
    }
    const uint64_t block_id = little(text.data() + offset, 8);
    if ((block_id & kIdMask) != id) {
      warnings.add("kernel log: bad data block", where + ": the data block at " + hex(data + offset) +
                                                     " belongs to record id " + hex(block_id) + ", not " + hex(id));
      return true;
    }
    uint64_t length = std::min<uint64_t>(text_len, size - 8);
    if (text_len > size - 8)
      warnings.add("kernel log: truncated record", where + ": text_len " + std::to_string(text_len) + " exceeds its " +
                                                       std::to_string(size - 8) + "-byte data block; truncated");
    record.text.assign(reinterpret_cast<const char*>(text.data() + offset + 8), length);
    out.push_back(std::move(record));
    return true;
  };

  // The ids between tail and head (inclusive), at most one per descriptor.
  // Indexes that cannot be true (more ids than descriptors, or none of
  // them found where it belongs) prove nothing about where the records
  // are; each descriptor does: one that holds an id of its own slot holds
  // that record (a reused slot gets a newer id, prb_reserve), so those are
  // read instead, never more than the ring holds.
  const uint64_t span = ((head_id - tail_id) & kIdMask) + 1;
  bool recover = false;
  if (span > count) {
    warnings.add("kernel log: head_id " + hex(head_id) + " and tail_id " + hex(tail_id) + " span " +
                 std::to_string(span) + " records, more than the ring's " + std::to_string(count) + " descriptors" +
                 at + "; reading the descriptors that hold an id of their own slot instead");
    recover = true;
  } else {
    size_t mismatched = 0;
    for (uint64_t i = 0; i < span; ++i) {
      const uint64_t id = (tail_id + i) & kIdMask;
      if (!read_record(id & (count - 1), id)) ++mismatched;
    }
    if (mismatched && out.empty()) {
      warnings.add("kernel log: no descriptor between tail_id " + hex(tail_id) + " and head_id " + hex(head_id) +
                   " holds its own id" + at +
                   ": the indexes do not describe this ring; reading the descriptors that hold an id of their own "
                   "slot instead");
      recover = true;
    }
  }
  if (recover) {
    out.clear();
    for (uint64_t index = 0; index < count; ++index) {
      const uint64_t id = little(desc_bytes.data() + index * desc_size + state_offset, 8) & kIdMask;
      if ((id & (count - 1)) == index) read_record(index, id);
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const LogRecord& a, const LogRecord& b) { return a.sequence < b.sequence; });
  return out;
}

std::vector<LogRecord> KernelLog::log_buf_records(Warnings& warnings) const {
  const Profile& profile = kernel_.profile();
  AddressSpace& space = kernel_.kernel();
  std::vector<LogRecord> out;
  const TypeInfo* header_type = profile.find_type("printk_log");
  if (!header_type) header_type = &profile.require_type("log");
  const InfoFields fields(profile, *header_type);
  const RecordField len = RecordField::of(profile, *header_type, "len");
  const RecordField dict_len = RecordField::of(profile, *header_type, "dict_len");
  if (!len.present) profile.fail("struct " + std::string(profile.name(*header_type)) + " has no len");
  const uint64_t header_size = header_type->size;

  uint64_t seq = 0;
  // The records of log_buf; returns early (with a warning) on indexes that
  // do not fit, leaving `cont` to be read after.
  auto read_records = [&] {
    uint64_t buffer = 0;
    uint32_t buffer_len = 0, first_idx = 0, next_idx = 0;
    uint64_t first_seq = 0, next_seq = 0;
    bool have_seq = profile.find_symbol("log_first_seq") && profile.find_symbol("log_next_seq");
    try {
      buffer = space.read_value<uint64_t>(kernel_.symbol_address("log_buf"));
      buffer_len = space.read_value<uint32_t>(kernel_.symbol_address("log_buf_len"));
      first_idx = space.read_value<uint32_t>(kernel_.symbol_address("log_first_idx"));
      next_idx = space.read_value<uint32_t>(kernel_.symbol_address("log_next_idx"));
      if (have_seq) {
        first_seq = space.read_value<uint64_t>(kernel_.symbol_address("log_first_seq"));
        next_seq = space.read_value<uint64_t>(kernel_.symbol_address("log_next_seq"));
      }
    } catch (const Error& e) {
      warnings.add("kernel log: cannot read log_buf and its indexes: " + std::string(e.what()));
      return;
    }
    const std::string at = " (log_buf " + hex(buffer) + ", " + std::to_string(buffer_len) + " bytes)";
    if (buffer_len == 0 || buffer_len > (uint64_t{1} << kMaxSizeBits) || first_idx >= buffer_len ||
        next_idx >= buffer_len) {
      warnings.add("kernel log: log_buf_len " + std::to_string(buffer_len) + ", log_first_idx " +
                   std::to_string(first_idx) + " or log_next_idx " + std::to_string(next_idx) + " is impossible" + at);
      return;
    }
    std::vector<uint8_t> bytes;
    if (!read_block(space, buffer, buffer_len, bytes, "log_buf", warnings)) return;

    // Records from first to next, wrapping once at a zero-length record (or
    // where no header fits); never more than the buffer could hold.
    const uint64_t most = buffer_len / std::max<uint64_t>(header_size, 1) + 1;
    uint64_t expected = have_seq ? next_seq - first_seq : most;
    if (expected > most) {
      warnings.add("kernel log: log_first_seq " + std::to_string(first_seq) + " and log_next_seq " +
                   std::to_string(next_seq) + " claim more records than log_buf holds" + at);
      expected = most;
    }
    uint64_t idx = first_idx;
    seq = first_seq;
    bool wrapped = false;
    while (out.size() < expected && (idx != next_idx || (out.empty() && have_seq && expected > 0))) {
      if (idx + header_size > buffer_len || len.get(bytes.data() + idx) == 0) {
        if (wrapped) {
          warnings.add("kernel log: log_buf wraps twice at offset " + std::to_string(idx) + at + "; stopped");
          break;
        }
        wrapped = true;
        idx = 0;
        continue;
      }
      const uint8_t* header = bytes.data() + idx;
      const uint64_t record_len = len.get(header), text_len = fields.text_len.get(header);
      const uint64_t dict = dict_len.present ? dict_len.get(header) : 0;
      if (record_len < header_size + text_len + dict || idx + record_len > buffer_len) {
        warnings.add("kernel log: record at " + hex(buffer + idx) + " has length " + std::to_string(record_len) +
                     " that does not fit its text or the buffer" + at + "; stopped");
        break;
      }
      LogRecord record;
      fields.fill(record, header);
      record.sequence = seq++;
      record.text.assign(reinterpret_cast<const char*>(header + header_size), text_len);
      out.push_back(std::move(record));
      idx += record_len;
    }
  };
  read_records();

  // Before 5.10 a line being continued waits in `cont` until it ends.
  if (profile.find_symbol("cont") && profile.find_type("cont")) {
    try {
      Object cont = kernel_.symbol("cont", "cont");
      const uint64_t cont_len = cont["len"].as_u64();
      Object buf = cont["buf"];
      if (cont_len > 0 && cont_len <= buf.size()) {
        LogRecord record;
        record.sequence = seq;
        record.timestamp_ns = cont["ts_nsec"].as_u64();
        record.level = static_cast<unsigned>(cont["level"].as_u64());
        record.facility = static_cast<unsigned>(cont["facility"].as_u64());
        record.flags = kLogCont;
        record.finalized = false;
        std::vector<uint8_t> chars = buf.bytes(cont_len);
        record.text.assign(chars.begin(), chars.end());
        out.push_back(std::move(record));
      }
    } catch (const Error& e) {
      warnings.add("kernel log: cannot read the continuation buffer (cont): " + std::string(e.what()));
    }
  }
  return out;
}

}  // namespace memscope::linux_kernel
