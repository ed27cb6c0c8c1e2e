// linux.keyboard_notifiers: the callbacks on the keyboard notifier chain
// (keyboard_notifier_list), which see every key press: where a keylogger
// registers.
#include "core/linux/kernel_text.h"
#include "core/linux/notifiers.h"
#include "core/linux/symbolize.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

namespace memscope::linux_kernel {
namespace {

struct KeyboardNotifierRow {
  Address offset{};
  std::optional<int64_t> priority{};
  std::optional<Address> callback{};
  std::optional<std::string> symbol{};
  std::optional<std::string> module{};
  std::optional<bool> hooked{};
};

const RowSchema<KeyboardNotifierRow> kKeyboardNotifierColumns{
    {"offset", &KeyboardNotifierRow::offset, "the struct notifier_block"},
    {"priority", &KeyboardNotifierRow::priority, "its priority (higher runs first)"},
    {"callback", &KeyboardNotifierRow::callback, "the function called on each key event (notifier_call)"},
    {"symbol", &KeyboardNotifierRow::symbol, "the symbol holding the callback (name+offset)"},
    {"module", &KeyboardNotifierRow::module, "the module whose memory holds the callback"},
    {"hooked", &KeyboardNotifierRow::hooked,
     "the callback lies outside the text of the kernel and of every listed module"},
};

void run_keyboard_notifiers(Session& session, const PluginArgs&, Rows<KeyboardNotifierRow>& rows) {
  KernelView view = kernel_view(session);
  KernelText text(view, rows.warnings());
  Symbolizer symbols(text, rows.warnings());
  // An atomic chain since keyboard notifiers exist (drivers/tty/vt/keyboard.c).
  for (const NotifierBlock& block :
       notifier_chain(view, "keyboard_notifier_list", "atomic_notifier_head", rows.warnings())) {
    KeyboardNotifierRow row{.offset = Address{block.address}, .priority = block.priority};
    if (block.callback) {
      SymbolizedAddress where = symbols.resolve(*block.callback);
      row.callback = Address{*block.callback};
      row.symbol = where.symbol;
      row.module = where.module;
      row.hooked = text.unaccounted(*block.callback);
    }
    rows.add(std::move(row));
  }
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.keyboard_notifiers",
        .description = "callbacks on the keyboard notifier chain (where keyloggers register)",
        .options = {},
        .required_types = {"notifier_block", "atomic_notifier_head", "module", "list_head"},
        .required_symbols = {"keyboard_notifier_list", "_etext"},
    },
    kKeyboardNotifierColumns, run_keyboard_notifiers));

}  // namespace memscope::linux_kernel
