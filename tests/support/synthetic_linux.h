// A small synthetic Linux image for plugin tests: a sparse physical memory
// (BufferSpace) holding x86_64 page tables, a direct map and a kernel-image
// mapping at a KASLR-shifted address, a banner, init_task and a task list of
// processes and threads (parents, creds, comm, start times, mm with
// per-process page tables mapping argv/env pages), a modules list, and the
// matching ISF JSON profile.
//
// The profile's field offsets are deliberately unlike any real kernel's (even
// list_head has `prev` before `next`), so a plugin that hard-codes an offset
// fails here. Options pick old-kernel field variants (task_struct.state vs
// __state, module_core / core_layout / mem[], thread_group vs thread_node)
// so that every code path of the plugins is exercised. Hooks corrupt the
// built image (a cycle in the task list, a wild pointer, an absurd arg_end)
// to test that plugins stay bounded and keep the rest of their output.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "support/buffer_space.h"
#include "support/page_table_builder.h"

namespace memscope::test {

// One VMA of a synthetic process (built with SyntheticOptions::vmas; see
// support/synthetic_memory.cpp). Pages holding `contents` are mapped in the
// process's page tables; the other pages of the range are not present.
struct SyntheticMapping {
  uint64_t start = 0, end = 0;
  uint64_t flags = 0;  // vm_flags: VM_READ 0x1, VM_WRITE 0x2, VM_EXEC 0x4, VM_SHARED 0x8, VM_MAYSHARE 0x80...
  uint64_t pgoff = 0;  // in pages
  std::string path;    // a file ("/usr/bin/x", on the mount its prefix names); "" for anonymous memory
  bool deleted = false;      // the file's dentry is unhashed: " (deleted)"
  std::string special;       // a vm_special_mapping's name ("[vdso]", "[vvar]")
  std::string anon_name;     // prctl(PR_SET_VMA_ANON_NAME): "[anon:NAME]"
  std::string contents;      // bytes at `start`
  // What /proc/PID/maps shows as the name ([heap] and [stack] come from
  // the mm's brk and start_stack), inode number and device: filled by the
  // builder (SyntheticLinux::maps).
  std::string expected_name;
  uint64_t inode_number = 0;
  uint32_t major = 0, minor = 0;
};

// A socket behind one of a synthetic process's file descriptors
// (support/synthetic_files.cpp), and what linux.sockstat shows of it.
struct SyntheticSocket {
  uint16_t family = 2;     // AF_UNIX 1, AF_INET 2, AF_INET6 10, AF_NETLINK 16, AF_PACKET 17
  uint16_t type = 1;       // SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_RAW 3, SOCK_SEQPACKET 5
  uint16_t protocol = 6;   // IPPROTO_*, NETLINK_*, or a packet socket's ethertype in network order
  uint8_t state = 7;       // TCP_ESTABLISHED 1, TCP_CLOSE 7, TCP_LISTEN 10 (netlink: 1 connected)
  // inet / inet6 addresses; unix: the bound path of the socket and of its
  // peer ("@name": abstract; "" unbound / no peer).
  std::string local_address, remote_address;
  // inet ports; netlink: portid and dst_portid; packet: local_port is the ifindex.
  uint16_t local_port = 0, remote_port = 0;
  uint32_t remote_group = 0;  // netlink dst_group
  // What linux.sockstat shows.
  std::string expected_family, expected_type, expected_protocol, expected_local, expected_remote, expected_state;
};

// One open file descriptor of a synthetic process (SyntheticOptions::files;
// support/synthetic_files.cpp), and what linux.lsof shows of it.
struct SyntheticFile {
  int fd = 0;
  // "file", "dir", "chr", "pipe", "anon_inode", "socket", or "program" (the
  // struct file the process maps its executable through).
  std::string kind;
  std::string path;    // file, dir, chr: the path ("/etc/x"); anon_inode: the name ("[eventpoll]")
  uint32_t permissions = 0644;
  bool deleted = false;  // a file whose dentry is unhashed: " (deleted)"
  std::optional<SyntheticSocket> socket;
  // Filled by the builder: what linux.lsof shows.
  std::string expected_path, expected_type, expected_mode;
  uint64_t inode_number = 0;
};

struct SyntheticProcess {
  int pid = 0;   // tgid, and the tid of the group leader
  int ppid = 0;  // real_parent's tgid; 0 = init_task (swapper)
  std::string comm;  // at most 15 characters are kept, like the kernel
  uint32_t uid = 0, gid = 0, euid = 0, egid = 0;
  uint64_t start_time_ns = 0;  // since boot
  bool kernel_thread = false;  // PF_KTHREAD, no mm
  std::vector<std::string> argv;  // user processes only
  std::vector<std::string> envp;  // "KEY=VALUE"
  std::vector<int> extra_threads;  // tids of the threads besides the leader
  bool hidden = false;  // built, but unlinked from the task list (self-linked)
  // task_struct.__state (or .state) and .exit_state: 1 = TASK_INTERRUPTIBLE
  // ("S"), 0x402 = TASK_IDLE ("I"), 0 = running ("R"); a zombie has
  // exit_state 0x20 (EXIT_ZOMBIE) and no mm.
  uint32_t state = 1;
  uint32_t exit_state = 0;
  // The CPU this task is running on (its runqueue's curr), or -1. Tasks in
  // state 0 (running) that are not curr wait on the CFS runqueue of CPU
  // pid % cpus (support/synthetic_rootkit.cpp).
  int running_on_cpu = -1;
  char state_letter() const;  // what ps shows for state / exit_state
  bool has_mm() const { return !kernel_thread && exit_state == 0; }
  // Its VMAs, with SyntheticOptions::vmas (empty: SyntheticLinux::default_maps).
  std::vector<SyntheticMapping> maps;
  // Its open files, with SyntheticOptions::files (empty: SyntheticLinux::default_files).
  std::vector<SyntheticFile> files;
};

// A kernel log record (support/synthetic_rootkit.cpp).
struct SyntheticLogRecord {
  uint64_t timestamp_ns = 0;
  unsigned level = 6;       // KERN_INFO
  unsigned facility = 0;
  uint32_t caller_id = 1;   // "T1"; 0x80000000 | cpu for "C<cpu>"
  uint8_t flags = 2;        // LOG_NEWLINE; LOG_CONT is 8
  std::string text;
  // false: committed but not finalized (the newest record, its line still
  // open for continuation); with log_buf, such a line waits in `cont`.
  bool finalized = true;
};

// Loaded BPF programs and maps (support/synthetic_rootkit.cpp).
struct SyntheticBpfMap {
  uint32_t id = 0;
  std::string name;
  std::string type = "BPF_MAP_TYPE_HASH";  // an enumerator of enum bpf_map_type
};
struct SyntheticBpfProgram {
  uint32_t id = 0;
  std::string name;
  std::string type = "BPF_PROG_TYPE_SOCKET_FILTER";  // an enumerator of enum bpf_prog_type
  uint64_t tag = 0;           // the 8 tag bytes, first byte in the low bits
  uint64_t load_time_ns = 0;  // since boot
  std::vector<uint32_t> maps;  // ids of SyntheticBpfMaps
};

struct SyntheticModule {
  std::string name;
  uint64_t text_size = 0x2000;  // part of core_size
  uint64_t core_size = 0x4000;  // every core region (text, data, rodata); page multiple
  uint64_t init_size = 0;       // init regions still allocated (0 once loaded)
  int refcount = 0;             // as /proc/modules shows it
  std::string state = "MODULE_STATE_LIVE";  // an enumerator of enum module_state
  bool hidden = false;          // unlinked from `modules` (self-linked)
  // What /proc/modules reports as the size.
  uint64_t proc_size() const { return core_size + init_size; }
};

enum class TaskStateField { kState, kUnderscoreState };  // long state (< 5.14) / unsigned __state
enum class ModuleLayoutKind { kModuleCore, kCoreLayout, kMemArray };  // < 4.5 / 4.5-6.3 / 6.4+
enum class ThreadListKind { kThreadNode, kThreadGroup };  // signal->thread_head / leader's thread_group
enum class StartTimeField { kStartBoottime, kRealStartTime };  // 5.5+ / older
// The PID table: init_pid_ns.idr over an xarray (4.20+, task_struct.pid_links),
// over a radix tree (4.15-4.19, task_struct.pids), or the pid hash (< 4.15).
enum class PidTableKind { kXArray, kRadixTree, kPidHash };
// The kernel log: the lockless ring buffer prb (5.10+) or log_buf (< 5.10).
enum class LogBufferKind { kRingBuffer, kLogBuf };
// Where a process's VMAs are found: none built (the default image), the
// maple tree mm->mm_mt (6.1+), the rbtree mm->mm_rb with the mmap list
// beside it (before 6.1), or only the mmap list.
enum class VmaIndexKind { kNone, kMapleTree, kRbTree, kMmapList };
// Where netfilter hooks are (with hooks): net->nf.hooks_<family>[] of
// nf_hook_entries (4.16+); net->nf.hooks[family][hook] of nf_hook_entries
// (4.14-4.15), of nf_hook_entry chains (4.10-4.13) or of nf_hook_ops lists
// (4.3-4.9); the global nf_hooks[family][hook] lists (before 4.3).
enum class NetfilterLayoutKind { kFamilyArrays, kEntriesMatrix, kEntryChains, kOpsLists, kGlobalLists };

struct SyntheticOptions {
  TaskStateField task_state = TaskStateField::kUnderscoreState;
  ModuleLayoutKind module_layout = ModuleLayoutKind::kMemArray;
  ThreadListKind thread_list = ThreadListKind::kThreadNode;
  StartTimeField start_time = StartTimeField::kStartBoottime;
  // Plain `unsigned int uid` in struct cred (kernels before kuid_t, < 3.5)
  // instead of kuid_t { val }.
  bool plain_uid = false;
  // mm_struct's fields inside an anonymous struct member, as in 6.x.
  bool anonymous_mm_fields = true;
  // KASLR: run-time kernel address = link-time address + virtual_shift;
  // the kernel image lies at its default physical address + physical_shift.
  uint64_t virtual_shift = 0x1e600000;
  uint64_t physical_shift = 0;
  uint64_t page_offset_base = 0xffff9a4d80000000ull;
  std::string release = "5.15.0-memscope-synthetic";
  std::vector<SyntheticProcess> processes;  // empty: default_processes()
  std::vector<SyntheticModule> modules;     // empty: default_modules()
  // The kernel's hook points, clean (system call tables, IDT, ftrace,
  // netfilter, tty, keyboard notifiers): support/synthetic_hooks.cpp.
  bool hooks = false;
  NetfilterLayoutKind netfilter_layout = NetfilterLayoutKind::kFamilyArrays;
  // What the rootkit-hunting plugins read (support/synthetic_rootkit.cpp):
  // the PID table, per-CPU runqueues, the kernel log, sysfs and the module
  // tree, BPF programs, and task_structs of exited tasks left in memory.
  PidTableKind pid_table = PidTableKind::kXArray;
  unsigned radix_slots = 16;  // slots per xarray / radix tree node (CONFIG_BASE_SMALL's 16: deep trees)
  unsigned cpus = 2;
  LogBufferKind log_buffer = LogBufferKind::kRingBuffer;
  unsigned log_buffer_bits = 12;  // 2^bits bytes of text (the ring has 2^(bits-5) descriptors)
  std::vector<SyntheticLogRecord> log;  // empty: default_log()
  // Dead tasks whose task_struct is still in memory (only a carve finds
  // them); nullopt: default_exited().
  std::optional<std::vector<SyntheticProcess>> exited;
  std::optional<std::vector<SyntheticBpfProgram>> bpf_programs;  // nullopt: default_bpf_programs()
  std::optional<std::vector<SyntheticBpfMap>> bpf_maps;          // nullopt: default_bpf_maps()
  // Memory maps (VMAs, files, dentries, mounts): support/synthetic_memory.cpp.
  VmaIndexKind vmas = VmaIndexKind::kNone;
  // The profile names special_mapping_vmops (how [vdso] and [vvar] are
  // recognised); without it, they are found from mm->context.vdso.
  bool special_mapping_symbols = true;
  // Open files (files_struct, fdtables, files of every kind, sockets of
  // each family) for every process with memory: support/synthetic_files.cpp.
  // Needs vmas (the file and dentry types).
  bool files = false;
};

class SyntheticLinux {
 public:
  // Link-time start of the kernel image and of the kernel mapping.
  static constexpr uint64_t kStartKernelMap = 0xffffffff80000000ull;
  static constexpr uint64_t kLinkText = 0xffffffff81000000ull;

