// Writes raw images. See formats/writers/image_output.h for the rules every writer
// follows.
#pragma once

#include "formats/writers/image_output.h"

namespace memscope {

// Raw: file offset == physical address, from 0 to the end of the last
// range. Holes (and the space below the first range) read as zeros: they
// are left as sparse holes where the file system supports it, written as
// zeros otherwise. A raw image cannot tell a hole from zeroed memory.
void write_raw_image(AddressSpace& source, const std::vector<Range>& ranges, const std::string& out_path,
                     const ProgressFn& progress = {});


}  // namespace memscope
