/* The libkvm process calls from C, as a ported tool uses them: for each
 * PROFILE IMAGE pair given, lists every task (kvm_getprocs KERN_PROC_ALL)
 * with its argument and environment vectors, asks for each process by
 * KERN_PROC_PID and by user (KERN_PROC_UID, KERN_PROC_RUID), cuts the
 * longest command line with nchr, and reads a task's comm at the offset
 * the profile gives (kvm_offsetof). Prints one JSON object per line for the
 * test to compare with what the guest reported; exits non-zero when a
 * call fails or contradicts another. */
#include <memscope/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

static void fail(const char *what, const char *why) {
  fprintf(stderr, "procs: %s: %s\n", what, why ? why : "(no message)");
  failures++;
}

static void json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20)
      printf("\\u%04x", c);
    else
      putchar(c);
  }
  putchar('"');
}

static void json_vector(char **v) {
  if (!v) {
    printf("null");
    return;
  }
  putchar('[');
  for (int i = 0; v[i]; i++) {
    if (i) putchar(',');
    json_string(v[i]);
  }
  putchar(']');
}

/* Processes (leaders) whose effective (or real) uid is `uid`, as the
 * KERN_PROC_UID (or _RUID) query returns them. */
static void by_user(kvm_t *kd, int run, int op, const char *kind, uid_t uid) {
  int n = 0;
  struct kinfo_proc *p = kvm_getprocs(kd, op, (int)uid, &n);
  if (!p) {
    fail(kind, kvm_geterr(kd));
    return;
  }
  printf("{\"run\":%d,\"kind\":\"%s\",\"arg\":%u,\"pids\":[", run, kind, (unsigned)uid);
  for (int i = 0; i < n; i++) {
    if ((op == KERN_PROC_UID ? p[i].ki_uid : p[i].ki_ruid) != uid) fail(kind, "a process of another user");
    printf("%s%d", i ? "," : "", (int)p[i].ki_pid);
  }
  printf("]}\n");
}

static int contains(const uid_t *values, int n, uid_t value) {
  for (int i = 0; i < n; i++)
    if (values[i] == value) return 1;
  return 0;
}

