// Reading a benchmark's options, and where the memscope it runs is.
#pragma once

#include <string>
#include <vector>

namespace memscope::bench {

// The arguments after the program's name, one at a time:
//
//   for (CommandLine args(argc, argv); args.next();)
//     if (args.current() == "--runs") runs = std::stoi(args.value());
class CommandLine {
 public:
  CommandLine(int argc, char** argv);

  // Moves to the next argument; false after the last.
  bool next();
  const std::string& current() const { return arguments_[at_]; }
  // The argument after the current option, which it consumes. Throws
  // std::runtime_error "OPTION needs a value" after the last argument.
  std::string value();

 private:
  std::vector<std::string> arguments_;
  size_t at_ = 0;  // arguments_[0] is the program
};

// The memscope built beside the benchmarks (build/bench/bench_x ->
// build/memscope), or "memscope" from PATH when that cannot be told:
// the default of --cli.
std::string default_cli();

}  // namespace memscope::bench