  // A varied set: init, kernel threads, a shell tree, a multi-threaded
  // process, one with more than 4096 bytes of arguments, a setuid one, a
  // truncated comm, and one hidden process. Every user process has a
  // RIG_MARKER variable.
  static std::vector<SyntheticProcess> default_processes();
  // Three listed modules (one still loading, with init memory) and a hidden one.
  static std::vector<SyntheticModule> default_modules();

  explicit SyntheticLinux(SyntheticOptions options = {});
  ~SyntheticLinux();
  SyntheticLinux(const SyntheticLinux&) = delete;
  SyntheticLinux& operator=(const SyntheticLinux&) = delete;

  const SyntheticOptions& options() const { return options_; }
  const std::vector<SyntheticProcess>& processes() const { return options_.processes; }
  const std::vector<SyntheticModule>& modules() const { return options_.modules; }
  const SyntheticProcess& process(int pid) const;
  BufferSpace& space() { return *space_; }

  std::string banner() const;  // without the trailing newline
  const nlohmann::json& profile_json() const { return profile_; }

  // Physical address of the kernel's top-level page table (init_top_pgt).
  uint64_t dtb() const { return dtb_; }
  // Link-time / run-time address of a symbol of the profile.
  uint64_t symbol_link_address(const std::string& name) const;
  uint64_t symbol_address(const std::string& name) const { return symbol_link_address(name) + options_.virtual_shift; }
  // Run-time addresses of built objects.
  uint64_t task_address(int tid) const;
  uint64_t mm_address(int pid) const;
  uint64_t module_address(const std::string& name) const;
  uint64_t module_base(const std::string& name) const;
  // Physical address of the process's top-level page table.
  uint64_t process_dtb(int pid) const;
  // Offset of a member (path "a.b", anonymous members resolved) in the profile.
  uint64_t offset_of(const std::string& type, const std::string& path) const;
  // Physical address behind a kernel virtual address built here (direct
  // map, kernel image or module area); throws std::logic_error otherwise.
  uint64_t kernel_physical(uint64_t vaddr) const;

