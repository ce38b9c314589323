/* fib: input u32 n; journal u32 F(n) with F(0) = 0, F(1) = 1, wrapping mod 2^32. */
#include "zkray_guest.h"

int main(void)
{
    uint32_t n = zk_read_u32();
    uint32_t a = 0, b = 1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t t = a + b;
        a = b;
        b = t;
    }
    zk_commit(&a, sizeof a);
    return 0;
}
