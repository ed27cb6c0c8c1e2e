#include "core/layers/physical_layer.h"

namespace memscope {

const ImageNotes& PhysicalLayer::notes() const { return empty_notes_; }

}  // namespace memscope