  // --- Corruption hooks (applied to the built memory) --------------------
  // Writes a pointer-sized value at task_struct member `path` of task `tid`
  // ("tasks.next", "cred", "mm", "real_parent", ...).
  void set_task_pointer(int tid, const std::string& path, uint64_t value);
  // task(from_pid).tasks.next -> task(to_pid).tasks: a cycle when to_pid
  // comes earlier in the list.
  void link_tasks_cycle(int from_pid, int to_pid);
  // task(pid).tasks.next -> an address that no page table maps.
  void wild_task_next(int pid);
  // mm->arg_end of process `pid`.
  void set_arg_end(int pid, uint64_t arg_end);
  // An address in the kernel half that is canonical but not mapped.
  static constexpr uint64_t kUnmappedKernelAddress = 0xffffc90012345000ull;

  // --- Hook points (with SyntheticOptions::hooks; support/synthetic_hooks.cpp)
  // sys_call_table has kHookSyscalls entries (its length only in
  // trace_array), ia32_sys_call_table kHookIa32Syscalls (in its type); every
  // IDT vector but kAbsentIdtVector is present.
  static constexpr unsigned kHookSyscalls = 16;
  static constexpr unsigned kHookIa32Syscalls = 8;
  static constexpr unsigned kAbsentIdtVector = 15;
  // An address in the text of a module built here (its base + offset).
  uint64_t module_code(const std::string& module, uint64_t offset = 0x100) const;
  // Rootkit hooks: point an entry at `target`, or register a callback.
  void hook_syscall(unsigned index, uint64_t target);
  void hook_idt(unsigned vector, uint64_t target);
  // Returns the struct ftrace_ops (added at the list's head) / the
  // notifier_block (at the chain's head).
  uint64_t add_ftrace_ops(uint64_t func, const std::vector<uint64_t>& targets);
  uint64_t add_keyboard_notifier(uint64_t callback, int priority);
  // A hook at init_net's hooks_<family>[hook] (or where the layout keeps
  // that family's hook), after those already there.
  void add_netfilter_hook(const std::string& family, unsigned hook, uint64_t handler, int priority);
  // The serial driver's tty_operations / the n_tty line discipline's ops.
  void hook_tty_operation(const std::string& operation, uint64_t target);
  void hook_ldisc_operation(const std::string& operation, uint64_t target);
  // task(pid)->cred and ->real_cred = task(with_pid)->cred.
  void share_cred(int pid, int with_pid);
  // Damage: the last ftrace ops / keyboard notifier links back to the first;
  // sys_call_table's symbol moved where nothing is mapped; init_net's
  // hooks_<family>[hook] and the serial driver's ops made wild pointers.
  void ftrace_cycle();
  void keyboard_notifier_cycle();
  void unmap_syscall_table();
  void wild_netfilter_hooks(const std::string& family, unsigned hook);
  void wild_tty_driver_ops();

