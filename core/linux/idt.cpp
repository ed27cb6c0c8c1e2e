#include "core/linux/idt.h"

#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/util/unaligned.h"

namespace memscope::linux_kernel {

GateLayout gate_layout(const Profile& profile) {
  GateLayout out;
  const TypeInfo* gate = nullptr;
  for (const char* name : {"gate_struct", "gate_struct64"})
    if ((gate = profile.find_type(name)) && gate->is_record()) break;
  if (!gate || !gate->is_record()) return out;
  const MemberInfo* low = profile.find_member(*gate, "offset_low");
  const MemberInfo* middle = profile.find_member(*gate, "offset_middle");
  const MemberInfo* high = profile.find_member(*gate, "offset_high");
  // A profile whose gate does not fit 16 bytes is not an x86_64 one: the
  // architecture's layout is used instead.
  if (!low || !middle || !high || gate->size != 16 || low->offset > 14 || middle->offset > 14 || high->offset > 12)
    return out;
  out.offset_low = low->offset;
  out.offset_middle = middle->offset;
  out.offset_high = high->offset;
  if (const MemberInfo* segment = profile.find_member(*gate, "segment"); segment && segment->offset <= 14)
    out.segment = segment->offset;
  if (const MemberInfo* bits = profile.find_member(*gate, "bits"); bits && bits->offset <= 14) out.bits = bits->offset;
  return out;
}

IdtGate decode_gate(const uint8_t* bytes, const GateLayout& layout) {
  IdtGate gate;
  gate.handler = uint64_t{load_unaligned<uint16_t>(bytes + layout.offset_low)} |
                 uint64_t{load_unaligned<uint16_t>(bytes + layout.offset_middle)} << 16 |
                 uint64_t{load_unaligned<uint32_t>(bytes + layout.offset_high)} << 32;
  gate.segment = load_unaligned<uint16_t>(bytes + layout.segment);
  // The attribute word (struct idt_bits): ist:3, zero:5, type:5 (the
  // descriptor type and its always-zero bit 12), dpl:2, p:1.
  const uint16_t bits = load_unaligned<uint16_t>(bytes + layout.bits);
  gate.ist = bits & 0x7;
  gate.type = (bits >> 8) & 0xf;
  gate.dpl = (bits >> 13) & 0x3;
  gate.present = (bits >> 15) & 1;
  return gate;
}

std::vector<IdtGate> read_idt(const KernelView& kernel, Warnings& warnings) {
  const Profile& profile = kernel.profile();
  const uint64_t table = kernel.symbol_address("idt_table");
  const GateLayout layout = gate_layout(profile);
  std::vector<uint8_t> bytes(kIdtEntries * layout.size);
  IoResult r = kernel.kernel().read(table, bytes.data(), bytes.size());
  std::vector<IdtGate> out;
  const unsigned readable = static_cast<unsigned>(r.done / layout.size);
  if (r.fault)
    warnings.add("idt_table at " + hex_address(table) + ": gates " + std::to_string(readable) + "-" +
                 std::to_string(kIdtEntries - 1) + " cannot be read: " + r.fault->message());
  for (unsigned vector = 0; vector < readable; ++vector) {
    IdtGate gate = decode_gate(bytes.data() + vector * layout.size, layout);
    gate.vector = vector;
    gate.descriptor = table + vector * layout.size;
    out.push_back(gate);
  }
  return out;
}

}  // namespace memscope::linux_kernel
