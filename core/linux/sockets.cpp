#include "core/linux/sockets.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "core/types/object.h"
#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {
namespace {

std::optional<uint64_t> optional_offset(const Profile& profile, std::string_view type, std::string_view path) {
  const TypeInfo* record = profile.find_type(type);
  if (!record) return std::nullopt;
  // A path through embedded structs ("__sk_common.skc_num"): each step must exist.
  std::string_view rest = path;
  const TypeInfo* current = record;
  while (true) {
    size_t dot = rest.find('.');
    std::string_view name = rest.substr(0, dot);
    const MemberInfo* member = profile.find_member(*current, name);
    if (!member) return std::nullopt;
    if (dot == std::string_view::npos) break;
    current = &profile.type(member->type);
    rest = rest.substr(dot + 1);
  }
  return profile.offset_of(type, path);
}

std::string hex16(uint16_t value) {
  static const char* digits = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = 12; shift >= 0; shift -= 4) out += digits[(value >> shift) & 15];
  return out;
}

std::string ipv4(const uint8_t bytes[4], uint16_t port) {
  char text[INET_ADDRSTRLEN] = {0};
  ::inet_ntop(AF_INET, bytes, text, sizeof text);
  return std::string(text) + ":" + std::to_string(port);
}

std::string ipv6(const uint8_t bytes[16], uint16_t port) {
  char text[INET6_ADDRSTRLEN] = {0};
  ::inet_ntop(AF_INET6, bytes, text, sizeof text);
  return "[" + std::string(text) + "]:" + std::to_string(port);
}

}  // namespace

std::string socket_family_name(uint16_t family) {
  switch (family) {
    case kAfUnix: return "unix";
    case kAfInet: return "inet";
    case kAfInet6: return "inet6";
    case kAfNetlink: return "netlink";
    case kAfPacket: return "packet";
    case 4: return "ipx";
    case 5: return "appletalk";
    case 15: return "key";
    case 21: return "rds";
    case 31: return "bluetooth";
    case 38: return "alg";
    case 40: return "vsock";
    case 42: return "qipcrtr";
    case 44: return "xdp";
    default: return "AF_" + std::to_string(family);
  }
}

std::string socket_type_name(uint16_t type) {
  switch (type) {
    case 1: return "STREAM";
    case 2: return "DGRAM";
    case 3: return "RAW";
    case 4: return "RDM";
    case 5: return "SEQPACKET";
    case 6: return "DCCP";
    case 10: return "PACKET";
    default: return std::to_string(type);
  }
}

std::string socket_protocol_name(uint16_t family, uint16_t protocol) {
  if (family == kAfInet || family == kAfInet6) {
    switch (protocol) {
      case 0: return "IP";
      case 1: return "ICMP";
      case 2: return "IGMP";
      case 6: return "TCP";
      case 17: return "UDP";
      case 33: return "DCCP";
      case 41: return "IPV6";
      case 47: return "GRE";
      case 58: return "ICMPV6";
      case 132: return "SCTP";
      case 136: return "UDPLITE";
      case 255: return "RAW";
      case 262: return "MPTCP";
      default: return std::to_string(protocol);
    }
  }
  if (family == kAfNetlink) {
    static const char* const kNames[] = {"ROUTE",       "UNUSED",    "USERSOCK",   "FIREWALL",       "SOCK_DIAG",
                                         "NFLOG",       "XFRM",      "SELINUX",    "ISCSI",          "AUDIT",
                                         "FIB_LOOKUP",  "CONNECTOR", "NETFILTER",  "IP6_FW",         "DNRTMSG",
                                         "KOBJECT_UEVENT", "GENERIC", "",          "SCSITRANSPORT",  "ECRYPTFS",
                                         "RDMA",        "CRYPTO",    "SMC"};
    if (protocol < std::size(kNames) && kNames[protocol][0]) return kNames[protocol];
    return std::to_string(protocol);
  }
  if (family == kAfPacket) {
    uint16_t ethertype = ntohs(protocol);
    switch (ethertype) {
      case 0x0003: return "ALL";
      case 0x0800: return "IP";
      case 0x0806: return "ARP";
      case 0x86dd: return "IPV6";
      case 0x8100: return "8021Q";
      default: return hex16(ethertype);
    }
  }
  return std::to_string(protocol);
}

