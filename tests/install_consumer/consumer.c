/* Opens an image read-write, reads the kernel banner, writes over it (into
 * the overlay), reads it back, discards the overlay, reads the original. */
#include <memscope/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: consumer PROFILE IMAGE\n");
    return 2;
  }
  char errbuf[KVM_ERRBUF_SIZE];
  kvm_t *kd = kvm_openfiles(argv[1], argv[2], NULL, O_RDWR, errbuf);
  if (!kd) {
    fprintf(stderr, "kvm_openfiles: %s\n", errbuf);
    return 1;
  }
  struct nlist nl[] = {{"linux_banner"}, {NULL}};
  if (kvm_nlist(kd, nl) != 0) {
    fprintf(stderr, "kvm_nlist: linux_banner not found: %s\n", kvm_geterr(kd));
    return 1;
  }
  char *banner = kvm_readstr(kd, nl[0].n_value, NULL, NULL);
  if (!banner || strncmp(banner, "Linux version ", 14) != 0) {
    fprintf(stderr, "kvm_readstr: %s\n", banner ? banner : kvm_geterr(kd));
    return 1;
  }
  const char patch[] = "PATCHED";
  if (kvm_write(kd, nl[0].n_value, patch, sizeof patch - 1) != (ssize_t)(sizeof patch - 1)) {
    fprintf(stderr, "kvm_write: %s\n", kvm_geterr(kd));
    return 1;
  }
  char back[8] = {0};
  if (kvm_read(kd, nl[0].n_value, back, 7) != 7 || memcmp(back, patch, 7) != 0) {
    fprintf(stderr, "read after write did not see the write\n");
    return 1;
  }
  kvm_overlay_discard(kd);
  if (kvm_read(kd, nl[0].n_value, back, 7) != 7 || memcmp(back, "Linux v", 7) != 0) {
    fprintf(stderr, "discard did not restore the original bytes\n");
    return 1;
  }
  printf("%s\n", banner);
  free(banner);
  kvm_close(kd);
  return 0;
}
