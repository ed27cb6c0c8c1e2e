// linux.pstree: the processes of the task list as a tree of parents and
// children (by real_parent), roots first. Text output indents children;
// JSON nests them under "children".
#include <algorithm>
#include <map>

#include "core/linux/processes.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

namespace memscope::linux_kernel {
namespace {

// Real process trees are a few dozen levels deep; a forged parent chain
// must not turn into unbounded recursion here or in the renderers.
constexpr size_t kMaxDepth = 256;

struct PstreeRow {
  std::optional<int64_t> pid{}, ppid{};
  std::optional<std::string> comm{};
  std::optional<uint32_t> uid{};
  uint64_t threads = 0;
  Address offset{};
  bool valid = true;
};

const RowSchema<PstreeRow> kPstreeColumns{
    {"pid", &PstreeRow::pid, "process ID (thread-group ID)"},
    {"ppid", &PstreeRow::ppid, "parent's process ID (real_parent)"},
    {"comm", &PstreeRow::comm, "command name"},
    {"uid", &PstreeRow::uid, "real user ID"},
    {"threads", &PstreeRow::threads, "number of threads"},
    {"offset", &PstreeRow::offset, "address of the task_struct"},
    {"valid", &PstreeRow::valid, "false when the task's fields cannot be a task's (memory read as one; see the warning)"},
};

struct Node {
  Task task;
  size_t threads = 1;
  std::vector<size_t> children;  // indices into the node list, by pid
};

// A node placed in the tree, with the nodes placed under it.
struct Placed {
  size_t node = 0;
  std::vector<Placed> children;
};

// Places each node once, under the first parent that reaches it, at most
// kMaxDepth deep.
class TreeBuilder {
 public:
  explicit TreeBuilder(const std::vector<Node>& nodes) : nodes_(nodes), placed_(nodes.size(), false) {}

  Placed place(size_t index, size_t depth) {
    placed_[index] = true;
    Placed out{index, {}};
    for (size_t child : nodes_[index].children) {
      if (placed_[child]) continue;
      if (depth + 1 >= kMaxDepth) continue;  // listed as a root by the caller
      out.children.push_back(place(child, depth + 1));
    }
    return out;
  }
  bool placed(size_t index) const { return placed_[index]; }

 private:
  const std::vector<Node>& nodes_;
  std::vector<bool> placed_;
};

Row tree_row(const std::vector<Node>& nodes, const Placed& placed, Rows<PstreeRow>& rows) {
  const Node& node = nodes[placed.node];
  const Task& t = node.task;
  Row row = rows.row({.pid = t.pid,
                      .ppid = t.ppid,
                      .comm = t.comm,
                      .uid = t.creds ? std::optional<uint32_t>(t.creds->uid) : std::nullopt,
                      .threads = node.threads,
                      .offset = Address{t.address},
                      .valid = t.valid});
  for (const Placed& child : placed.children) row.children.push_back(tree_row(nodes, child, rows));
  return row;
}

void run_pstree(Session& session, const PluginArgs& args, Rows<PstreeRow>& rows) {
  // Every process, to build the whole tree; --pid then picks subtrees.
  ProcessWalk processes(kernel_view(session), rows.warnings());
  std::vector<Node> nodes;
  processes.for_each([&](const Task& task) { nodes.push_back(Node{task, processes.thread_count(task), {}}); });
  std::sort(nodes.begin(), nodes.end(), [](const Node& a, const Node& b) {
    return a.task.pid.value_or(INT64_MAX) < b.task.pid.value_or(INT64_MAX);
  });
  // Parent links by address (real_parent), which also tells apart two
  // tasks claiming one pid.
  std::map<uint64_t, size_t> by_address;
  for (size_t i = 0; i < nodes.size(); ++i) by_address[nodes[i].task.address] = i;
  std::vector<bool> has_parent(nodes.size(), false);
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto parent = by_address.find(nodes[i].task.real_parent);
    if (parent == by_address.end() || parent->second == i) continue;
    nodes[parent->second].children.push_back(i);
    has_parent[i] = true;
  }

  TreeBuilder builder(nodes);
  std::vector<Placed> roots;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (!has_parent[i]) roots.push_back(builder.place(i, 0));
  // Whatever is left sits on a cycle of parent links (or below the depth
  // limit): list it rather than lose it.
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (builder.placed(i)) continue;
    rows.warnings().add(nodes[i].task.label() + ": its ancestors form a cycle or a chain deeper than " +
                        std::to_string(kMaxDepth) + " levels; listed as a root");
    roots.push_back(builder.place(i, 0));
  }

  // --pid keeps the subtrees rooted at the chosen processes (the topmost
  // one where a chosen process lies under another).
  PidFilter filter(args.ints("pid"));
  if (!filter.empty()) {
    std::vector<bool> chosen(nodes.size());
    for (size_t i = 0; i < nodes.size(); ++i) chosen[i] = filter.matches(nodes[i].task.pid);
    filter.report_unmatched(rows.warnings(), "on the task list");
    std::vector<Placed> kept;
    std::vector<const Placed*> stack;
    for (const Placed& r : roots) stack.push_back(&r);
    while (!stack.empty()) {
      const Placed* p = stack.back();
      stack.pop_back();
      if (chosen[p->node]) {
        kept.push_back(*p);
        continue;
      }
      for (const Placed& c : p->children) stack.push_back(&c);
    }
    // Nodes are sorted by pid, so their indices are too.
    std::sort(kept.begin(), kept.end(), [](const Placed& a, const Placed& b) { return a.node < b.node; });
    roots = std::move(kept);
  }
  for (const Placed& root : roots) rows.add(tree_row(nodes, root, rows));
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.pstree",
        .description = "processes of the task list as a parent/child tree",
        .options = {pid_option("only the subtrees of these PIDs: 1 5 or 1,5")},
        .required_types = {"task_struct", "cred", "list_head"},
        .required_symbols = {"init_task"},
    },
    kPstreeColumns, run_pstree));

}  // namespace memscope::linux_kernel
