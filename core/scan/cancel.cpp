#include "core/scan/cancel.h"

#include <csignal>

namespace memscope {
namespace {

extern "C" void on_interrupt(int signal) {
  if (interrupt_token().requested()) {
    // Second Ctrl-C: the default action (termination).
    std::signal(signal, SIG_DFL);
    std::raise(signal);
    return;
  }
  interrupt_token().request();
}

}  // namespace

CancelToken& interrupt_token() {
  static CancelToken token;
  return token;
}

void install_interrupt_handler() {
  interrupt_token();  // constructed before any signal can arrive
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &action, nullptr);
}

}  // namespace memscope