std::string socket_state_name(uint16_t family, uint8_t state) {
  if (family == kAfInet || family == kAfInet6 || family == kAfUnix) {
    static const char* const kNames[] = {"",          "ESTABLISHED", "SYN_SENT",  "SYN_RECV", "FIN_WAIT1",
                                         "FIN_WAIT2", "TIME_WAIT",   "CLOSE",     "CLOSE_WAIT", "LAST_ACK",
                                         "LISTEN",    "CLOSING",     "NEW_SYN_RECV", "BOUND_INACTIVE"};
    if (state > 0 && state < std::size(kNames)) return kNames[state];
    return std::to_string(state);
  }
  if (family == kAfNetlink) return state ? "CONNECTED" : "UNCONNECTED";
  return "";
}

SocketReader::SocketReader(const KernelView& kernel) : kernel_(kernel) {
  const Profile& profile = kernel.profile();
  socket_sk_ = profile.field("socket", "sk").offset;
  skc_family_ = profile.field("sock", "__sk_common.skc_family").offset;
  skc_state_ = profile.field("sock", "__sk_common.skc_state").offset;
  if (auto address = profile.symbol("socket_file_ops")) socket_file_ops_ = *address + kernel.virtual_shift();
  socket_alloc_inode_ = optional_offset(profile, "socket_alloc", "vfs_inode");
  socket_alloc_socket_ = optional_offset(profile, "socket_alloc", "socket");
  skc_rcv_saddr_ = optional_offset(profile, "sock", "__sk_common.skc_rcv_saddr");
  skc_daddr_ = optional_offset(profile, "sock", "__sk_common.skc_daddr");
  skc_num_ = optional_offset(profile, "sock", "__sk_common.skc_num");
  skc_dport_ = optional_offset(profile, "sock", "__sk_common.skc_dport");
  skc_v6_rcv_saddr_ = optional_offset(profile, "sock", "__sk_common.skc_v6_rcv_saddr");
  skc_v6_daddr_ = optional_offset(profile, "sock", "__sk_common.skc_v6_daddr");
  unix_addr_ = optional_offset(profile, "unix_sock", "addr");
  unix_peer_ = optional_offset(profile, "unix_sock", "peer");
  unix_address_len_ = optional_offset(profile, "unix_address", "len");
  if (auto name = optional_offset(profile, "unix_address", "name"))
    if (auto path = optional_offset(profile, "sockaddr_un", "sun_path")) unix_address_name_ = *name + *path;
  // Port ids were called pids before 3.7.
  netlink_portid_ = optional_offset(profile, "netlink_sock", "portid");
  if (!netlink_portid_) netlink_portid_ = optional_offset(profile, "netlink_sock", "pid");
  netlink_dst_portid_ = optional_offset(profile, "netlink_sock", "dst_portid");
  if (!netlink_dst_portid_) netlink_dst_portid_ = optional_offset(profile, "netlink_sock", "dst_pid");
  netlink_dst_group_ = optional_offset(profile, "netlink_sock", "dst_group");
  packet_ifindex_ = optional_offset(profile, "packet_sock", "ifindex");
}

uint64_t SocketReader::socket_of(const OpenFile& file) const {
  if (socket_file_ops_ && file.f_op == socket_file_ops_) return file.private_data;
  bool socket_inode = file.mode && (*file.mode & kModeTypeMask) == kModeSocket;
  if (!socket_inode && file.kind != FileKind::kSocket) return 0;
  if (socket_inode && socket_alloc_inode_ && socket_alloc_socket_ && file.info.inode)
    return file.info.inode - *socket_alloc_inode_ + *socket_alloc_socket_;
  return file.private_data;
}

