// The libkvm C API: a thin wrapper over Session. Every entry point catches
// every exception: a C caller never sees one.
#include "memscope/kvm.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/layers/overlay_file.h"
#include "core/session/session.h"
#include "core/kvm/kvm_handle.h"

namespace {

// Longest string kvm_readstr follows before giving up: strings in a hostile
// image need not end.
constexpr size_t kMaxString = 1 << 20;

using memscope::kvm::fail;

memscope::AddressSpace& space(kvm_t* kd) {
  if (kd->virtual_mode) return *kd->kernel;
  return kd->session->physical();
}

// What a transfer returns to a C caller: its count, or -1 with the fault.
ssize_t outcome(kvm_t* kd, const memscope::IoResult& result, const char* verb, bool physical) {
  if (result.ok()) return static_cast<ssize_t>(result.done);
  // libkvm gives a short count only where the image itself ends; a hole or
  // an unmapped page anywhere in the range is an error.
  uint64_t limit = kd->session->image().limit();
  if (physical && result.done > 0 && result.fault->address >= limit) return static_cast<ssize_t>(result.done);
  return fail(kd, result.fault->message(verb));
}

ssize_t too_large(kvm_t* kd, size_t n) {
  return fail(kd, "request of " + std::to_string(n) + " bytes is too large");
}

ssize_t transfer(kvm_t* kd, memscope::AddressSpace& target, uint64_t addr, void* buf, const void* src,
                 size_t n, bool physical) {
  if (n > static_cast<size_t>(SSIZE_MAX)) return too_large(kd, n);
  memscope::IoResult result = src ? target.write(addr, src, n) : target.read(addr, buf, n);
  return outcome(kd, result, src ? "write" : "read", physical);
}

kvm_t* open_common(const char* execfile, const char* corefile, const char* swapfile, int flags,
                   std::string& error) {
  if (!corefile || !*corefile) {
    error = "no memory image given (corefile is NULL)";
    return nullptr;
  }
  if (swapfile && *swapfile) {
    error = std::string(corefile) + ": swap files are not supported";
    return nullptr;
  }
  int mode = flags & O_ACCMODE;
  if (mode != O_RDONLY && mode != O_RDWR) {
    error = std::string(corefile) + ": flags must be O_RDONLY or O_RDWR";
    return nullptr;
  }
  try {
    auto kd = std::make_unique<__kvm>();
    memscope::SessionOptions options;
    options.image = corefile;
    if (execfile) options.profile = execfile;
    kd->session = std::make_unique<memscope::Session>(options);
    kd->writable = mode == O_RDWR;
    if (execfile && *execfile) kd->session->profile();  // a bad profile is an open error
    kd->virtual_mode = kd->session->has_kernel();
    if (kd->virtual_mode) kd->kernel = &kd->session->kernel_space();
    return kd.release();
  } catch (const std::exception& e) {
    error = e.what();
    return nullptr;
  }
}

}  // namespace

