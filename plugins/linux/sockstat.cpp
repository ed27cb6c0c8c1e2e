// linux.sockstat: each process's sockets, found through its file
// descriptors (core/linux/files.h) and read as ss shows them: family,
// type, protocol, local and remote address, state (core/linux/sockets.h).
#include "core/linux/files.h"
#include "core/linux/processes.h"
#include "core/linux/sockets.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

namespace memscope::linux_kernel {
namespace {

struct SockstatRow {
  std::optional<int64_t> pid{};
  uint64_t fd = 0;
  std::optional<std::string> family{};
  std::optional<std::string> type{};
  std::optional<std::string> protocol{};
  std::optional<std::string> local{};
  std::optional<std::string> remote{};
  std::optional<std::string> state{};
};

const RowSchema<SockstatRow> kSockstatColumns{
    {"pid", &SockstatRow::pid, "process ID"},
    {"fd", &SockstatRow::fd, "file descriptor number"},
    {"family", &SockstatRow::family, "unix, inet, inet6, netlink, packet, ... (AF_n when unknown)"},
    {"type", &SockstatRow::type, "STREAM, DGRAM, RAW, SEQPACKET, ..."},
    {"protocol", &SockstatRow::protocol,
     "TCP, UDP, ICMP, ... for inet; ROUTE, AUDIT, ... for netlink; the ethertype for packet sockets"},
    {"local", &SockstatRow::local,
     "inet 10.0.2.15:22, inet6 [::1]:22, unix the bound path (@name: abstract), netlink the port id, "
     "packet the interface index"},
    {"remote", &SockstatRow::remote, "the peer: address:port, the peer's unix path, netlink portid[/group]"},
    {"state", &SockstatRow::state,
     "ESTABLISHED, LISTEN, CLOSE, ... for inet and unix; CONNECTED or UNCONNECTED for netlink"},
};

void run_sockstat(Session& session, const PluginArgs& args, Rows<SockstatRow>& rows) {
  KernelView kernel = kernel_view(session);
  ProcessWalk processes(kernel, rows.warnings(), PidFilter(args.ints("pid")));
  FileReader files(kernel);
  SocketReader sockets(kernel);
  processes.for_each([&](const Task& task) {
    for (const OpenFile& file : files.open_files(task.address, task.label(), rows.warnings(), {.paths = false})) {
      if (file.kind != FileKind::kSocket) continue;
      auto socket = sockets.read(file, task.label() + ": fd " + std::to_string(file.fd), rows.warnings());
      if (!socket) continue;
      SockstatRow row{.pid = task.pid, .fd = file.fd};
      if (socket->sock) {
        row.family = socket_family_name(socket->family);
        if (socket->type) row.type = socket_type_name(*socket->type);
        if (socket->protocol) row.protocol = socket_protocol_name(socket->family, *socket->protocol);
        row.local = socket->local;
        row.remote = socket->remote;
        if (socket->state) row.state = socket_state_name(socket->family, *socket->state);
      }
      rows.add(row);
    }
  });
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.sockstat",
        .description = "sockets of each process: family, type, protocol, addresses and state",
        .options = {pid_option()},
        .required_types = {"task_struct", "files_struct", "fdtable", "file", "socket", "sock"},
        .required_symbols = {"init_task"},
    },
    kSockstatColumns, run_sockstat));

}  // namespace memscope::linux_kernel
