// kvm_getprocs, kvm_getargv, kvm_getenvv, kvm_offsetof and kvm_sizeof on
// a synthetic kernel (support/synthetic_linux.h): the ops and their
// filters, threads, processes without memory, nchr, the lifetime of the
// storage kd owns, and the errors a C caller gets.
#include <catch2/catch.hpp>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "memscope/kvm.h"
#include "support/synthetic_linux.h"
#include "support/temp_file.h"

using memscope::test::SyntheticLinux;
using memscope::test::SyntheticProcess;

namespace {

// The synthetic image and its profile on disk, opened with kvm_openfiles.
struct SyntheticKvm {
  memscope::test::TempDir dir{"kvm-procs"};
  kvm_t* kd = nullptr;
  explicit SyntheticKvm(SyntheticLinux& kernel, bool with_profile = true) {
    kernel.write_profile(dir.file("profile.json"));
    kernel.write_elf(dir.file("image.elf"));
    char err[KVM_ERRBUF_SIZE] = {0};
    kd = kvm_openfiles(with_profile ? dir.file("profile.json").c_str() : nullptr, dir.file("image.elf").c_str(),
                       nullptr, O_RDONLY, err);
    INFO(err);
    REQUIRE(kd);
  }
  ~SyntheticKvm() { kvm_close(kd); }
};

std::vector<struct kinfo_proc> getprocs(kvm_t* kd, int op, int arg) {
  int n = -1;
  struct kinfo_proc* p = kvm_getprocs(kd, op, arg, &n);
  INFO(kvm_geterr(kd));
  REQUIRE(p != nullptr);
  REQUIRE(n >= 0);
  return std::vector<struct kinfo_proc>(p, p + n);
}

std::vector<std::string> strings(char** v) {
  std::vector<std::string> out;
  for (; v && *v; ++v) out.emplace_back(*v);
  return out;
}

std::set<int> pids_of(const std::vector<struct kinfo_proc>& procs) {
  std::set<int> out;
  for (const auto& p : procs) out.insert(p.ki_pid);
  return out;
}

}  // namespace

TEST_CASE("kvm_getprocs: KERN_PROC_ALL gives every process and its threads / KERN_PROC_PROC the processes") {
  SyntheticLinux kernel;
  SyntheticKvm k(kernel);
  std::vector<struct kinfo_proc> all = getprocs(k.kd, KERN_PROC_ALL, 0);
  std::vector<struct kinfo_proc> processes = getprocs(k.kd, KERN_PROC_PROC, 0);
  std::set<int> listed;
  size_t tasks = 0;
  for (const SyntheticProcess& p : kernel.processes())
    if (!p.hidden) listed.insert(p.pid), tasks += 1 + p.extra_threads.size();
  CHECK(pids_of(all) == listed);
  CHECK(all.size() == tasks);
  CHECK(pids_of(processes) == listed);
  CHECK(processes.size() == listed.size());
  for (const auto& kp : processes) {
    const SyntheticProcess& p = kernel.process(kp.ki_pid);
    INFO("pid " << p.pid);
    CHECK(kp.ki_structsize == static_cast<int>(sizeof(struct kinfo_proc)));
    CHECK(kp.ki_tid == p.pid);
    CHECK(kp.ki_ppid == p.ppid);
    CHECK(kp.ki_ruid == p.uid);
    CHECK(kp.ki_uid == p.euid);
    CHECK(kp.ki_rgid == p.gid);
    CHECK(kp.ki_gid == p.egid);
    CHECK(std::string(kp.ki_comm) == p.comm.substr(0, 15));
    CHECK(kp.ki_stat == p.state_letter());
    CHECK(kp.ki_numthreads == static_cast<int>(1 + p.extra_threads.size()));
    CHECK(((kp.ki_flag & KI_PF_KTHREAD) != 0) == p.kernel_thread);
    CHECK(kp.ki_start == p.start_time_ns);
    CHECK(kp.ki_paddr == kernel.task_address(p.pid));
    CHECK(kp.ki_mm == kernel.mm_address(p.pid));
  }
  // A process's threads follow it, with their own thread IDs.
  std::vector<int> worker;
  for (const auto& kp : all)
    if (kp.ki_pid == 202) worker.push_back(kp.ki_tid);
  std::vector<int> expected = {202};
  for (int tid : kernel.process(202).extra_threads) expected.push_back(tid);
  CHECK(worker == expected);
}

