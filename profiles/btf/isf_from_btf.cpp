#include "profiles/btf/isf_from_btf.h"

#include <filesystem>

namespace memscope {

nlohmann::json isf_from_btf(const Btf& btf, const SystemMap& system_map, const IsfFromBtfOptions& options,
                            IsfFromBtfReport* report) {
  ProfileFromBtfOptions build;
  build.banner = options.banner;
  build.producer_version = options.producer_version;
  std::shared_ptr<const Profile> profile = profile_from_btf(btf, system_map, build, report);
  IsfExportOptions write;
  write.symbols_name = std::filesystem::path(system_map.source).filename().string();
  write.symbols_sha256 = options.system_map_sha256;
  write.big_endian = btf.big_endian();
  return isf_from_profile(*profile, write);
}

nlohmann::json isf_from_btf_files(const std::string& btf_path, const std::string& system_map_path,
                                  const IsfFromBtfOptions& options, IsfFromBtfReport* report) {
  Btf btf = Btf::load(btf_path);
  SystemMap map = load_system_map(system_map_path);
  if (report && map.skipped_lines)
    report->warnings.push_back(system_map_path + ": " + std::to_string(map.skipped_lines) +
                               " lines were not symbols and were skipped (first: line " +
                               std::to_string(map.first_skipped_line) + ")");
  return isf_from_btf(btf, map, options, report);
}

}  // namespace memscope
