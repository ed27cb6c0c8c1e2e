// Reports of many images: `jobs` images analysed at once, each on a
// thread of its own (the plugins' own scans use every core besides), the
// finished reports handed to `emit` on the calling thread in the order the
// images were given, so that what is written does not depend on which
// image finished first. At most 2 x jobs reports are held at a time
// (core/util/ordered_pipeline.h): memory does not grow with the batch.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/report/report.h"

namespace memscope {

struct BatchProgress {
  // An image's report has begun (index into the batch), or one of its
  // plugins is about to run (plugin "" while the image is opened). Called
  // on the worker thread: must be thread-safe.
  std::function<void(size_t index, const std::string& image, const std::string& plugin)> step;
};

// Runs the batch; returns how many images failed (ImageReport::failed,
// after emit: emit may set `error` when it cannot write the report).
// `emit` may throw: the batch then stops and rethrows it.
size_t run_report_batch(const std::vector<std::string>& images, const std::vector<const Plugin*>& plugins,
                        const ReportOptions& options, unsigned jobs,
                        const std::function<void(size_t index, ImageReport&)>& emit,
                        const BatchProgress& progress = {});

}  // namespace memscope
