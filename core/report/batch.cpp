#include "core/report/batch.h"

#include <algorithm>
#include <optional>

#include "core/plugin/loader.h"
#include "core/scan/cancel.h"
#include "core/util/ordered_pipeline.h"

namespace memscope {

size_t run_report_batch(const std::vector<std::string>& images, const std::vector<const Plugin*>& plugins,
                        const ReportOptions& options, unsigned jobs,
                        const std::function<void(size_t index, ImageReport&)>& emit, const BatchProgress& progress) {
  if (jobs == 0) jobs = 1;
  if (jobs > images.size()) jobs = static_cast<unsigned>(images.size());
  std::vector<std::optional<ImageReport>> slots(std::max<size_t>(1, size_t{jobs} * 2));
  size_t failed = 0;
  run_ordered(
      images.size(), jobs, slots,
      [&](uint64_t index, std::optional<ImageReport>& slot) {
        ReportProgress step;
        if (progress.step)
          step = [&, index](const std::string& image, const std::string& plugin) { progress.step(index, image, plugin); };
        // After Ctrl-C no image is opened: each gets its document, saying so.
        if (interrupt_token().requested()) {
          ImageReport stopped;
          stopped.path = images[index];
          stopped.error = images[index] + ": not analysed: interrupted (Ctrl-C)";
          for (const Plugin* plugin : plugins) {
            PluginReport entry;
            entry.name = plugin->info.name;
            entry.origin = plugin_origin(plugin->info.name);
            entry.reason = "not run: interrupted (Ctrl-C)";
            entry.table.columns = plugin->info.columns;
            stopped.plugins.push_back(std::move(entry));
          }
          stopped.generated_at = utc_timestamp();
          slot = std::move(stopped);
          return;
        }
        slot = build_image_report(images[index], plugins, options, step);
      },
      [&](uint64_t index, std::optional<ImageReport>& slot) {
        // After emit: a report that could not be written failed too.
        emit(index, *slot);
        if (slot->failed()) ++failed;
        slot.reset();
      });
  return failed;
}

}  // namespace memscope
