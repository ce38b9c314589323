/* sort: input a list of little-endian u32 (at most MAX_ITEMS); journal the same list sorted
   ascending. Exits with ZK_EXIT_BAD_INPUT if the input length is not a multiple of 4 or too long.
   Heapsort: O(n log n) in the worst case, no recursion, so the stack stays small. */
#include "zkray_guest.h"

#define MAX_ITEMS 65536

static uint32_t items[MAX_ITEMS + 1];

static void sift_down(uint32_t *a, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && a[child + 1] > a[child])
            child++;
        if (a[root] >= a[child])
            return;
        uint32_t t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

int main(void)
{
    size_t bytes = zk_read(items, sizeof items);
    if (bytes % 4 != 0 || bytes > MAX_ITEMS * 4)
        zk_exit(ZK_EXIT_BAD_INPUT);
    size_t n = bytes / 4;
    for (size_t i = n / 2; i-- > 0;)
        sift_down(items, i, n);
    for (size_t end = n; end > 1; end--) {
        uint32_t t = items[0];
        items[0] = items[end - 1];
        items[end - 1] = t;
        sift_down(items, 0, end - 1);
    }
    zk_commit(items, bytes);
    return 0;
}
