#include "support/run_cli.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace memscope::test {
namespace {

void read_available(int fd, std::string& into, bool& open) {
  char buffer[65536];
  ssize_t n = ::read(fd, buffer, sizeof buffer);
  if (n > 0) {
    into.append(buffer, static_cast<size_t>(n));
  } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
    // EIO is how a pseudo-terminal's master reports that the other side closed.
    open = false;
  }
}

}  // namespace

CliRun run_cli(const std::vector<std::string>& args, const CliOptions& options) {
  int out_pipe[2], err_pipe[2] = {-1, -1}, in_pipe[2];
  int terminal = -1, terminal_slave = -1;
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(in_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  if (options.stderr_is_terminal) {
    if (::openpty(&terminal, &terminal_slave, nullptr, nullptr, nullptr) != 0)
      throw std::runtime_error(std::string("openpty: ") + std::strerror(errno));
  } else if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }

  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  for (const std::string& extra : options.env) env_strings.push_back(extra);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings{MEMSCOPE_CLI_PATH};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t child = ::fork();
  if (child < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (child == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(options.stderr_is_terminal ? terminal_slave : err_pipe[1], 2);
    if (options.stderr_is_terminal) ::close(terminal);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  if (options.stderr_is_terminal)
    ::close(terminal_slave);
  else
    ::close(err_pipe[1]);
  if (!options.input.empty()) {
    // Small inputs only: written before reading, so it must fit the pipe.
    ssize_t written = ::write(in_pipe[1], options.input.data(), options.input.size());
    (void)written;
  }
  ::close(in_pipe[1]);

  CliRun run;
  int err_fd = options.stderr_is_terminal ? terminal : err_pipe[0];
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_fd, POLLIN, 0}};
    int ready = ::poll(fds, 2, 60000);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;  // a minute without output: give up waiting
    if (out_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) read_available(out_pipe[0], run.out, out_open);
    if (err_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) read_available(err_fd, run.err, err_open);
    fds[0].fd = out_open ? out_pipe[0] : -1;
    fds[1].fd = err_open ? err_fd : -1;
  }
  ::close(out_pipe[0]);
  ::close(err_fd);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

std::string sample_image() { return std::string(MEMSCOPE_SOURCE_DIR) + "/samples/sample.lime"; }
std::string sample_profile() { return std::string(MEMSCOPE_SOURCE_DIR) + "/samples/sample-profile.json"; }

}  // namespace memscope::test
