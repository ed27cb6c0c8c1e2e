// Validating report documents (memscope report, --envelope) against
// docs/report-schema.json with a real JSON Schema validator: Python's
// jsonschema (Debian: python3-jsonschema, installed by dev.sh). Debian has
// no maintained C++ JSON Schema validator, and a hand-written subset would
// only check what its author thought of.
#pragma once

#include <string>
#include <vector>

namespace memscope::test {

// The errors of each file against the schema ("" when every document is
// valid). A file ending in .jsonl holds one document per line. Skips the
// test (fails it with CI=true) when no python3 with jsonschema is found.
std::string report_schema_errors(const std::vector<std::string>& files);

// The schema's path in the source tree.
std::string report_schema_path();

}  // namespace memscope::test
