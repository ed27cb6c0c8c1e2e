// Writes LiME images. See formats/writers/image_output.h for the rules every writer
// follows.
#pragma once

#include "formats/writers/image_output.h"

namespace memscope {

// LiME: one 32-byte header (start, inclusive end) followed by the bytes,
// per range. Holes are not stored.
void write_lime_image(AddressSpace& source, const std::vector<Range>& ranges, const std::string& out_path,
                      const ProgressFn& progress = {});


}  // namespace memscope
