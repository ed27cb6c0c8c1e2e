// The socket behind an open file, as `ss` shows it: family, type,
// protocol, local and remote address, state.
//
// From the file to the socket: a socket's file has `f_op` ==
// `socket_file_ops` and keeps its `struct socket` in `private_data`
// (sock_from_file); without that symbol, a socket inode (S_IFSOCK) is
// embedded in `struct socket_alloc` beside its socket (SOCKET_I). The
// socket's `sk` is the `struct sock`, whose `__sk_common` (struct
// sock_common) holds what every family shares: `skc_family`, `skc_state`,
// and for inet the addresses and ports (`skc_rcv_saddr`/`skc_num` local,
// `skc_daddr`/`skc_dport` remote; IPv6 in `skc_v6_rcv_saddr`/`skc_v6_daddr`).
// The families' own structs embed the sock first: `unix_sock` (`addr`, a
// `unix_address` holding the bound `sockaddr_un`; `peer`), `netlink_sock`
// (`portid`/`dst_portid`, `pid`/`dst_pid` before 3.7), `packet_sock`
// (`ifindex`, `num`). `sk_type` and `sk_protocol` are plain fields since
// 5.6 and bitfields before: the profile says which, and Object reads both.
//
// Family, type, protocol and state numbers are the kernel's ABI
// (include/linux/socket.h, net.h, in.h, netlink.h, tcp_states.h); they are
// named here, unknown ones shown as numbers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/linux/files.h"
#include "core/linux/kernel_view.h"
#include "core/linux/warnings.h"

namespace memscope::linux_kernel {

inline constexpr uint16_t kAfUnix = 1;
inline constexpr uint16_t kAfInet = 2;
inline constexpr uint16_t kAfInet6 = 10;
inline constexpr uint16_t kAfNetlink = 16;
inline constexpr uint16_t kAfPacket = 17;

// "unix", "inet", "inet6", "netlink", "packet", ...; "AF_<n>" otherwise.
std::string socket_family_name(uint16_t family);
// "STREAM", "DGRAM", "RAW", "RDM", "SEQPACKET", "DCCP", "PACKET".
std::string socket_type_name(uint16_t type);
// IPPROTO_* for inet ("TCP", "UDP", "ICMP", ...), NETLINK_* for netlink
// ("ROUTE", "AUDIT", ...), the ethertype for packet sockets ("ALL", "IP",
// or 0x....: packet sockets keep it in network byte order).
std::string socket_protocol_name(uint16_t family, uint16_t protocol);
// The TCP state names ss uses ("ESTABLISHED", "LISTEN", "CLOSE", ...) for
// inet, inet6 and unix sockets (which reuse them); "CONNECTED" /
// "UNCONNECTED" for netlink; empty for families without states.
std::string socket_state_name(uint16_t family, uint8_t state);

struct SocketInfo {
  uint64_t socket = 0;  // struct socket
  uint64_t sock = 0;    // struct sock (0 for a socket not yet created or already released)
  uint16_t family = 0;
  std::optional<uint16_t> type, protocol;
  std::optional<uint8_t> state;  // skc_state
  // inet "10.0.2.15:22", inet6 "[fe80::1]:22"; unix the bound path
  // ("@name" for the abstract namespace; the peer's path as remote);
  // netlink the port id (remote "portid" or "portid/group");
  // packet the interface index.
  std::string local, remote;
};

class SocketReader {
 public:
  // Resolves socket, sock and sock_common fields, and the families' own
  // structs the profile has; throws ProfileError without struct socket or
  // struct sock.
  explicit SocketReader(const KernelView& kernel);

  // The struct socket of an open file, or 0 when the file is not a socket.
  // Throws ReadError.
  uint64_t socket_of(const OpenFile& file) const;
  // What the socket behind `file` is, or nullopt when the file is not a
  // socket. `what` names the descriptor in warnings ("task 0x... (pid 1
  // init): fd 3"); a field that cannot be read is a warning and an empty
  // value, the rest is kept.
  std::optional<SocketInfo> read(const OpenFile& file, const std::string& what, Warnings& warnings) const;

 private:
  void read_inet(uint64_t sock, SocketInfo& out) const;
  void read_unix(uint64_t sock, SocketInfo& out) const;
  std::string unix_path(uint64_t sock) const;

  const KernelView& kernel_;
  uint64_t socket_file_ops_ = 0;
  uint64_t socket_sk_ = 0;
  // socket_alloc: vfs_inode - socket, to go from a socket inode to its socket.
  std::optional<uint64_t> socket_alloc_inode_, socket_alloc_socket_;
  uint64_t skc_family_ = 0, skc_state_ = 0;
  std::optional<uint64_t> skc_rcv_saddr_, skc_daddr_, skc_num_, skc_dport_;
  std::optional<uint64_t> skc_v6_rcv_saddr_, skc_v6_daddr_;
  std::optional<uint64_t> unix_addr_, unix_peer_, unix_address_len_, unix_address_name_;
  std::optional<uint64_t> netlink_portid_, netlink_dst_portid_, netlink_dst_group_;
  std::optional<uint64_t> packet_ifindex_;
};

}  // namespace memscope::linux_kernel