  // --- Output ------------------------------------------------------------
  void write_profile(const std::string& path) const;
  void write_lime(const std::string& path);
  void write_raw(const std::string& path);
  // With a VMCOREINFO note (OSRELEASE, KERNELOFFSET, SYMBOL(init_top_pgt)...)
  // and a CPU note whose CR3 is the kernel's table.
  void write_elf(const std::string& path);

  // --- Rootkit-hunting tables (support/synthetic_rootkit.cpp) -------------
  // A kernel log with a multi-line record, a continuation, a record from
  // CPU context and, last, a record still open for continuation.
  static std::vector<SyntheticLogRecord> default_log();
  // An exited user process and an exited kernel worker.
  static std::vector<SyntheticProcess> default_exited();
  static std::vector<SyntheticBpfProgram> default_bpf_programs();
  static std::vector<SyntheticBpfMap> default_bpf_maps();
  const std::vector<SyntheticLogRecord>& log() const { return options_.log; }
  const std::vector<SyntheticProcess>& exited_tasks() const { return *options_.exited; }
  const std::vector<SyntheticBpfProgram>& bpf_programs() const { return *options_.bpf_programs; }
  const std::vector<SyntheticBpfMap>& bpf_maps() const { return *options_.bpf_maps; }
  // The log records the buffer still holds (the oldest may have been
  // overwritten when the log outgrew it), oldest first.
  std::vector<SyntheticLogRecord> log_retained() const;
  // Addresses of built objects.
  uint64_t pid_address(int tid) const;            // the task's struct pid
  uint64_t idle_task_address(unsigned cpu) const;  // swapper/<cpu> (init_task for CPU 0)
  uint64_t runqueue_address(unsigned cpu) const;   // that CPU's struct rq
  uint64_t exited_task_address(int pid) const;
  uint64_t bpf_prog_address(uint32_t id) const;
  uint64_t log_ring_address() const;  // the struct printk_ringbuffer (or log_buf's buffer)
  // The PID table's nodes (xa_node / radix_tree_node), the root first.
  std::vector<uint64_t> pid_table_nodes() const;
  // --- Corruption hooks
  // The last slot of the PID table's deepest node points back at the root
  // node (encoded as a node entry): a cycle.
  void pid_table_cycle();
  // The ring buffer's head_id / tail_id (or log_buf's log_next_idx /
  // log_first_idx) overwritten.
  void set_log_indexes(uint64_t head, uint64_t tail);
  // Size of a type of the profile.
  uint64_t size_of(const std::string& type) const;
  // Writes bytes into the physical memory behind a kernel address built here.
  void poke_kernel(uint64_t vaddr, const void* bytes, size_t n) { put_kernel(vaddr, bytes, n); }

