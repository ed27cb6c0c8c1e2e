// Writing reports into the folder the analyst named: each file written
// whole under a temporary name and renamed into place (a reader never sees
// half a report), and never over an earlier file of the same name: the
// next free name `<base>.1<suffix>`, `<base>.2<suffix>`, ... is taken
// instead (renameat2 RENAME_NOREPLACE, so two writers racing for a name
// cannot both have it), and the caller says so.
#pragma once

#include <string>

namespace memscope {

// The file name a report of `image_path` gets before its suffix: the
// image's own file name ("/cases/42/mem.lime" -> "mem.lime").
std::string report_base_name(const std::string& image_path);

// Writes `bytes` into `dir` as `<base><suffix>` or, when that name is
// taken, the next free numbered name. Returns the path written. Throws
// Error naming the file on any failure (folder missing, disk full).
std::string write_new_file(const std::string& dir, const std::string& base, const std::string& suffix,
                           const std::string& bytes);

}  // namespace memscope
