/* ECALL wrappers and the two libc functions GCC may emit calls to (there is no libc). */
#include "zkray_guest.h"

static long ecall3(long number, long a0, long a1, long a2)
{
    register long r_a0 __asm__("a0") = a0;
    register long r_a1 __asm__("a1") = a1;
    register long r_a2 __asm__("a2") = a2;
    register long r_a7 __asm__("a7") = number;
    __asm__ volatile("ecall" : "+r"(r_a0) : "r"(r_a1), "r"(r_a2), "r"(r_a7) : "memory");
    return r_a0;
}

size_t zk_read(void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        long n = ecall3(63, 0, (long)((char *)buf + got), (long)(len - got));
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

uint32_t zk_read_u32(void)
{
    uint8_t b[4];
    if (zk_read(b, 4) != 4)
        zk_exit(ZK_EXIT_BAD_INPUT);
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

void zk_commit(const void *buf, size_t len)
{
    ecall3(64, 1, (long)buf, (long)len);
}

void zk_exit(uint32_t code)
{
    ecall3(93, (long)code, 0, 0);
    for (;;) {
    }
}

void *memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;
    while (n--)
        *d++ = (uint8_t)c;
    return dst;
}
