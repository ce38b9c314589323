/* The zkray guest ABI (docs/guest-abi.md): three ECALLs with Linux's numbers, so a guest is also a
   valid qemu-riscv32 program. a7 = number, a0..a2 = arguments, a0 = result.
     63 read(0, buf, len)  -> bytes copied from the input (0 at its end)
     64 write(1, buf, len) -> len; appends buf to the journal
     93 exit(code)         -> halts; code is the session's exit code                           */
#ifndef ZKRAY_GUEST_H
#define ZKRAY_GUEST_H

#include <stddef.h>
#include <stdint.h>

#define ZK_EXIT_BAD_INPUT 1

/* Fill buf with up to len input bytes, looping over short reads; returns the count (< len at EOF). */
size_t zk_read(void *buf, size_t len);
/* Read exactly one little-endian u32, or exit with ZK_EXIT_BAD_INPUT. */
uint32_t zk_read_u32(void);
/* Append len bytes to the journal. */
void zk_commit(const void *buf, size_t len);
/* Halt with an exit code; never returns. */
__attribute__((noreturn)) void zk_exit(uint32_t code);

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);

#endif
