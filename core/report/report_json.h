// The report document as JSON (docs/report-schema.json): keys in a fixed
// order, rows as the single-plugin command's `-o json` writes them (keys in
// column order, nested rows under "children", addresses as hex strings),
// invalid UTF-8 from the image replaced rather than refused. The same
// report gives the same bytes, apart from generated_at and elapsed_ms.
#pragma once

#include <string>

#include "core/plugin/table.h"
#include "core/report/report.h"

namespace memscope {

// `indent` < 0: one line (JSONL), else pretty-printed with that many spaces.
std::string report_json(const ImageReport& report, int indent = 2);

// The JSON Schema type name of a column type ("address", "uint", ...), as
// the document's columns give it.
const char* column_type_name(ColumnType type);

}  // namespace memscope
