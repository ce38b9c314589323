/* fib_input_initial: input u32 n, a, b; journal u32 F(n) with F(0) = a, F(1) = b, wrapping. */
#include "zkray_guest.h"

int main(void)
{
    uint32_t n = zk_read_u32();
    uint32_t a = zk_read_u32();
    uint32_t b = zk_read_u32();
    for (uint32_t i = 0; i < n; i++) {
        uint32_t t = a + b;
        a = b;
        b = t;
    }
    zk_commit(&a, sizeof a);
    return 0;
}
