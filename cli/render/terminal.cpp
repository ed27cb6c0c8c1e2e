#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "cli/render/render.h"

namespace memscope {

size_t terminal_width() {
  winsize size{};
  if (::isatty(STDOUT_FILENO) == 1 && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0)
    return size.ws_col;
  // A pipe or a file: whole cells, unless the analyst set COLUMNS (as ps
  // reads it) to say how wide the page is.
  if (const char* columns = std::getenv("COLUMNS")) {
    char* end = nullptr;
    unsigned long value = std::strtoul(columns, &end, 10);
    if (end != columns && *end == '\0' && value > 0 && value < 100000) return value;
  }
  return 0;
}

}  // namespace memscope
