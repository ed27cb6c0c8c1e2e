/*
 * memscope's libkvm interface: the DragonFly/FreeBSD kvm(3) calls over a
 * memory image, so existing libkvm users port with few changes.
 *
 *   kvm_t *kd = kvm_openfiles("profile.json.xz", "image.lime", NULL, O_RDONLY, errbuf);
 *   struct nlist nl[] = {{"init_task"}, {NULL}};
 *   kvm_nlist(kd, nl);
 *   kvm_read(kd, nl[0].n_value + comm_offset, comm, sizeof comm);
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

#ifdef __cplusplus
}
#endif

#endif /* MEMSCOPE_KVM_H */
