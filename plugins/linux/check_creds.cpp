// linux.check_creds: credential structures shared by different processes.
//
// The kernel gives every new process its own struct cred (copy_creds()
// shares one only with CLONE_THREAD, i.e. between threads of a process),
// so one cred used by two processes means someone pointed a task's `cred`
// at another's: the classic way to make a process root without a trace in
// its own cred (most often at init_cred, the cred of pid 0).
#include <map>

#include "core/linux/tasks.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {
namespace {

struct CredsRow {
  Address cred{};
  std::optional<uint64_t> uid{};
  std::optional<uint64_t> euid{};
  uint64_t processes = 0;
  std::vector<std::string> pids{};
  std::vector<std::string> comms{};
};

const RowSchema<CredsRow> kCredsColumns{
    {"cred", &CredsRow::cred, "the shared struct cred"},
    {"uid", &CredsRow::uid, "its real user ID"},
    {"euid", &CredsRow::euid, "its effective user ID"},
    {"processes", &CredsRow::processes, "how many processes (thread groups) use it"},
    {"pids", &CredsRow::pids, "their PIDs (0: the idle task, whose cred is init_cred)"},
    {"comms", &CredsRow::comms, "their command names, in the order of pids"},
};

struct User {
  int64_t pid = 0;
  std::string comm;
};

void run_check_creds(Session& session, const PluginArgs&, Rows<CredsRow>& rows) {
  KernelView view = kernel_view(session);
  TaskReader reader(view);
  Warnings& warnings = rows.warnings();
  const FieldRef cred_field = view.profile().field("task_struct", "cred");

  // cred -> thread group id -> comm; init_task (pid 0) included: a process
  // using init_cred shares it with init_task.
  std::map<uint64_t, std::map<int64_t, std::string>> users;
  auto visit = [&](uint64_t address) {
    Task task = reader.read(address, warnings);
    ItemFailures failed;
    uint64_t cred = 0;
    failed.attempt("cred", [&] { cred = view.object("task_struct", address)[cred_field].pointer(); });
    failed.report(warnings, "task", task.label());
    if (!cred || !task.pid) return;
    users[cred].emplace(*task.pid, task.comm.value_or(""));
  };
  visit(view.symbol_address("init_task"));
  for (uint64_t process : reader.processes(warnings))
    for (uint64_t thread : reader.threads(process, warnings)) visit(thread);

  const TypeInfo& cred_type = view.profile().require_type("cred");
  auto id = [&](const Object& cred, const char* name) {
    Object field = cred[name];
    return field.type().is_record() ? field["val"].as_u64() : field.as_u64();
  };
  for (const auto& [cred, groups] : users) {
    if (groups.size() < 2) continue;
    CredsRow row{.cred = Address{cred}, .processes = groups.size()};
    for (const auto& [pid, comm] : groups) {
      row.pids.push_back(std::to_string(pid));
      row.comms.push_back(comm);
    }
    ItemFailures failed;
    Object c(view.profile(), view.kernel(), cred_type.id, cred);
    failed.attempt("uid", [&] { row.uid = id(c, "uid"); });
    failed.attempt("euid", [&] { row.euid = id(c, "euid"); });
    failed.report(warnings, "cred", "cred " + hex_address(cred));
    rows.add(std::move(row));
  }
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.check_creds",
        .description = "credential structures shared by different processes (a privilege-escalation trick)",
        .options = {},
        .required_types = {"task_struct", "cred", "list_head"},
        .required_symbols = {"init_task"},
    },
    kCredsColumns, run_check_creds));

}  // namespace memscope::linux_kernel