TEST_CASE("kvm_getprocs: KERN_PROC_PID / _UID (effective) / _RUID (real) / KERN_PROC_INC_THREAD") {
  SyntheticLinux kernel;
  SyntheticKvm k(kernel);
  auto one = getprocs(k.kd, KERN_PROC_PID, 205);
  REQUIRE(one.size() == 1);
  CHECK(one[0].ki_pid == 205);
  CHECK(getprocs(k.kd, KERN_PROC_PID, 202).size() == 1);
  CHECK(getprocs(k.kd, KERN_PROC_PID | KERN_PROC_INC_THREAD, 202).size() == 1 + kernel.process(202).extra_threads.size());
  // A PID nobody has: an empty answer, not an error.
  int n = -1;
  CHECK(kvm_getprocs(k.kd, KERN_PROC_PID, 4242, &n) != nullptr);
  CHECK(n == 0);
  // The setuid process (real 1000, effective 0) is selected by each ID in its own query.
  std::set<int> euid0, ruid1000, euid_listed, ruid_listed;
  for (const SyntheticProcess& p : kernel.processes()) {
    if (p.hidden) continue;
    if (p.euid == 0) euid_listed.insert(p.pid);
    if (p.uid == 1000) ruid_listed.insert(p.pid);
  }
  CHECK(pids_of(getprocs(k.kd, KERN_PROC_UID, 0)) == euid_listed);
  CHECK(pids_of(getprocs(k.kd, KERN_PROC_RUID, 1000)) == ruid_listed);
  CHECK(euid_listed.count(206) == 1);
  CHECK(ruid_listed.count(206) == 1);
}

TEST_CASE("kvm_getprocs: unsupported ops and missing arguments are errors / the array lives until the next call") {
  SyntheticLinux kernel;
  SyntheticKvm k(kernel);
  int n = 7;
  CHECK(kvm_getprocs(k.kd, 2 /* KERN_PROC_PGRP */, 1, &n) == nullptr);
  CHECK(n == 0);
  CHECK(std::string(kvm_geterr(k.kd)).find("op 2 is not supported") != std::string::npos);
  CHECK(kvm_getprocs(k.kd, KERN_PROC_ALL, 0, nullptr) == nullptr);
  CHECK(kvm_getprocs(nullptr, KERN_PROC_ALL, 0, &n) == nullptr);

  struct kinfo_proc* first = kvm_getprocs(k.kd, KERN_PROC_PID, 201, &n);
  REQUIRE(first);
  REQUIRE(n == 1);
  CHECK(first[0].ki_pid == 201);
  char** argv = kvm_getargv(k.kd, &first[0], 0);
  REQUIRE(argv);
  // kvm_getargv does not touch the process array; the next kvm_getprocs replaces it.
  CHECK(first[0].ki_pid == 201);
  struct kinfo_proc* second = kvm_getprocs(k.kd, KERN_PROC_PID, 205, &n);
  REQUIRE(second);
  CHECK(second[0].ki_pid == 205);
}

TEST_CASE("kvm_getargv / kvm_getenvv: the vectors from the process's memory / NULL without memory") {
  SyntheticLinux kernel;
  SyntheticKvm k(kernel);
  std::vector<struct kinfo_proc> processes = getprocs(k.kd, KERN_PROC_PROC, 0);
  for (const auto& kp : processes) {
    const SyntheticProcess& p = kernel.process(kp.ki_pid);
    INFO("pid " << p.pid);
    char** argv = kvm_getargv(k.kd, &kp, 0);
    if (!p.has_mm()) {
      CHECK(argv == nullptr);
      CHECK(std::string(kvm_geterr(k.kd)).find("no user memory") != std::string::npos);
      CHECK(kvm_getenvv(k.kd, &kp, 0) == nullptr);
      continue;
    }
    REQUIRE(argv);
    CHECK(strings(argv) == p.argv);
    char** env = kvm_getenvv(k.kd, &kp, 0);
    REQUIRE(env);
    CHECK(strings(env) == p.envp);
    // Each call has its own storage: the argument vector is still there.
    CHECK(strings(argv) == p.argv);
  }
}

