/* fib_input_initial: input u32 n, a, b; journal u32 n, a, b, t(n) where t(0) = a, t(1) = b and
   t(i) = t(i-1) + t(i-2) mod 2^32. Same input and journal as the built-in AIR guest of that name. */
#include "zkray_guest.h"

int main(void)
{
    uint32_t n = zk_read_u32();
    uint32_t a0 = zk_read_u32();
    uint32_t b0 = zk_read_u32();
    uint32_t a = a0, b = b0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t t = a + b;
        a = b;
        b = t;
    }
    uint32_t journal[4] = {n, a0, b0, a};
    zk_commit(journal, sizeof journal);
    return 0;
}
