// linux.netfilter: the netfilter hooks of every network namespace, per
// protocol family and hook point, with their handler and its module.
#include "core/linux/kernel_text.h"
#include "core/linux/netfilter.h"
#include "core/linux/symbolize.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

namespace memscope::linux_kernel {
namespace {

struct NetfilterRow {
  std::optional<uint64_t> netns{};
  std::string family{};
  std::string hook{};
  uint64_t position = 0;
  std::optional<int64_t> priority{};
  Address handler{};
  std::optional<std::string> symbol{};
  std::optional<std::string> module{};
  bool hooked = false;
};

const RowSchema<NetfilterRow> kNetfilterColumns{
    {"netns", &NetfilterRow::netns, "network namespace (its inode number, as lsns shows it)"},
    {"family", &NetfilterRow::family, "protocol family: ipv4, ipv6, arp, bridge, ..."},
    {"hook", &NetfilterRow::hook, "hook point: PRE_ROUTING, LOCAL_IN, FORWARD, LOCAL_OUT, POST_ROUTING, ..."},
    {"position", &NetfilterRow::position, "order in which the hooks of this point run"},
    {"priority", &NetfilterRow::priority, "the hook's priority (nf_hook_ops.priority)"},
    {"handler", &NetfilterRow::handler, "the hook function"},
    {"symbol", &NetfilterRow::symbol, "the symbol holding the handler (name+offset)"},
    {"module", &NetfilterRow::module, "the module whose memory holds the handler"},
    {"hooked", &NetfilterRow::hooked, "the handler lies outside the text of the kernel and of every listed module"},
};

void run_netfilter(Session& session, const PluginArgs&, Rows<NetfilterRow>& rows) {
  KernelView view = kernel_view(session);
  KernelText text(view, rows.warnings());
  Symbolizer symbols(text, rows.warnings());
  for (const NetfilterHook& hook : netfilter_hooks(view, rows.warnings())) {
    SymbolizedAddress where = symbols.resolve(hook.handler);
    rows.add({.netns = hook.netns,
              .family = hook.family,
              .hook = hook.hook,
              .position = hook.position,
              .priority = hook.priority,
              .handler = Address{hook.handler},
              .symbol = where.symbol,
              .module = where.module,
              .hooked = text.unaccounted(hook.handler)});
  }
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.netfilter",
        .description = "netfilter hooks per namespace, protocol family and hook point, with their module",
        .options = {},
        .required_types = {"module", "list_head"},
        .required_symbols = {"_etext"},
    },
    kNetfilterColumns, run_netfilter));

}  // namespace memscope::linux_kernel
