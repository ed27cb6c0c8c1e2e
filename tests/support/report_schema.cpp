#include "support/report_schema.h"

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "support/fixtures.h"
#include "support/temp_file.h"

namespace memscope::test {
namespace {

// Draft 2020-12, every error of every document (not only the first).
constexpr const char* kValidator = R"PY(
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
errors = 0
for path in sys.argv[2:]:
    with open(path) as f:
        docs = [json.loads(line) for line in f if line.strip()] if path.endswith(".jsonl") else [json.load(f)]
    if not docs:
        print(path + ": no document"); errors += 1
    for index, doc in enumerate(docs):
        for error in validator.iter_errors(doc):
            print("%s[%d] at /%s: %s" % (path, index, "/".join(str(p) for p in error.absolute_path), error.message[:300]))
            errors += 1
sys.exit(1 if errors else 0)
)PY";

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

const std::string& python_with_jsonschema() {
  static const std::string found = [] {
    for (const char* candidate : {"python3", "/usr/bin/python3"}) {
      std::string command = std::string(candidate) + " -c 'import jsonschema' >/dev/null 2>&1";
      if (std::system(command.c_str()) == 0) return std::string(candidate);
    }
    return std::string();
  }();
  return found;
}

}  // namespace

std::string report_schema_path() { return std::string(MEMSCOPE_SOURCE_DIR) + "/docs/report-schema.json"; }

std::string report_schema_errors(const std::vector<std::string>& files) {
  const std::string& python = python_with_jsonschema();
  if (python.empty())
    skip_unless_ci("no python3 with the jsonschema module to validate reports (Debian: python3-jsonschema)");
  TempDir dir("report-schema");
  {
    std::ofstream script(dir.file("validate.py"));
    script << kValidator;
  }
  std::string command = python + " " + quoted(dir.file("validate.py")) + " " + quoted(report_schema_path());
  for (const std::string& file : files) command += " " + quoted(file);
  command += " > " + quoted(dir.file("out.txt")) + " 2>&1";
  int status = std::system(command.c_str());
  std::ifstream in(dir.file("out.txt"));
  std::stringstream text;
  text << in.rdbuf();
  if (status != 0 && text.str().empty()) return "the validator failed (status " + std::to_string(status) + ")";
  return status == 0 ? std::string() : text.str();
}

}  // namespace memscope::test