  // --- Memory maps (with SyntheticOptions::vmas; support/synthetic_memory.cpp)
  // The VMAs built for a user process without maps of its own: its program
  // (an ELF with a build-id note) and bss, heap, a library on a second
  // mount, a shared file, a named anonymous region, stack, vvar and vdso;
  // pid 201 also maps a deleted file, pid 202 an rwx region holding
  // kRwxMarker and a code stub at 0x100, and an anonymous r-x region.
  std::vector<SyntheticMapping> default_maps(const SyntheticProcess& p) const;
  static constexpr const char* kRwxMarker = "SYNTHETIC_RWX_MARKER";
  static constexpr uint64_t kRwxAddress = 0x133700000000ull;
  static constexpr uint64_t kProgramBase = 0x400000;
  // The program's build id (hex) and the string in its data page, at
  // kProgramBase + kUserStringOffset.
  static std::string build_id_hex(const std::string& path);
  static std::string user_string(int pid);
  static constexpr uint64_t kUserStringOffset = 0x3010;
  // The ELF file the builder mapped at `path` (what linux.elfs rebuilds).
  std::string elf_file(const std::string& path) const;
  // The maps as built for `pid`, names as /proc shows them.
  const std::vector<SyntheticMapping>& maps(int pid) const;
  uint64_t vma_address(int pid, uint64_t start) const;
  // A maple tree of the given entries (first, last, value), built in
  // kernel memory; returns the maple_tree's address. Leaves hold up to 8
  // slots and internal nodes 6, so a few dozen entries give three levels.
  struct MapleRange {
    uint64_t first, last, value;
  };
  uint64_t build_maple_tree(const std::vector<MapleRange>& ranges);
  // The nodes of a tree built here: the root, then level by level.
  std::vector<uint64_t> maple_nodes(uint64_t tree) const;
  // Kernel address of slot `index` of a maple node built here.
  uint64_t maple_slot_address(uint64_t node, unsigned index) const;
  // The encoded pointer of a node built here (what its parent's slot holds).
  uint64_t maple_enode(uint64_t node) const;
  // Writes a pointer-sized value at a kernel address built here.
  void poke_kernel_u64(uint64_t vaddr, uint64_t value) { put_kernel_u64(vaddr, value); }
  // The dentry built for `path` (the file or a directory on its way).
  uint64_t dentry_address(const std::string& path) const;
  // Points the d_parent of `path`'s dentry at `parent`'s: a loop when
  // `parent` lies below `path`.
  void set_dentry_parent(const std::string& path, const std::string& parent);
  // vm_next of the last VMA of `pid` -> its first (mmap list kinds only).
  void vma_list_cycle(int pid);
  // The struct file that process `pid` maps `path` through.
  uint64_t file_address(int pid, const std::string& path) const;
  // A pipe's struct file: its dentry is named by pipefs_dname ("pipe:[N]").
  uint64_t build_pipe_file(uint64_t inode_number);

