// linux.kmsg: the kernel log as the kernel keeps it (the printk ring buffer
// of 5.10+, or log_buf before), one row per line as dmesg prints it, the
// newest record included even when the kernel has not finalized it yet.
#include "core/linux/printk.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

namespace memscope::linux_kernel {
namespace {

struct KmsgRow {
  Seconds timestamp{};
  uint64_t level = 0;
  uint64_t facility = 0;
  std::optional<std::string> caller{};
  std::string text{};
};

const RowSchema<KmsgRow> kKmsgColumns{
    {"timestamp", &KmsgRow::timestamp, "seconds since boot, as dmesg prints them"},
    {"level", &KmsgRow::level, "log level: 0 (emerg) .. 7 (debug)"},
    {"facility", &KmsgRow::facility, "syslog facility: 0 for the kernel, others from /dev/kmsg writers"},
    {"caller", &KmsgRow::caller, "T<pid> (a task) or C<cpu> (outside task context), when the kernel records it"},
    {"text", &KmsgRow::text, "one line of the record"},
};

void run_kmsg(Session& session, const PluginArgs&, Rows<KmsgRow>& rows) {
  KernelView view = kernel_view(session);
  KernelLog log(view);
  for (const LogRecord& record : log.records(rows.warnings())) {
    KmsgRow row{.timestamp = Seconds{record.timestamp_ns},
                .level = record.level,
                .facility = record.facility,
                .caller = record.caller_id ? std::optional(printk_caller_text(*record.caller_id)) : std::nullopt};
    // A record may hold several lines; dmesg prints each with the record's
    // prefix. A record ending in a newline does not add an empty line.
    size_t from = 0;
    do {
      size_t end = record.text.find('\n', from);
      if (end == std::string::npos) end = record.text.size();
      row.text = record.text.substr(from, end - from);
      rows.add(row);
      from = end + 1;
    } while (from < record.text.size());
  }
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.kmsg",
        .description = "the kernel log (printk ring buffer or log_buf), the newest record included",
        .options = {},
        .required_types = {},
        .required_symbols = {},
    },
    kKmsgColumns, run_kmsg));

}  // namespace memscope::linux_kernel
