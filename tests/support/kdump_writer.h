// A test-side writer of makedumpfile's kdump-compressed format, seekable or
// flattened, with any of its codecs and header versions: the zstd kdump of
// the fixture guest (no public tool that writes one is installed here), and
// the odd and broken variants the reader must handle (excluded pages, split
// and incomplete dumps, records out of order). It is written from the
// format's description (formats/kdump/kdump_format.h), as makedumpfile and
// QEMU lay files out, not from their code.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "core/layers/physical_layer.h"

namespace memscope::test {

struct KdumpWriteOptions {
  uint32_t codec = 0x20;      // kdump::kCompressed* (zstd), or 0: every page stored
  bool flattened = false;     // makedumpfile -F / QEMU stream instead of the seekable layout
  int header_version = 6;     // 1 to 6
  uint64_t page_size = 4096;
  bool share_zero_page = true;  // every zero page points at one stored zero page, as QEMU does
  int dump_level = 1;
  uint64_t phys_base = 0xfffffff8d88ee8bcull;  // the sub-header's, deliberately not the real one
  std::string machine = "x86_64";
  std::string release = "";   // utsname.release (QEMU leaves it empty)
  bool vmcoreinfo = true;     // the source's VMCOREINFO in the sub-header (version 3+)
  bool notes = true;          // VMCOREINFO and QEMU CPU notes as ELF notes (version 4+)
  // Pages kept out of the second bitmap (excluded by "dump level").
  std::function<bool(uint64_t pfn)> exclude{};
  // Split dump: this file holds pfns [first, end) only.
  std::optional<std::pair<uint64_t, uint64_t>> split{};
  // Incomplete dump: pages from this descriptor index on get offset 0 and
  // no data, and the header's status the incomplete flag.
  std::optional<uint64_t> written_pages{};
  // Flattened: bytes per data record, the disk_dump_header record written
  // last instead of first, and a bogus header written first that the real
  // one (written later) must override.
  uint64_t record_size = 16 << 10;
  bool header_last = false;
  bool stale_header_first = false;
};

struct KdumpLayout {
  uint64_t bitmap_offset = 0;   // dump offset of the first bitmap
  uint64_t desc_offset = 0;     // dump offset of the page_desc table
  uint64_t data_offset = 0;     // dump offset of the first page's data
  uint64_t dumped_pages = 0;
  // pfn -> {dump offset of its data, its size} for pages with their own data.
  std::map<uint64_t, std::pair<uint64_t, uint32_t>> page_data;
  uint64_t dump_size = 0;       // size of the seekable layout
};

// Writes every page of `source`'s ranges (each range rounded out to whole
// pages) to `path` as a kdump-compressed dump. Throws std::runtime_error.
KdumpLayout write_kdump(PhysicalLayer& source, const std::string& path, const KdumpWriteOptions& options = {});

}  // namespace memscope::test
