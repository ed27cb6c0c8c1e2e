// Fuzz target for the overlay file (core/layers/overlay_file.h,
// docs/overlay-format.md): the input is a saved overlay. It is read and
// validated, then loaded (differences of identity only warned about) into an overlay over a
// small image whose first pages exist, as `kvm_overlay_load` and the
// command do; on success, its pages are read back.
#include "core/layers/overlay.h"
#include "core/layers/overlay_file.h"
#include "core/util/error.h"
#include "fuzz/fuzz_support.h"
#include "support/buffer_space.h"

using namespace memscope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::MemFile input(data, size);
  try {
    OverlayFileContents contents = read_overlay_file(input.path());
    (void)contents.info;
  } catch (const Error&) {
  }
  test::BufferSpace image;
  image.map(0, 64 * 4096);
  Overlay overlay(image);
  try {
    ImageIdentity identity;
    (void)load_overlay(overlay, identity, input.path(), IdentityCheck::warn);
    uint8_t page[4096];
    for (uint64_t at = 0; at < 64 * 4096; at += 4096) (void)overlay.read(at, page, sizeof page);
  } catch (const Error&) {
  }
  return 0;
}