TEST_CASE("kvm_getargv: nchr counts NULs / cuts the string that does not fit / 0 is no limit") {
  SyntheticLinux kernel;
  SyntheticKvm k(kernel);
  const SyntheticProcess& p = kernel.process(205);  // more than a page of arguments
  struct kinfo_proc kp = getprocs(k.kd, KERN_PROC_PID, 205).at(0);
  size_t total = 0;
  for (const std::string& a : p.argv) total += a.size() + 1;
  REQUIRE(total > 4096);
  CHECK(strings(kvm_getargv(k.kd, &kp, 0)) == p.argv);
  CHECK(strings(kvm_getargv(k.kd, &kp, static_cast<int>(total))) == p.argv);
  // Two strings whole with their NULs, then 3 bytes of the third (and its NUL).
  const int nchr = static_cast<int>(p.argv[0].size() + 1 + p.argv[1].size() + 1 + 4);
  CHECK(strings(kvm_getargv(k.kd, &kp, nchr)) ==
        std::vector<std::string>{p.argv[0], p.argv[1], p.argv[2].substr(0, 3)});
  // A string that fits exactly is whole, and the next gets nothing.
  const int exact = static_cast<int>(p.argv[0].size() + 1 + p.argv[1].size() + 1);
  CHECK(strings(kvm_getargv(k.kd, &kp, exact)) == std::vector<std::string>{p.argv[0], p.argv[1]});
  CHECK(strings(kvm_getargv(k.kd, &kp, 1)) == std::vector<std::string>{""});
  CHECK(kvm_getargv(k.kd, &kp, -1) == nullptr);
  CHECK(std::string(kvm_geterr(k.kd)).find("negative") != std::string::npos);
}

TEST_CASE("kvm_getargv: a record that no longer names its task is refused") {
  SyntheticLinux kernel;
  SyntheticKvm k(kernel);
  struct kinfo_proc kp = getprocs(k.kd, KERN_PROC_PID, 201).at(0);
  kp.ki_pid = 205;  // the record says 205, the task at ki_paddr is 201
  CHECK(kvm_getargv(k.kd, &kp, 0) == nullptr);
  CHECK(std::string(kvm_geterr(k.kd)).find("is not process 205") != std::string::npos);
  kp.ki_paddr = SyntheticLinux::kUnmappedKernelAddress;
  CHECK(kvm_getenvv(k.kd, &kp, 0) == nullptr);
  CHECK(kvm_getargv(k.kd, nullptr, 0) == nullptr);
}

TEST_CASE("kvm_offsetof / kvm_sizeof: the profile's layout / through anonymous and embedded members") {
  SyntheticLinux kernel;
  SyntheticKvm k(kernel);
  size_t offset = 0, size = 0;
  REQUIRE(kvm_offsetof(k.kd, "task_struct", "comm", &offset, &size) == 0);
  CHECK(offset == kernel.offset_of("task_struct", "comm"));
  CHECK(size == 16);
  // arg_start lies in an anonymous struct of mm_struct in this profile, as in 6.x.
  REQUIRE(kvm_offsetof(k.kd, "mm_struct", "arg_start", &offset, &size) == 0);
  CHECK(offset == kernel.offset_of("mm_struct", "arg_start"));
  CHECK(size == 8);
  REQUIRE(kvm_offsetof(k.kd, "task_struct", "tasks.next", &offset, nullptr) == 0);
  CHECK(offset == kernel.offset_of("task_struct", "tasks") + kernel.offset_of("list_head", "next"));
  CHECK(kvm_sizeof(k.kd, "task_struct") == 0xd00);
  CHECK(kvm_sizeof(k.kd, "struct list_head") == 16);
  CHECK(kvm_offsetof(k.kd, "task_struct", "no_such_field", &offset, &size) == -1);
  CHECK(std::string(kvm_geterr(k.kd)).find("no_such_field") != std::string::npos);
  CHECK(kvm_sizeof(k.kd, "no_such_type") == -1);
  CHECK(std::string(kvm_geterr(k.kd)).find("no_such_type") != std::string::npos);
  CHECK(kvm_offsetof(k.kd, nullptr, "comm", &offset, &size) == -1);
}

TEST_CASE("kvm process calls without a profile say so") {
  SyntheticLinux kernel;
  SyntheticKvm k(kernel, false);
  int n = 0;
  CHECK(kvm_getprocs(k.kd, KERN_PROC_ALL, 0, &n) == nullptr);
  CHECK(std::string(kvm_geterr(k.kd)).find("no kernel profile") != std::string::npos);
  CHECK(kvm_sizeof(k.kd, "task_struct") == -1);
  CHECK(std::string(kvm_geterr(k.kd)).find("no kernel profile") != std::string::npos);
}
