// Writes the sample image that ships in samples/: a small synthetic Linux
// (tests/support/synthetic_linux.h) as a LiME file, with the profile that
// describes it. Usage: memscope-make-sample OUT_DIR
#include <exception>
#include <filesystem>
#include <iostream>

#include "support/synthetic_linux.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: memscope-make-sample OUT_DIR\n";
    return 2;
  }
  try {
    std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    memscope::test::SyntheticLinux linux_image;
    linux_image.write_lime((dir / "sample.lime").string());
    linux_image.write_profile((dir / "sample-profile.json").string());
    std::cout << "wrote " << (dir / "sample.lime").string() << " and " << (dir / "sample-profile.json").string()
              << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "memscope-make-sample: " << e.what() << "\n";
    return 1;
  }
}
