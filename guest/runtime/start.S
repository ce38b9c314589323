/* Entry point: zkray starts every register at zero, so set the stack, run main, exit with its
   return value. */
    .file   "start.S"
    .section .text.start, "ax"
    .globl _start
_start:
    la      sp, __stack_top
    call    main
    li      a7, 93          /* exit(a0) */
    ecall
1:  j       1b