static void one_run(int run, const char *profile, const char *image) {
  char errbuf[KVM_ERRBUF_SIZE];
  kvm_t *kd = kvm_openfiles(profile, image, NULL, O_RDONLY, errbuf);
  if (!kd) {
    fail("kvm_openfiles", errbuf);
    return;
  }
  int n = 0;
  struct kinfo_proc *all = kvm_getprocs(kd, KERN_PROC_ALL, 0, &n);
  if (!all || n <= 0) {
    fail("kvm_getprocs(KERN_PROC_ALL)", kvm_geterr(kd));
    kvm_close(kd);
    return;
  }
  /* The array is kd's until the next kvm_getprocs: keep a copy. */
  struct kinfo_proc *procs = malloc(sizeof *procs * (size_t)n);
  memcpy(procs, all, sizeof *procs * (size_t)n);
  uid_t uids[4096], ruids[4096];
  int nuids = 0, nruids = 0;
  size_t longest = 0;
  int longest_index = -1;
  for (int i = 0; i < n; i++) {
    const struct kinfo_proc *p = &procs[i];
    if (p->ki_structsize != (int)sizeof *p) fail("ki_structsize", "not sizeof(struct kinfo_proc)");
    char **argv = kvm_getargv(kd, p, 0);
    printf("{\"run\":%d,\"kind\":\"proc\",\"pid\":%d,\"ppid\":%d,\"tid\":%d,\"ruid\":%u,\"uid\":%u,\"rgid\":%u,"
           "\"gid\":%u,\"stat\":\"%c\",\"comm\":",
           run, (int)p->ki_pid, (int)p->ki_ppid, (int)p->ki_tid, (unsigned)p->ki_ruid, (unsigned)p->ki_uid,
           (unsigned)p->ki_rgid, (unsigned)p->ki_gid, p->ki_stat ? p->ki_stat : '?');
    json_string(p->ki_comm);
    printf(",\"threads\":%d,\"flags\":%u,\"kthread\":%s,\"start\":%llu,\"paddr\":%lu,\"mm\":%lu,\"argv\":",
           p->ki_numthreads, p->ki_flag, (p->ki_flag & KI_PF_KTHREAD) ? "true" : "false", p->ki_start, p->ki_paddr,
           p->ki_mm);
    json_vector(argv);
    if (argv) {
      size_t bytes = 0;
      for (int k = 0; argv[k]; k++) bytes += strlen(argv[k]) + 1;
      if (bytes > longest) longest = bytes, longest_index = i;
    }
    /* argv stays valid across kvm_getenvv: each has its own storage. */
    char *first = argv && argv[0] ? strdup(argv[0]) : NULL;
    char **env = kvm_getenvv(kd, p, 0);
    if (first && strcmp(first, argv[0]) != 0) fail("kvm_getenvv", "clobbered the argument vector");
    free(first);
    printf(",\"env\":");
    json_vector(env);
    printf("}\n");
    if (p->ki_mm == 0 && (argv || env)) fail("kvm_getargv", "a vector for a process without memory");

    if (p->ki_tid == p->ki_pid) {
      int m = 0;
      struct kinfo_proc *one = kvm_getprocs(kd, KERN_PROC_PID, p->ki_pid, &m);
      if (!one || m != 1 || one[0].ki_pid != p->ki_pid || one[0].ki_paddr != p->ki_paddr)
        fail("kvm_getprocs(KERN_PROC_PID)", one ? "not exactly that process" : kvm_geterr(kd));
      if (!contains(uids, nuids, p->ki_uid) && nuids < 4096) uids[nuids++] = p->ki_uid;
      if (!contains(ruids, nruids, p->ki_ruid) && nruids < 4096) ruids[nruids++] = p->ki_ruid;
    }
  }
  for (int i = 0; i < nuids; i++) by_user(kd, run, KERN_PROC_UID, "uid", uids[i]);
  for (int i = 0; i < nruids; i++) by_user(kd, run, KERN_PROC_RUID, "ruid", ruids[i]);

  /* nchr: the longest command line cut to 100 characters, NULs included. */
  if (longest_index >= 0) {
    char **cut = kvm_getargv(kd, &procs[longest_index], 100);
    printf("{\"run\":%d,\"kind\":\"nchr\",\"nchr\":100,\"pid\":%d,\"argv\":", run, (int)procs[longest_index].ki_pid);
    json_vector(cut);
    printf("}\n");
  }

  /* The profile instead of a hard-coded offset: each task's comm read at
   * task_struct.comm equals ki_comm. */
  size_t offset = 0, size = 0;
  if (kvm_offsetof(kd, "task_struct", "comm", &offset, &size) != 0) {
    fail("kvm_offsetof", kvm_geterr(kd));
  } else {
    int same = 0;
    for (int i = 0; i < n; i++) {
      char comm[KI_COMM_SIZE] = {0};
      if (kvm_read(kd, procs[i].ki_paddr + offset, comm, sizeof comm - 1) != (ssize_t)(sizeof comm - 1))
        fail("kvm_read", kvm_geterr(kd));
      else if (strcmp(comm, procs[i].ki_comm) == 0)
        same++;
    }
    printf("{\"run\":%d,\"kind\":\"layout\",\"comm_offset\":%zu,\"comm_size\":%zu,\"task_struct_size\":%zd,"
           "\"comm_equal\":%d,\"tasks\":%d,\"missing\":",
           run, offset, size, kvm_sizeof(kd, "task_struct"), same, n);
    if (kvm_offsetof(kd, "task_struct", "no_such_member", &offset, &size) == 0)
      fail("kvm_offsetof", "found a member that does not exist");
    json_string(kvm_geterr(kd));
    printf("}\n");
  }
  free(procs);
  kvm_close(kd);
}

int main(int argc, char **argv) {
  if (argc < 3 || argc % 2 == 0) {
    fprintf(stderr, "usage: procs PROFILE IMAGE [PROFILE IMAGE ...]\n");
    return 2;
  }
  for (int i = 1; i + 1 < argc; i += 2) one_run((i - 1) / 2, argv[i], argv[i + 1]);
  return failures ? 1 : 0;
}
