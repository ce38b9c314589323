/* fib: input u32 n; journal u32 n, u32 t(n) where t(0) = t(1) = 1 and t(i) = t(i-1) + t(i-2) mod 2^32.
   Same input and journal as the built-in `fib` AIR guest (zkray/zkvm/guests), so either can serve a job. */
#include "zkray_guest.h"

int main(void)
{
    uint32_t n = zk_read_u32();
    uint32_t a = 1, b = 1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t t = a + b;
        a = b;
        b = t;
    }
    uint32_t journal[2] = {n, a};
    zk_commit(journal, sizeof journal);
    return 0;
}
