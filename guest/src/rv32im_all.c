/* rv32im_all: executes every RV32IM instruction (EBREAK excepted: it traps by design) on the input
   operands and journals each result as a u32, in the order below. Input: u32 x, u32 y.
   tests/guest/test_guests.py recomputes the same list in Python from the specification. */
#include "zkray_guest.h"

#define R(op, a, b) ({ uint32_t r_; __asm__ volatile(#op " %0, %1, %2" : "=r"(r_) : "r"(a), "r"(b)); r_; })
#define I(op, a, imm) ({ uint32_t r_; __asm__ volatile(#op " %0, %1, " #imm : "=r"(r_) : "r"(a)); r_; })
#define B(op, a, b) ({ uint32_t r_; __asm__ volatile("li %0, 1\n\t" #op " %1, %2, 1f\n\tli %0, 0\n1:" \
                                                      : "=&r"(r_) : "r"(a), "r"(b)); r_; })

static uint32_t out[128];
static unsigned k;
static volatile uint32_t mem[2];

#define PUT(v) (out[k++] = (v))

int main(void)
{
    uint32_t x = zk_read_u32();
    uint32_t y = zk_read_u32();

    /* OP and M: 18 register-register instructions. */
    PUT(R(add, x, y)); PUT(R(sub, x, y)); PUT(R(sll, x, y)); PUT(R(slt, x, y)); PUT(R(sltu, x, y));
    PUT(R(xor, x, y)); PUT(R(srl, x, y)); PUT(R(sra, x, y)); PUT(R(or, x, y)); PUT(R(and, x, y));
    PUT(R(mul, x, y)); PUT(R(mulh, x, y)); PUT(R(mulhsu, x, y)); PUT(R(mulhu, x, y));
    PUT(R(div, x, y)); PUT(R(divu, x, y)); PUT(R(rem, x, y)); PUT(R(remu, x, y));

    /* OP-IMM: 9 instructions, with negative and positive immediates. */
    PUT(I(addi, x, -2048)); PUT(I(slti, x, -1)); PUT(I(sltiu, x, -1)); PUT(I(xori, x, 0x555));
    PUT(I(ori, x, -256)); PUT(I(andi, x, 0x7f0)); PUT(I(slli, x, 31)); PUT(I(srli, x, 7)); PUT(I(srai, x, 13));

    /* Branches: 1 if taken. */
    PUT(B(beq, x, y)); PUT(B(bne, x, y)); PUT(B(blt, x, y)); PUT(B(bge, x, y)); PUT(B(bltu, x, y));
    PUT(B(bgeu, x, y));

    /* Stores and loads of every width and sign, through memory the compiler cannot cache. */
    mem[0] = 0;
    mem[1] = 0;
    __asm__ volatile("sw %0, 0(%1)\n\tsh %0, 4(%1)\n\tsb %2, 7(%1)" : : "r"(x), "r"(mem), "r"(y) : "memory");
    PUT(mem[0]); PUT(mem[1]);
    {
        uint32_t r0, r1, r2, r3, r4, r5, r6;
        __asm__ volatile("lb %0, 3(%7)\n\tlbu %1, 3(%7)\n\tlh %2, 2(%7)\n\tlhu %3, 2(%7)\n\t"
                         "lw %4, 4(%7)\n\tlb %5, 7(%7)\n\tlh %6, 6(%7)"
                         : "=&r"(r0), "=&r"(r1), "=&r"(r2), "=&r"(r3), "=&r"(r4), "=&r"(r5), "=&r"(r6)
                         : "r"(mem) : "memory");
        PUT(r0); PUT(r1); PUT(r2); PUT(r3); PUT(r4); PUT(r5); PUT(r6);
    }

    /* LUI, AUIPC, JAL, JALR, FENCE: results that do not depend on where the code was linked. */
    {
        uint32_t lui, pc0, link, pc1, link2, after, tmp;
        __asm__ volatile("lui %0, 0xabcde" : "=r"(lui));
        PUT(lui);
        __asm__ volatile("auipc %0, 0\n\t"
                         "jal %1, 1f\n\t"
                         "1: auipc %2, 0\n\t"
                         "fence\n\t"
                         "addi %5, %2, 16\n\t"
                         "jalr %3, %5, 0\n\t"
                         "2: auipc %4, 0\n\t"
                         : "=&r"(pc0), "=&r"(link), "=&r"(pc1), "=&r"(link2), "=&r"(after), "=&r"(tmp));
        PUT(link - pc0); /* 8: jal links pc0 + 8 */
        PUT(pc1 - pc0);  /* 8 */
        PUT(link2 - pc0); /* 24: jalr links the instruction after it */
        PUT(after - pc0); /* 24: and jumps there */
    }
    zk_commit(out, k * sizeof out[0]);
    return 0;
}
