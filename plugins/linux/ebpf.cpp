// linux.ebpf: the BPF programs loaded in the kernel (prog_idr), with the
// maps each uses: what bpftool prog list shows, read from memory.
#include "core/linux/bpf.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {
namespace {

struct EbpfRow {
  Address offset{};
  uint64_t id = 0;
  std::optional<std::string> type{};
  std::optional<std::string> name{};
  std::optional<std::string> tag{};
  std::optional<Seconds> loaded_at{};
  std::vector<std::string> maps{};
};

const RowSchema<EbpfRow> kEbpfColumns{
    {"offset", &EbpfRow::offset, "address of the struct bpf_prog"},
    {"id", &EbpfRow::id, "program id (prog_idr)"},
    {"type", &EbpfRow::type, "program type, as bpftool names it (xdp, kprobe, sched_cls, ...)"},
    {"name", &EbpfRow::name, "program name (empty when none was given)"},
    {"tag", &EbpfRow::tag, "the program's tag: a hash of its instructions, 16 hex digits"},
    {"loaded_at", &EbpfRow::loaded_at, "when it was loaded, seconds since boot"},
    {"maps", &EbpfRow::maps, "the maps it uses, as id:name"},
};

void run_ebpf(Session& session, const PluginArgs&, Rows<EbpfRow>& rows) {
  KernelView view = kernel_view(session);
  BpfReader reader(view);
  for (const BpfProgram& p : reader.programs(rows.warnings())) {
    EbpfRow row{.offset = Address{p.address},
                .id = p.id,
                .type = p.type,
                .name = p.name,
                .tag = p.tag,
                .loaded_at = p.load_time_ns ? std::optional(Seconds{*p.load_time_ns}) : std::nullopt};
    for (const BpfMap& m : p.maps)
      row.maps.push_back((m.id ? std::to_string(*m.id) : hex_address(m.address)) + ":" + m.name.value_or("?"));
    rows.add(row);
  }
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.ebpf",
        .description = "loaded BPF programs (prog_idr) and the maps they use",
        .options = {},
        .required_types = {"bpf_prog", "bpf_prog_aux", "idr"},
        .required_symbols = {"prog_idr"},
    },
    kEbpfColumns, run_ebpf));

}  // namespace memscope::linux_kernel