  // --- Open files (with SyntheticOptions::files; support/synthetic_files.cpp)
  // Every user process has stdin on /dev/null, a pipe, a log file, its
  // program, a directory and an epoll instance (fds 0-5); sshd (200)
  // listens on inet and inet6 and has a connection, a unix listener and a
  // descriptor above 64 (its fdtable is not the embedded one); bash (201)
  // a connected unix socket, an abstract one, netlink and a deleted file;
  // worker (202) UDP, a connected inet6 datagram socket, a packet socket
  // and audit netlink.
  std::vector<SyntheticFile> default_files(const SyntheticProcess& p) const;
  // The files built for `pid` (expected values filled).
  const std::vector<SyntheticFile>& files(int pid) const;
  uint64_t files_struct_address(int pid) const;
  uint64_t fdtable_address(int pid) const;
  uint64_t struct_file_address(int pid, int fd) const;
  // Damage: fdtable->max_fds; the fd array's slot for `fd` pointed where
  // nothing is mapped; the dentry chain of a "file" descriptor looped (its
  // top directory's d_parent is the file's own dentry).
  void set_max_fds(int pid, uint32_t max_fds);
  void wild_file_pointer(int pid, int fd);
  void file_dentry_loop(int pid, int fd);

 private:
  class Layout;
  struct Region {
    uint64_t virt, phys, size;
  };
  struct BuiltProcess {
    uint64_t mm = 0;
    uint64_t dtb = 0;
    uint64_t signal = 0;
    std::vector<uint64_t> tasks;  // leader first, then the threads
  };

