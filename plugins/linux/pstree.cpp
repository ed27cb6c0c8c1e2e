// linux.pstree: the processes of the task list as a tree of parents and
// children (by real_parent), roots first. Text output indents children;
// JSON nests them under "children".
#include <algorithm>
#include <map>

#include "core/util/hex.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "core/plugin/cells.h"
#include "core/linux/tasks.h"

namespace memscope::linux_kernel {
namespace {

// Real process trees are a few dozen levels deep; a forged parent chain
// must not turn into unbounded recursion here or in the renderers.
constexpr size_t kMaxDepth = 256;

std::vector<Column> pstree_columns() {
  return {
      {"pid", ColumnType::Int, "process ID (thread-group ID)"},
      {"ppid", ColumnType::Int, "parent's process ID (real_parent)"},
      {"comm", ColumnType::String, "command name"},
      {"uid", ColumnType::UInt, "real user ID"},
      {"threads", ColumnType::UInt, "number of threads"},
      {"offset", ColumnType::Address, "address of the task_struct"},
  };
}

struct Node {
  Task task;
  size_t threads = 1;
  std::vector<size_t> children;  // indices into the node list, by pid
};

class TreeBuilder {
 public:
  explicit TreeBuilder(std::vector<Node>& nodes) : nodes_(nodes) {}

  Row build(size_t index, size_t depth) {
    placed_[index] = true;
    const Node& node = nodes_[index];
    std::optional<uint64_t> uid;
    if (node.task.creds) uid = node.task.creds->uid;
    Row row{{cell(node.task.pid), cell(node.task.ppid), cell(node.task.comm), cell(uid),
             Value(static_cast<uint64_t>(node.threads)), address_cell(node.task.address)},
            {}};
    for (size_t child : node.children) {
      if (placed_[child]) continue;
      if (depth + 1 >= kMaxDepth) continue;  // listed as a root by the caller
      row.children.push_back(build(child, depth + 1));
    }
    return row;
  }
  bool placed(size_t index) const { return placed_.count(index) && placed_.at(index); }

 private:
  std::vector<Node>& nodes_;
  std::map<size_t, bool> placed_;
};

void run_pstree(Session& session, const PluginArgs& args, Table& table) {
  KernelView view = kernel_view(session);
  TaskReader reader(view);
  const std::set<int64_t> filter = pid_filter(args);

  std::vector<Node> nodes;
  for (uint64_t leader : reader.processes(table.warnings)) {
    Node node;
    node.task = reader.read(leader, table.warnings);
    node.threads = reader.threads(leader, table.warnings).size();
    nodes.push_back(std::move(node));
  }
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
  std::vector<Row> roots;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (!has_parent[i]) roots.push_back(builder.build(i, 0));
  // Whatever is left sits on a cycle of parent links (or below the depth
  // limit): list it rather than lose it.
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (builder.placed(i)) continue;
    table.warnings.push_back(nodes[i].task.label() + ": its ancestors form a cycle or a chain deeper than " +
                               std::to_string(kMaxDepth) + " levels; listed as a root");
    roots.push_back(builder.build(i, 0));
  }
  // --pid keeps the subtrees rooted at the chosen processes.
  if (!filter.empty()) {
    std::vector<Row> chosen;
    std::vector<const Row*> stack;
    for (const Row& r : roots) stack.push_back(&r);
    while (!stack.empty()) {
      const Row* r = stack.back();
      stack.pop_back();
      const auto* pid = std::get_if<int64_t>(&r->cells[0]);
      if (pid && filter.count(*pid)) {
        chosen.push_back(*r);
        continue;
      }
      for (const Row& c : r->children) stack.push_back(&c);
    }
    std::sort(chosen.begin(), chosen.end(), [](const Row& a, const Row& b) {
      return std::get<int64_t>(a.cells[0]) < std::get<int64_t>(b.cells[0]);
    });
    roots = std::move(chosen);
  }
  table.rows = std::move(roots);
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), Plugin{
    .info =
        {
            .name = "linux.pstree",
            .description = "processes of the task list as a parent/child tree",
            .options = {{"pid", PluginOption::Kind::Int, "only the subtree of this PID (repeatable)", true}},
            .required_types = {"task_struct", "cred", "list_head"},
            .required_symbols = {"init_task"},
            .columns = pstree_columns(),
        },
    .run = run_pstree,
});

}  // namespace memscope::linux_kernel
