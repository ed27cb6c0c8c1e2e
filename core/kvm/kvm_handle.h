// What a kvm_t is: the session behind it, the addressing mode, the last
// error, and the storage the calls that return arrays own (kvm_getprocs,
// kvm_getargv, kvm_getenvv): valid until the next call of the same kind
// or kvm_close, as libkvm specifies. Private to core/kvm.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/session/session.h"
#include "memscope/kvm.h"

// A NULL-terminated vector of strings and the bytes they point into.
struct KvmStringVector {
  std::vector<char> bytes;
  std::vector<char*> pointers;
};

struct __kvm {
  std::unique_ptr<memscope::Session> session;
  bool writable = false;
  // Kernel-virtual addresses once a kernel is known; physical before.
  bool virtual_mode = false;
  // The session's kernel space while virtual_mode: kvm_read calls its
  // (inline, cached) read() directly. Refreshed by kvm_set_dtb, the only
  // way to replace it.
  memscope::X86_64Paging* kernel = nullptr;
  std::string error;
  std::vector<struct kinfo_proc> procs;  // kvm_getprocs
  KvmStringVector argv, envv;            // kvm_getargv, kvm_getenvv
};

namespace memscope::kvm {

// Sets the error kvm_geterr returns; -1, for `return fail(kd, ...)`.
inline int fail(kvm_t* kd, const std::string& message) {
  kd->error = message;
  return -1;
}

}  // namespace memscope::kvm
