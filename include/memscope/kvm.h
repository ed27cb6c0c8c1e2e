/*
 * memscope's libkvm interface: the DragonFly/FreeBSD kvm(3) calls over a
 * memory image, so existing libkvm users port with few changes.
 *
 *   kvm_t *kd = kvm_openfiles("profile.json.xz", "image.lime", NULL, O_RDONLY, errbuf);
 *   struct nlist nl[] = {{"init_task"}, {NULL}};
 *   size_t comm_offset, comm_size;
 *   char comm[16];
 *   kvm_nlist(kd, nl);
 *   kvm_offsetof(kd, "task_struct", "comm", &comm_offset, &comm_size);  // the profile's answer
 *   kvm_read(kd, nl[0].n_value + comm_offset, comm, sizeof comm);
 *
 *   int n;
 *   struct kinfo_proc *procs = kvm_getprocs(kd, KERN_PROC_PROC, 0, &n);
 *   for (int i = 0; i < n; i++) {
 *     char **argv = kvm_getargv(kd, &procs[i], 0);
 *     printf("%d %s %s\n", procs[i].ki_pid, procs[i].ki_comm, argv ? argv[0] : "");
 *   }
 *
 * Addresses are kernel-virtual once a kernel is known (a profile was given
 * and the kernel was found in the image, the image's CPU notes give CR3, or
 * kvm_set_dtb was called); before that, they are physical.
 *
 * The image is opened read-only, always. With O_RDWR, kvm_write stores the
 * bytes in a copy-on-write overlay in memory that every later read sees;
 * kvm_overlay_save / kvm_overlay_load / kvm_overlay_discard manage it.
 */
#ifndef MEMSCOPE_KVM_H
#define MEMSCOPE_KVM_H

#include <fcntl.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define _POSIX2_LINE_MAX_KVM 2048
/* Size of the errbuf given to kvm_openfiles (as _POSIX2_LINE_MAX in BSD). */
#define KVM_ERRBUF_SIZE _POSIX2_LINE_MAX_KVM

typedef struct __kvm kvm_t;

/* The BSD symbol-lookup record. The array given to kvm_nlist ends with an
 * entry whose n_name is NULL or "". elfutils' <nlist.h> declares a different
 * struct nlist: include only one of the two. */
#ifndef _NLIST_H
#define _NLIST_H 1
#define MEMSCOPE_NLIST 1
struct nlist {
  const char *n_name;   /* symbol name (without a leading underscore) */
  unsigned char n_type; /* N_UNDF if not found, N_DATA otherwise */
  char n_other;
  short n_desc;
  unsigned long n_value; /* run-time address (KASLR applied) */
};
#define N_UNDF 0x00
#define N_DATA 0x06
#endif

/* Opens `corefile` (a memory image in any supported format). `execfile` is
 * a kernel profile (ISF .json/.json.xz/.json.gz) or NULL. `swapfile` must be
 * NULL. `flags`: O_RDONLY, or O_RDWR to allow kvm_write (overlay only).
 * On failure returns NULL and writes a message to errbuf (KVM_ERRBUF_SIZE
 * bytes). */
kvm_t *kvm_openfiles(const char *execfile, const char *corefile, const char *swapfile, int flags,
                     char *errbuf);
/* As kvm_openfiles, but errors go to stderr prefixed with `errstr`. */
kvm_t *kvm_open(const char *execfile, const char *corefile, const char *swapfile, int flags,
                const char *errstr);
int kvm_close(kvm_t *kd);

/* Bytes transferred, or -1 with kvm_geterr set (any byte of the range that
 * cannot be translated gives -1; a short count only where the image ends). */
ssize_t kvm_read(kvm_t *kd, unsigned long addr, void *buf, size_t nbytes);
ssize_t kvm_write(kvm_t *kd, unsigned long addr, const void *buf, size_t nbytes);

/* Reads a NUL-terminated string at addr. buf == NULL: allocates (free() it).
 * lenp (may be NULL): in, the size of buf; out, the size of the whole string
 * including its NUL. Returns NULL when only the buffer is too small, with
 * *lenp set to the size needed, or on a read error (kvm_geterr). */
char *kvm_readstr(kvm_t *kd, unsigned long addr, char *buf, size_t *lenp);

/* Fills n_value/n_type of each entry; returns the number not found, or -1
 * if there is no profile. */
int kvm_nlist(kvm_t *kd, struct nlist *nl);

/* The message of the last error on kd. */
char *kvm_geterr(kvm_t *kd);

/* KASLR displacement of the kernel (run-time minus link-time), 0 if unknown. */
ssize_t kvm_kerndisp(kvm_t *kd);

/* memscope extensions. */
/* Uses `dtb` (CR3: physical address of the top-level page table) for
 * kernel-virtual reads from now on. 5-level paging if levels == 5. */
