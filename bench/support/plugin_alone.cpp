#include "bench/support/plugin_alone.h"

#include <chrono>
#include <stdexcept>
#include <vector>

#include "bench/support/clocks.h"

namespace memscope::bench {

std::unique_ptr<Session> open_session(const std::string& image, const std::string& profile) {
  SessionOptions options;
  options.image = image;
  options.profile = profile;
  auto session = std::make_unique<Session>(options);
  session->kernel();
  return session;
}

PluginAlone time_plugin_alone(Session& session, const std::string& plugin, const PluginArgs& args, int runs,
                              IfPluginFails if_fails) {
  const Plugin* found = find_plugin(plugin);
  if (!found) throw std::runtime_error("no plugin " + plugin);
  PluginAlone out;
  std::vector<double> wall, cpu;
  for (int i = 0; i < runs; ++i) {
    const double cpu_start = process_cpu_seconds();
    PluginResult result = run_plugin(*found, session, args);
    const double cpu_ms = (process_cpu_seconds() - cpu_start) * 1e3;
    if (!result.ok) {
      if (if_fails == IfPluginFails::throw_error) throw std::runtime_error(plugin + ": " + result.error);
      out.ok = false;
      out.error = result.error;
      break;
    }
    wall.push_back(std::chrono::duration<double, std::milli>(result.elapsed).count());
    cpu.push_back(cpu_ms);
    out.last_table = std::move(result.table);
  }
  out.wall_ms = stats_of(wall);
  out.cpu_ms = stats_of(cpu);
  return out;
}

}  // namespace memscope::bench