extern "C" {

kvm_t* kvm_openfiles(const char* execfile, const char* corefile, const char* swapfile, int flags, char* errbuf) {
  std::string error;
  kvm_t* kd = open_common(execfile, corefile, swapfile, flags, error);
  if (!kd && errbuf) std::snprintf(errbuf, KVM_ERRBUF_SIZE, "%s", error.c_str());
  return kd;
}

kvm_t* kvm_open(const char* execfile, const char* corefile, const char* swapfile, int flags, const char* errstr) {
  std::string error;
  kvm_t* kd = open_common(execfile, corefile, swapfile, flags, error);
  if (!kd) {
    if (errstr)
      std::fprintf(stderr, "%s: %s\n", errstr, error.c_str());
    else
      std::fprintf(stderr, "%s\n", error.c_str());
  }
  return kd;
}

int kvm_close(kvm_t* kd) {
  if (!kd) {
    errno = EINVAL;
    return -1;
  }
  delete kd;
  return 0;
}

ssize_t kvm_read(kvm_t* kd, unsigned long addr, void* buf, size_t nbytes) {
  if (!kd) return -1;
  try {
    if (!kd->virtual_mode) return transfer(kd, kd->session->physical(), addr, buf, nullptr, nbytes, true);
    if (nbytes > static_cast<size_t>(SSIZE_MAX)) return too_large(kd, nbytes);
    // The static type is the (final) paging layer: its cached hit path is
    // inlined here, with no virtual call.
    return outcome(kd, kd->kernel->read(addr, buf, nbytes), "read", false);
  } catch (const std::exception& e) {
    return fail(kd, e.what());
  }
}

ssize_t kvm_write(kvm_t* kd, unsigned long addr, const void* buf, size_t nbytes) {
  if (!kd) return -1;
  if (!kd->writable) return fail(kd, "kvm_write: opened O_RDONLY (open with O_RDWR to write to the overlay)");
  try {
    return transfer(kd, space(kd), addr, nullptr, buf, nbytes, !kd->virtual_mode);
  } catch (const std::exception& e) {
    return fail(kd, e.what());
  }
}

ssize_t kvm_read_physical(kvm_t* kd, unsigned long long addr, void* buf, size_t nbytes) {
  if (!kd) return -1;
  try {
    return transfer(kd, kd->session->physical(), addr, buf, nullptr, nbytes, true);
  } catch (const std::exception& e) {
    return fail(kd, e.what());
  }
}

ssize_t kvm_write_physical(kvm_t* kd, unsigned long long addr, const void* buf, size_t nbytes) {
  if (!kd) return -1;
  if (!kd->writable) return fail(kd, "kvm_write_physical: opened O_RDONLY");
  try {
    return transfer(kd, kd->session->physical(), addr, nullptr, buf, nbytes, true);
  } catch (const std::exception& e) {
    return fail(kd, e.what());
  }
}

char* kvm_readstr(kvm_t* kd, unsigned long addr, char* buf, size_t* lenp) {
  if (!kd) return nullptr;
  if (buf && !lenp) {
    fail(kd, "kvm_readstr: a buffer needs its size in *lenp");
    return nullptr;
  }
  try {
    memscope::AddressSpace& target = space(kd);
    std::string text;
    // Read up to each page end so a string ending just before an unmapped
    // page is still read.
    char chunk[4096];
    uint64_t at = addr;
    for (;;) {
      size_t want = 4096 - (at & 4095);
      memscope::IoResult r = target.read(at, chunk, want);
      const void* nul = std::memchr(chunk, 0, r.done);
      if (nul) {
        text.append(chunk, static_cast<const char*>(nul) - chunk);
        break;
      }
      text.append(chunk, r.done);
      if (!r.ok()) {
        fail(kd, r.fault->message());
        return nullptr;
      }
      if (text.size() > kMaxString) {
        fail(kd, "kvm_readstr: no NUL within " + std::to_string(kMaxString) + " bytes of " + memscope::hex(addr));
        return nullptr;
      }
      at += r.done;
    }
    size_t needed = text.size() + 1;
    size_t available = lenp ? *lenp : 0;
    if (lenp) *lenp = needed;
    if (!buf) {
      char* out = static_cast<char*>(std::malloc(needed));
      if (!out) {
        fail(kd, "kvm_readstr: out of memory");
        return nullptr;
      }
      std::memcpy(out, text.c_str(), needed);
      return out;
    }
    if (available < needed) {
      fail(kd, "kvm_readstr: buffer of " + std::to_string(available) + " bytes is too small, " +
                   std::to_string(needed) + " needed");
      return nullptr;
    }
    std::memcpy(buf, text.c_str(), needed);
    return buf;
  } catch (const std::exception& e) {
    fail(kd, e.what());
    return nullptr;
  }
}

int kvm_nlist(kvm_t* kd, struct nlist* nl) {
  if (!kd || !nl) return -1;
  try {
    if (!kd->session->has_profile()) return fail(kd, "kvm_nlist: no kernel profile (give one as execfile)");
    uint64_t shift = kd->session->has_kernel() ? kd->session->kernel().virtual_shift : 0;
    const memscope::Profile& profile = kd->session->profile();
    int missing = 0;
    for (struct nlist* entry = nl; entry->n_name && entry->n_name[0]; ++entry) {
      std::string_view name = entry->n_name;
      std::optional<uint64_t> address = profile.symbol(name);
      // BSD callers often spell symbols with the a.out underscore.
      if (!address && name.size() > 1 && name[0] == '_') address = profile.symbol(name.substr(1));
      if (address) {
        entry->n_value = static_cast<unsigned long>(*address + shift);
        entry->n_type = N_DATA;
      } else {
        entry->n_value = 0;
        entry->n_type = N_UNDF;
        ++missing;
      }
    }
    return missing;
  } catch (const std::exception& e) {
    return fail(kd, e.what());
  }
}

char* kvm_geterr(kvm_t* kd) {
  if (!kd) return nullptr;
  return kd->error.data();
}

ssize_t kvm_kerndisp(kvm_t* kd) {
  if (!kd) return 0;
  try {
    if (!kd->session->has_kernel()) return 0;
    return static_cast<ssize_t>(kd->session->kernel().virtual_shift);
  } catch (const std::exception&) {
    return 0;
  }
}

int kvm_set_dtb(kvm_t* kd, unsigned long long dtb, int levels) {
  if (!kd) return -1;
  try {
    kd->session->set_kernel_dtb(dtb, levels == 5 ? 5 : 4);
    kd->kernel = &kd->session->kernel_space();
    kd->virtual_mode = true;
    return 0;
  } catch (const std::exception& e) {
    return fail(kd, e.what());
  }
}

int kvm_overlay_save(kvm_t* kd, const char* path) {
  if (!kd || !path) return -1;
  try {
    memscope::save_overlay(kd->session->overlay(), kd->session->image_identity(), path);
    return 0;
  } catch (const std::exception& e) {
    return fail(kd, e.what());
  }
}

int kvm_overlay_load(kvm_t* kd, const char* path) {
  if (!kd || !path) return -1;
  try {
    memscope::load_overlay(kd->session->overlay(), kd->session->image_identity(), path);
    return 0;
  } catch (const std::exception& e) {
    return fail(kd, e.what());
  }
}

int kvm_overlay_discard(kvm_t* kd) {
  if (!kd) return -1;
  kd->session->overlay().discard();
  return 0;
}

}  // extern "C"
