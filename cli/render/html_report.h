// A report (core/report/report.h) as one self-contained HTML page: no
// server, no network, no external script, style or font (the page's
// Content-Security-Policy forbids every fetch), readable without
// JavaScript, whose small inline script makes the tables sortable and
// filterable.
//
// From the top: what was found hidden (rows of any plugin whose "hidden"
// column is true: linux.hidden_processes, linux.hidden_modules), the
// image, kernel and profile, the process tree (linux.pstree) with each
// process's command line (linux.psaux), the modules (linux.lsmod), the
// kernel log (linux.kmsg), then every other plugin's table, with its
// status, time and warnings.
#pragma once

#include <string>

#include "core/report/report.h"

namespace memscope {

std::string report_html(const ImageReport& report);

}  // namespace memscope