int kvm_set_dtb(kvm_t *kd, unsigned long long dtb, int levels);
/* Physical reads and writes, whatever the mode. */
ssize_t kvm_read_physical(kvm_t *kd, unsigned long long addr, void *buf, size_t nbytes);
ssize_t kvm_write_physical(kvm_t *kd, unsigned long long addr, const void *buf, size_t nbytes);
/* The overlay of kvm_write: save to a file, load from one, drop it. 0 or -1. */
int kvm_overlay_save(kvm_t *kd, const char *path);
int kvm_overlay_load(kvm_t *kd, const char *path);
int kvm_overlay_discard(kvm_t *kd);

/* --- Processes (kvm_getprocs(3) of FreeBSD): Linux tasks, read through the
 * profile from the kernel's task list (init_task.tasks; init_task itself,
 * pid 0, is not listed). Need a profile and a kernel found in the image. */

/* kvm_getprocs ops, numbered as FreeBSD's <sys/sysctl.h>. */
#define KERN_PROC_ALL 0   /* every process and its threads */
#define KERN_PROC_PID 1   /* the process whose ID is arg */
#define KERN_PROC_UID 5   /* processes whose effective user ID is arg */
#define KERN_PROC_RUID 6  /* processes whose real user ID is arg */
#define KERN_PROC_PROC 8  /* every process, without threads */
/* Or'ed into KERN_PROC_PID, _UID, _RUID: every thread of the processes
 * selected, not only the thread-group leader. */
#define KERN_PROC_INC_THREAD 0x10

#define KI_COMM_SIZE 16
/* task_struct.flags bit of kernel threads (PF_KTHREAD). */
#define KI_PF_KTHREAD 0x00200000u

/* One Linux task: a process (its thread-group leader) or one of its
 * threads. Values that could not be read from the image are 0. */
struct kinfo_proc {
  int ki_structsize;            /* sizeof(struct kinfo_proc) */
  pid_t ki_pid;                 /* process ID: the thread-group ID (tgid) */
  pid_t ki_ppid;                /* real_parent's process ID (0 for children of init_task) */
  pid_t ki_tid;                 /* thread ID (task_struct.pid); equals ki_pid for the leader */
  uid_t ki_ruid;                /* real user ID (cred->uid) */
  uid_t ki_uid;                 /* effective user ID (cred->euid), as BSD's ki_uid */
  gid_t ki_rgid;                /* real group ID (cred->gid) */
  gid_t ki_gid;                 /* effective group ID (cred->egid) */
  char ki_stat;                 /* state as ps shows it: 'R', 'S', 'D', 'T', 't', 'X', 'Z', 'P', 'I'; 0 unknown */
  char ki_comm[KI_COMM_SIZE];   /* command name (task_struct.comm), NUL-terminated */
  int ki_numthreads;            /* threads of the process */
  unsigned int ki_flag;         /* task_struct.flags (PF_*; KI_PF_KTHREAD) */
  unsigned long long ki_start;  /* start time, nanoseconds since boot */
  unsigned long ki_paddr;       /* kernel address of the task_struct */
  unsigned long ki_mm;          /* kernel address of its mm_struct; 0 for kernel threads and zombies */
};

/* The tasks `op` and `arg` select (KERN_PROC_*), in task-list order, each
 * process followed by its threads when they are included; *cnt is set to
 * their number. The array belongs to kd and stays valid until the next
 * kvm_getprocs or kvm_close. NULL on error (kvm_geterr; *cnt is 0). */
struct kinfo_proc *kvm_getprocs(kvm_t *kd, int op, int arg, int *cnt);

/* The argument vector of the process `p` (from kvm_getprocs), read from its
 * own memory (mm->arg_start..arg_end), NULL-terminated. At most nchr
 * characters, NUL bytes included, are used: the string that would exceed
 * them is cut and ends the vector; nchr 0 means no limit. The vector
 * belongs to kd and stays valid until the next kvm_getargv or kvm_close.
 * NULL for a process without user memory (kernel threads, zombies) or on
 * error (kvm_geterr). */
char **kvm_getargv(kvm_t *kd, const struct kinfo_proc *p, int nchr);
/* The same for the environment (mm->env_start..env_end), valid until the
 * next kvm_getenvv or kvm_close. */
char **kvm_getenvv(kvm_t *kd, const struct kinfo_proc *p, int nchr);

/* --- The profile (memscope extensions): ask it instead of hard-coding
 * offsets. `member` may name a member of an anonymous struct or union
 * directly and a member of an embedded struct with dots ("se.vruntime").
 * 0 on success, -1 with kvm_geterr naming what the profile lacks. */
int kvm_offsetof(kvm_t *kd, const char *type, const char *member, size_t *offset, size_t *size);
/* Size of a type ("task_struct", "struct list_head", "long unsigned int": names as the
 * profile spells them), or -1. */
ssize_t kvm_sizeof(kvm_t *kd, const char *type);

#ifdef __cplusplus
}
#endif

#endif /* MEMSCOPE_KVM_H */
