#include "bench/support/process_run.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include "bench/support/clocks.h"

extern char** environ;

namespace memscope::bench {
namespace {

std::string variable_name(const std::string& entry) { return entry.substr(0, entry.find('=')); }

// This process's environment with `added` put in, replacing variables of
// the same names.
std::vector<std::string> environment_with(const std::vector<std::string>& added) {
  std::vector<std::string> out(added);
  for (char** entry = environ; *entry; ++entry) {
    const std::string inherited(*entry);
    const bool replaced = std::any_of(added.begin(), added.end(), [&](const std::string& mine) {
      return variable_name(mine) == variable_name(inherited);
    });
    if (!replaced) out.push_back(inherited);
  }
  return out;
}

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

double ms_of(const timeval& t) { return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3; }

std::string read_until_end(int fd) {
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<size_t>(n));
  return text;
}

ProcessRun spawn_and_wait(const std::vector<std::string>& argv, const ProcessOptions& options) {
  std::vector<std::string> arguments(argv);
  std::vector<char*> args = pointers_to(arguments);
  std::vector<std::string> environment;
  std::vector<char*> envp;
  if (!options.environment.empty()) {
    environment = environment_with(options.environment);
    envp = pointers_to(environment);
  }
  ProcessRun out;
  // Close-on-exec: only the child's stdout (a dup2, which clears the flag)
  // keeps the pipe's writing end open, so the read below ends at its exit.
  int pipe_fds[2] = {-1, -1};
  if (options.capture_output && ::pipe2(pipe_fds, O_CLOEXEC) != 0) return out;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (options.capture_output)
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  else
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  const Clock::time_point start = Clock::now();
  pid_t pid = 0;
  // posix_spawnp: a bare name (an external tool such as lz4) is looked up
  // in PATH; a path is run as it is.
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.empty() ? environ : envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (options.capture_output) {
    ::close(pipe_fds[1]);
    if (rc == 0) out.output = read_until_end(pipe_fds[0]);
    ::close(pipe_fds[0]);
  }
  if (rc != 0) return out;
  int status = 0;
  struct rusage usage {};
  if (::wait4(pid, &status, 0, &usage) < 0) return out;
  out.wall_ms = ms_since(start);
  out.cpu_ms = ms_of(usage.ru_utime) + ms_of(usage.ru_stime);
  out.peak_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
  out.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return out;
}

}  // namespace

ProcessRun run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
  ProcessRun out = spawn_and_wait(argv, options);
  if (options.must_succeed && !out.ok) {
    std::string command;
    for (const std::string& arg : argv) command += (command.empty() ? "" : " ") + arg;
    throw std::runtime_error("failed: " + command + " (run it by hand to see why)");
  }
  return out;
}

Repeated repeat_process(const std::vector<std::string>& argv, int runs, const ProcessOptions& options) {
  Repeated out;
  out.ok = run_process(argv, options).ok;
  std::vector<double> wall, cpu;
  for (int i = 0; i < runs; ++i) {
    const ProcessRun run = run_process(argv, options);
    out.ok = out.ok && run.ok;
    wall.push_back(run.wall_ms);
    cpu.push_back(run.cpu_ms);
    out.peak_rss_mib = std::max(out.peak_rss_mib, run.peak_rss_mib);
  }
  out.wall_ms = stats_of(wall);
  out.cpu_ms = stats_of(cpu);
  return out;
}

}  // namespace memscope::bench