std::optional<SocketInfo> SocketReader::read(const OpenFile& file, const std::string& what,
                                             Warnings& warnings) const {
  X86_64Paging& space = kernel_.kernel();
  SocketInfo out;
  ItemFailures failed;
  bool found = failed.attempt("socket", [&] { out.socket = socket_of(file); });
  if (found && out.socket == 0) return std::nullopt;
  if (!found) {
    failed.report(warnings, "socket", what);
    return std::nullopt;
  }
  if (!failed.attempt("sk", [&] { space.read_exact(out.socket + socket_sk_, &out.sock, 8); }) || out.sock == 0) {
    failed.report(warnings, "socket", what + " socket " + hex_address(out.socket));
    return out;  // a socket being set up or torn down: no sock yet
  }
  const uint64_t sock = out.sock;
  failed.attempt("family", [&] { space.read_exact(sock + skc_family_, &out.family, 2); });
  failed.attempt("state", [&] {
    uint8_t state = 0;
    space.read_exact(sock + skc_state_, &state, 1);
    out.state = state;
  });
  Object sk(kernel_.profile(), space, "sock", sock);
  failed.attempt("type", [&] { out.type = static_cast<uint16_t>(sk["sk_type"].as_u64()); });
  failed.attempt("protocol", [&] { out.protocol = static_cast<uint16_t>(sk["sk_protocol"].as_u64()); });
  switch (out.family) {
    case kAfInet:
    case kAfInet6: failed.attempt("addresses", [&] { read_inet(sock, out); }); break;
    case kAfUnix: failed.attempt("unix address", [&] { read_unix(sock, out); }); break;
    case kAfNetlink:
      failed.attempt("netlink ports", [&] {
        uint32_t portid = 0, dst = 0, group = 0;
        if (netlink_portid_) space.read_exact(sock + *netlink_portid_, &portid, 4);
        if (netlink_dst_portid_) space.read_exact(sock + *netlink_dst_portid_, &dst, 4);
        if (netlink_dst_group_) space.read_exact(sock + *netlink_dst_group_, &group, 4);
        if (netlink_portid_) out.local = std::to_string(portid);
        if (netlink_dst_portid_) out.remote = std::to_string(dst) + (group ? "/" + std::to_string(group) : "");
      });
      break;
    case kAfPacket:
      failed.attempt("packet interface", [&] {
        if (!packet_ifindex_) return;
        int32_t ifindex = 0;
        space.read_exact(sock + *packet_ifindex_, &ifindex, 4);
        out.local = std::to_string(ifindex);
      });
      break;
    default: break;
  }
  failed.report(warnings, "socket", what + " sock " + hex_address(sock));
  return out;
}

void SocketReader::read_inet(uint64_t sock, SocketInfo& out) const {
  X86_64Paging& space = kernel_.kernel();
  uint16_t num = 0, dport = 0;
  if (skc_num_) space.read_exact(sock + *skc_num_, &num, 2);
  if (skc_dport_) space.read_exact(sock + *skc_dport_, &dport, 2);
  dport = ntohs(dport);  // kept in network order; skc_num is in host order
  if (out.family == kAfInet6 && skc_v6_rcv_saddr_ && skc_v6_daddr_) {
    uint8_t local[16], remote[16];
    space.read_exact(sock + *skc_v6_rcv_saddr_, local, 16);
    space.read_exact(sock + *skc_v6_daddr_, remote, 16);
    out.local = ipv6(local, num);
    out.remote = ipv6(remote, dport);
  } else if (out.family == kAfInet && skc_rcv_saddr_ && skc_daddr_) {
    uint8_t local[4], remote[4];
    space.read_exact(sock + *skc_rcv_saddr_, local, 4);
    space.read_exact(sock + *skc_daddr_, remote, 4);
    out.local = ipv4(local, num);
    out.remote = ipv4(remote, dport);
  }
}

std::string SocketReader::unix_path(uint64_t sock) const {
  X86_64Paging& space = kernel_.kernel();
  if (!unix_addr_ || !unix_address_len_ || !unix_address_name_) return "";
  uint64_t address = 0;
  space.read_exact(sock + *unix_addr_, &address, 8);
  if (address == 0) return "";  // not bound
  int32_t length = 0;
  space.read_exact(address + *unix_address_len_, &length, 4);
  // len counts sun_family (2 bytes) and the path; sun_path holds at most 108.
  constexpr int32_t kFamilyBytes = 2, kMaxPath = 108;
  if (length <= kFamilyBytes) return "";
  if (length > kFamilyBytes + kMaxPath)
    throw Error("unix_address " + hex_address(address) + " claims a length of " + std::to_string(length));
  std::string path(static_cast<size_t>(length - kFamilyBytes), '\0');
  space.read_exact(address + *unix_address_name_, path.data(), path.size());
  if (!path.empty() && path[0] == '\0') {
    // The abstract namespace: a leading NUL, the name may hold more NULs
    // (ss and /proc/net/unix show them as '@').
    std::replace(path.begin(), path.end(), '\0', '@');
    return path;
  }
  path.resize(std::strlen(path.c_str()));
  return path;
}

void SocketReader::read_unix(uint64_t sock, SocketInfo& out) const {
  out.local = unix_path(sock);
  if (!unix_peer_) return;
  uint64_t peer = 0;
  kernel_.kernel().read_exact(sock + *unix_peer_, &peer, 8);
  if (peer) out.remote = unix_path(peer);
}

}  // namespace memscope::linux_kernel