  void build_profile();
  void build_kernel_mappings();
  void build_banner();
  void build_tasks();
  void build_user_memory(const SyntheticProcess& p, BuiltProcess& built);
  void build_modules();
  // support/synthetic_hooks.cpp
  struct HookState;
  void add_hook_types();
  void add_hook_symbols(nlohmann::json& symbols) const;
  void build_hooks();
  void write_gate(unsigned vector, uint64_t handler);
  uint64_t netfilter_slot(const std::string& family, unsigned hook) const;
  // support/synthetic_rootkit.cpp
  struct RootkitState;
  void add_rootkit_types();
  // Members the rootkit tables add to task_struct and struct module, as
  // [{"name", "offset", "type"}].
  nlohmann::json rootkit_task_fields() const;
  nlohmann::json rootkit_module_fields() const;
  void add_rootkit_symbols(nlohmann::json& symbols) const;
  void build_rootkit_structures();
  // support/synthetic_memory.cpp
  struct MemoryState;
  void add_memory_types();
  void add_memory_symbols(nlohmann::json& symbols) const;
  // mm_struct's memory-map fields, as [{"name", "offset", "type"}]; records
  // the types they embed (maple_tree, rb_root, mm_context_t).
  nlohmann::json memory_mm_fields();
  void build_memory_maps(const SyntheticProcess& p, BuiltProcess& built, PageTableBuilder& tables,
                         uint64_t table_pages);
  // support/synthetic_files.cpp
  struct FilesState;
  void build_files();

  uint64_t link_to_phys(uint64_t link) const { return link - kStartKernelMap + options_.physical_shift; }
  uint64_t direct_map(uint64_t phys) const { return options_.page_offset_base + phys; }
  uint64_t slab_alloc(uint64_t size);
  uint64_t user_page_alloc();
  // Writes `value` (little-endian, the member's size) at member `path` of
  // the `type` object at kernel virtual address `object`.
  void put_field(uint64_t object, const std::string& type, const std::string& path, uint64_t value);
  void put_string_field(uint64_t object, const std::string& type, const std::string& path, const std::string& s);
  void put_kernel(uint64_t vaddr, const void* bytes, size_t n);
  void put_kernel_u64(uint64_t vaddr, uint64_t value) { put_kernel(vaddr, &value, sizeof value); }
  // Links `node` (a list_head at a kernel address) at the tail of `head`.
  void list_add_tail(uint64_t node, uint64_t head);
  void list_init(uint64_t head);

  SyntheticOptions options_;
  std::unique_ptr<BufferSpace> space_;
  std::unique_ptr<Layout> layout_;
  std::unique_ptr<PageTableBuilder> kernel_tables_;
  nlohmann::json profile_;
  std::vector<Region> regions_;
  uint64_t dtb_ = 0;
  uint64_t slab_next_ = 0;
  uint64_t user_page_next_ = 0;
  uint64_t table_pool_next_ = 0;
  uint64_t module_phys_next_ = 0;
  uint64_t module_virt_next_ = 0;
  std::map<int, uint64_t> task_by_tid_;
  std::map<int, BuiltProcess> process_by_pid_;
  std::map<std::string, uint64_t> module_by_name_;
  std::map<std::string, uint64_t> module_base_by_name_;
  std::shared_ptr<HookState> hooks_;  // shared_ptr: HookState is complete only in its own file
  std::shared_ptr<RootkitState> rootkit_;  // shared_ptr: RootkitState is complete only in its own file
  std::shared_ptr<MemoryState> memory_;  // shared_ptr: MemoryState is complete only in its own file
  std::shared_ptr<FilesState> files_;  // shared_ptr: FilesState is complete only in its own file
};

}  // namespace memscope::test
