# A bare-metal program for the virt board entered in M-mode without firmware that drives
# a virtio-blk disk in virtio-mmio slot 0 and the UART with interrupts through the PLIC
# (context 0: hart 0's M-mode). It prints what it finds and does:
#   - slot 0's identification (magic, version, device ID, vendor ID) and slot 1's vendor
#     ID (an empty slot);
#   - the status the device keeps after three feature negotiations: every feature bit set
#     (more than the device offers), none, and the way xv6 negotiates (the low word of the
#     device's features less a few, VERSION_1 not accepted); the last one is used;
#   - a read of sector 0, waited for with interrupts masked (mstatus.MIE clear): the claim,
#     then the PLIC's pending bits and a second claim after completing while the device
#     still asserts its line (its interrupt status not yet acknowledged), then after the
#     acknowledgement; the request's status and the sector's text;
#   - a claim made after a completion written while the source was disabled in the
#     context (QEMU takes such a completion);
#   - a line typed on the console, taken by UART receive interrupts (IER.ERBFI, FIFOs off)
#     in the trap handler, and the IIR of the first;
#   - a write of sector 1 ("diskirq wrote: " and the line), completed by interrupt;
# then powers off through the test device. Any other trap, or a request that fails, is
# reported and ends the run with a failure. test/baremetal/diskirq.test.ts runs it on Berth
# and on QEMU (with console.S).
#define UART 0x10000000
#define VIO 0x10001000
#define VIO1 0x10002000
#define PLIC 0x0c000000
#define PLIC_PENDING 0x0c001000
#define PLIC_ENABLE0 0x0c002000
#define PLIC_CLAIM0 0x0c200004
#define IRQ_BLK 1
#define IRQ_UART 10
#define QSIZE 8

# virtio-mmio registers
#define MAGIC 0x000
#define VERSION 0x004
#define DEVICE_ID 0x008
#define VENDOR_ID 0x00c
#define DEVICE_FEATURES 0x010
#define DEVICE_FEATURES_SEL 0x014
#define DRIVER_FEATURES 0x020
#define DRIVER_FEATURES_SEL 0x024
#define QUEUE_SEL 0x030
#define QUEUE_NUM_MAX 0x034
#define QUEUE_NUM 0x038
#define QUEUE_READY 0x044
#define QUEUE_NOTIFY 0x050
#define INTERRUPT_STATUS 0x060
#define INTERRUPT_ACK 0x064
#define STATUS 0x070
#define QUEUE_DESC_LOW 0x080
#define QUEUE_DESC_HIGH 0x084
#define QUEUE_DRIVER_LOW 0x090
#define QUEUE_DRIVER_HIGH 0x094
#define QUEUE_DEVICE_LOW 0x0a0
#define QUEUE_DEVICE_HIGH 0x0a4

# print(label, value): the string at label, then value in hex.
.macro print label, reg
  mv s11, \reg
  la a0, \label
  call puts
  mv a0, s11
  call puthex
.endm

  .section .text.init
  .globl _start
_start:
  la sp, stack_top
  la t0, trap
  csrw mtvec, t0
  la a0, msg_hello
  call puts

  # Identification of slot 0 and the vendor ID of the empty slot 1.
  li s0, VIO
  lwu t0, MAGIC(s0)
  print msg_magic, t0
  lwu t0, VERSION(s0)
  print msg_version, t0
  lwu t0, DEVICE_ID(s0)
  print msg_device, t0
  lwu t0, VENDOR_ID(s0)
  print msg_vendor, t0
  li t1, VIO1
  lwu t0, VENDOR_ID(t1)
  print msg_vendor1, t0
  lwu t0, VERSION(s0)
  li t1, 2
  beq t0, t1, 1f
  la a0, msg_legacy
  call puts
  li a0, 0x5555
  j poweroff
1:

  # Negotiation 1: every feature bit, in both words.
  call begin
  li t0, -1
  call driver_features
  print msg_neg_all, a0
  # Negotiation 2: none at all.
  call begin
  li t0, 0
  call driver_features
  print msg_neg_none, a0
  # Negotiation 3, as xv6 does it: DeviceFeatures as read with the selector at 0, less
  # RO (5), SCSI (7), CONFIG_WCE (11), MQ (12), ANY_LAYOUT (27), INDIRECT_DESC (28) and
  # EVENT_IDX (29), written back with the selector at 0 (so VERSION_1, bit 32, is not
  # accepted).
  call begin
  sw zero, DEVICE_FEATURES_SEL(s0)
  lwu t0, DEVICE_FEATURES(s0)
  li t1, (1 << 5) | (1 << 7) | (1 << 11) | (1 << 12) | (1 << 27) | (1 << 28) | (1 << 29)
  not t1, t1
  and t0, t0, t1
  sw zero, DRIVER_FEATURES_SEL(s0)
  sw t0, DRIVER_FEATURES(s0)
  li t0, 0xb
  sw t0, STATUS(s0)
  lwu t0, STATUS(s0)
  print msg_neg_xv6, t0
  andi t0, s11, 8
  bnez t0, 1f
  la a0, msg_refused
  call puts
  li a0, 0x3333 | (2 << 16)
  j poweroff
1:
  # Queue 0: QSIZE entries, the rings in pages of their own.
  sw zero, QUEUE_SEL(s0)
  lwu t0, QUEUE_NUM_MAX(s0)
  li t1, QSIZE
  bgeu t0, t1, 2f
  la a0, msg_small
  call puts
  li a0, 0x3333 | (3 << 16)
  j poweroff
2:
  sw t1, QUEUE_NUM(s0)
  la t0, desc
  sw t0, QUEUE_DESC_LOW(s0)
  srli t0, t0, 32
  sw t0, QUEUE_DESC_HIGH(s0)
  la t0, avail
  sw t0, QUEUE_DRIVER_LOW(s0)
  srli t0, t0, 32
  sw t0, QUEUE_DRIVER_HIGH(s0)
  la t0, used
  sw t0, QUEUE_DEVICE_LOW(s0)
  srli t0, t0, 32
  sw t0, QUEUE_DEVICE_HIGH(s0)
  li t0, 1
  sw t0, QUEUE_READY(s0)
  li t0, 0xf
  sw t0, STATUS(s0)

  # The PLIC: both sources at priority 1, enabled in context 0, threshold 0; MEIE on,
  # mstatus.MIE still off.
  li t0, PLIC
  li t1, 1
  sw t1, 4 * IRQ_BLK(t0)
  sw t1, 4 * IRQ_UART(t0)
  li t0, PLIC_ENABLE0
  li t1, (1 << IRQ_BLK) | (1 << IRQ_UART)
  sw t1, 0(t0)
  li t0, PLIC + 0x200000
  sw zero, 0(t0)
  li t0, 0x800
  csrs mie, t0

  # Read sector 0, waiting with WFI until MEIP (interrupts masked).
  li a0, 0
  li a1, 0
  la a2, sector
  call submit
3:
  csrr t0, mip
  srli t0, t0, 11
  andi t0, t0, 1
  bnez t0, 4f
  wfi
  j 3b
4:
  li s1, PLIC_CLAIM0
  lwu s2, 0(s1)
  print msg_claim, s2
  lwu t0, INTERRUPT_STATUS(s0)
  print msg_isr, t0
  li t0, PLIC_PENDING
  lwu t0, 0(t0)
  print msg_pending_claimed, t0
  # Complete while the device still asserts its line.
  sw s2, 0(s1)
  li t0, PLIC_PENDING
  lwu t0, 0(t0)
  print msg_pending_completed, t0
  lwu s3, 0(s1)
  print msg_claim_again, s3
  # Acknowledge: the line drops; complete the second claim if there was one.
  li t0, 1
  sw t0, INTERRUPT_ACK(s0)
  beqz s3, 5f
  sw s3, 0(s1)
5:
  li t0, PLIC_PENDING
  lwu t0, 0(t0)
  print msg_pending_acked, t0
  csrr t0, mip
  srli t0, t0, 11
  andi t0, t0, 1
  print msg_meip, t0
  call finish
  la a0, msg_sector
  call puts
  la a0, sector
  sb zero, 63(a0)
  call puts

  # A completion while the source is not enabled in the context: sector 0 again, claimed,
  # acknowledged, completed between disabling and re-enabling the source. Then one more
  # read, polled on the used ring: a claim finds it only if that completion was taken.
  li a0, 0
  li a1, 0
  la a2, sector
  call submit
15:
  csrr t0, mip
  srli t0, t0, 11
  andi t0, t0, 1
  bnez t0, 16f
  wfi
  j 15b
16:
  lwu s2, 0(s1)
  li t0, 1
  sw t0, INTERRUPT_ACK(s0)
  li t0, PLIC_ENABLE0
  li t1, 1 << IRQ_UART
  sw t1, 0(t0)
  sw s2, 0(s1)
  li t1, (1 << IRQ_BLK) | (1 << IRQ_UART)
  sw t1, 0(t0)
  call finish
  li a0, 0
  li a1, 0
  la a2, sector
  call submit
17:
  fence r, r
  la t0, used
  lhu t1, 2(t0)
  la t0, avail
  lhu t2, 2(t0)
  bne t1, t2, 17b
  call finish
  lwu s2, 0(s1)
  print msg_claim_disabled, s2
  bnez s2, 18f
  li a0, 0x3333 | (6 << 16)
  j poweroff
18:
  li t0, 1
  sw t0, INTERRUPT_ACK(s0)
  sw s2, 0(s1)

  # A line from the console, by receive interrupts.
  csrsi mstatus, 8
  li t0, UART
  li t1, 1
  sb t1, 1(t0)
  la a0, msg_type
  call puts
6:
  csrci mstatus, 8
  la t0, line_done
  lw t0, 0(t0)
  bnez t0, 7f
  wfi
  csrsi mstatus, 8
  j 6b
7:
  csrsi mstatus, 8
  la t0, first_iir
  lhu t0, 0(t0)
  print msg_iir, t0
  la a0, msg_got
  call puts
  la a0, line
  call puts

  # Sector 1: "diskirq wrote: " and the line, NUL-padded (the sector buffer is cleared).
  la t0, sector
  addi t1, t0, 512
8:
  sd zero, 0(t0)
  addi t0, t0, 8
  bltu t0, t1, 8b
  la t0, sector
  la t1, msg_wrote
9:
  lbu t2, 0(t1)
  beqz t2, 10f
  sb t2, 0(t0)
  addi t0, t0, 1
  addi t1, t1, 1
  j 9b
10:
  la t1, line
11:
  lbu t2, 0(t1)
  beqz t2, 12f
  sb t2, 0(t0)
  addi t0, t0, 1
  addi t1, t1, 1
  j 11b
12:
  li a0, 1
  li a1, 1
  la a2, sector
  call submit
13:
  csrci mstatus, 8
  la t0, blk_irqs
  lw t0, 0(t0)
  bnez t0, 14f
  wfi
  csrsi mstatus, 8
  j 13b
14:
  csrsi mstatus, 8
  call finish
  la a0, msg_written
  call puts
  la a0, msg_bye
  call puts
  li a0, 0x5555
  j poweroff

# begin: resets the device in slot 0 (s0) and sets ACKNOWLEDGE and DRIVER.
begin:
  sw zero, STATUS(s0)
  li t0, 3
  sw t0, STATUS(s0)
  ret

# driver_features(t0): writes t0 to both words of DriverFeatures, sets FEATURES_OK and
# returns the status read back in a0.
driver_features:
  sw zero, DRIVER_FEATURES_SEL(s0)
  sw t0, DRIVER_FEATURES(s0)
  li t1, 1
  sw t1, DRIVER_FEATURES_SEL(s0)
  sw t0, DRIVER_FEATURES(s0)
  li t0, 0xb
  sw t0, STATUS(s0)
  lwu a0, STATUS(s0)
  ret

# submit(a0 = type: 0 read, 1 write, a1 = sector, a2 = 512-byte buffer): one request in
# descriptors 0..2 (header, data, status) on avail slot avail.idx % QSIZE; notifies queue 0.
submit:
  la t0, req
  sw a0, 0(t0)
  sw zero, 4(t0)
  sd a1, 8(t0)
  la t1, req_status
  li t2, 0xff
  sb t2, 0(t1)
  la t3, desc
  sd t0, 0(t3)
  li t2, 16
  sw t2, 8(t3)
  li t2, 1
  sh t2, 12(t3)
  sh t2, 14(t3)
  sd a2, 16(t3)
  li t2, 512
  sw t2, 24(t3)
  li t2, 3 # NEXT | WRITE: the device writes the buffer of a read
  beqz a0, 1f
  li t2, 1
1:
  sh t2, 28(t3)
  li t2, 2
  sh t2, 30(t3)
  sd t1, 32(t3)
  li t2, 1
  sw t2, 40(t3)
  li t2, 2
  sh t2, 44(t3)
  sh zero, 46(t3)
  la t0, avail
  lhu t1, 2(t0)
  andi t2, t1, QSIZE - 1
  slli t2, t2, 1
  add t2, t2, t0
  sh zero, 4(t2)
  fence w, w
  addi t1, t1, 1
  sh t1, 2(t0)
  fence w, w
  sw zero, QUEUE_NOTIFY(s0)
  ret

# finish: checks that the used ring has the request and that its status is 0 (OK);
# otherwise reports it and fails.
finish:
  addi sp, sp, -16
  sd ra, 0(sp)
  fence r, r
  la t0, used
  lhu t1, 2(t0)
  la t0, avail
  lhu t2, 2(t0)
  bne t1, t2, 1f
  la t0, req_status
  lbu t0, 0(t0)
  bnez t0, 1f
  la a0, msg_done
  call puts
  ld ra, 0(sp)
  addi sp, sp, 16
  ret
1:
  la a0, msg_failed
  call puts
  la t0, req_status
  lbu a0, 0(t0)
  call puthex
  li a0, 0x3333 | (4 << 16)
  j poweroff

# The M-mode trap handler: external interrupts only. Claims one source: the disk's is
# acknowledged and counted, the UART's receive buffer emptied into line (a CR or LF ends
# the line); then completes it.
  .balign 4
trap:
  addi sp, sp, -64
  sd t0, 0(sp)
  sd t1, 8(sp)
  sd t2, 16(sp)
  sd t3, 24(sp)
  sd a0, 32(sp)
  sd ra, 40(sp)
  csrr t0, mcause
  li t1, (1 << 63) | 11
  beq t0, t1, 1f
  mv s11, t0
  la a0, msg_trap
  call puts
  mv a0, s11
  call puthex
  li a0, 0x3333 | (5 << 16)
  j poweroff
1:
  li t3, PLIC_CLAIM0
  lwu t0, 0(t3)
  li t1, IRQ_BLK
  bne t0, t1, 2f
  li t1, VIO
  lwu t2, INTERRUPT_STATUS(t1)
  sw t2, INTERRUPT_ACK(t1)
  la t1, blk_irqs
  lw t2, 0(t1)
  addi t2, t2, 1
  sw t2, 0(t1)
  j 9f
2:
  li t1, IRQ_UART
  bne t0, t1, 9f
  li t1, UART
  la a0, first_iir
  lhu t2, 0(a0)
  bnez t2, 3f
  lbu t2, 2(t1)
  ori t2, t2, 0x100 # recorded (bit 8 keeps a 0 IIR apart from "not read yet")
  sh t2, 0(a0)
3:
  lbu t2, 5(t1)
  andi t2, t2, 1
  beqz t2, 9f
  lbu t2, 0(t1)
  la a0, line_done
  lw ra, 0(a0)
  bnez ra, 3b
  li ra, '\r'
  beq t2, ra, 4f
  li ra, '\n'
  beq t2, ra, 4f
  la a0, line_len
  lw ra, 0(a0)
  li t0, 62
  bgeu ra, t0, 3b
  la t0, line
  add t0, t0, ra
  sb t2, 0(t0)
  addi ra, ra, 1
  sw ra, 0(a0)
  li t0, IRQ_UART
  j 3b
4:
  la a0, line_len
  lw ra, 0(a0)
  la t2, line
  add t2, t2, ra
  li ra, '\n'
  sb ra, 0(t2)
  la a0, line_done
  li ra, 1
  sw ra, 0(a0)
  li t0, IRQ_UART
  j 3b
9:
  sw t0, 0(t3)
  ld t0, 0(sp)
  ld t1, 8(sp)
  ld t2, 16(sp)
  ld t3, 24(sp)
  ld a0, 32(sp)
  ld ra, 40(sp)
  addi sp, sp, 64
  mret

  .section .rodata
msg_hello: .asciz "diskirq: virtio-blk in slot 0 and the UART, by interrupts\n"
msg_magic: .asciz "slot 0 magic: "
msg_version: .asciz "slot 0 version: "
msg_device: .asciz "slot 0 device ID: "
msg_vendor: .asciz "slot 0 vendor ID: "
msg_vendor1: .asciz "slot 1 (empty) vendor ID: "
msg_legacy: .asciz "not the virtio-mmio of version 2: stop\n"
msg_neg_all: .asciz "status after FEATURES_OK with every feature bit: "
msg_neg_none: .asciz "status after FEATURES_OK with no feature: "
msg_neg_xv6: .asciz "status after FEATURES_OK as xv6 negotiates: "
msg_refused: .asciz "FEATURES_OK refused\n"
msg_small: .asciz "queue 0 is smaller than 8\n"
msg_claim: .asciz "claim: "
msg_isr: .asciz "interrupt status: "
msg_pending_claimed: .asciz "PLIC pending while claimed: "
msg_pending_completed: .asciz "PLIC pending after complete, line still asserted: "
msg_claim_again: .asciz "claim after complete, line still asserted: "
msg_pending_acked: .asciz "PLIC pending after the acknowledgement: "
msg_meip: .asciz "mip.MEIP: "
msg_claim_disabled: .asciz "claim after a completion while disabled: "
msg_done: .asciz "request done, status 0\n"
msg_failed: .asciz "request failed, status: "
msg_sector: .asciz "sector 0: "
msg_type: .asciz "type a line:\n"
msg_iir: .asciz "IIR at the first UART interrupt (bit 8: recorded): "
msg_got: .asciz "got: "
msg_wrote: .asciz "diskirq wrote: "
msg_written: .asciz "sector 1 written\n"
msg_trap: .asciz "unexpected trap, mcause: "
msg_bye: .asciz "bye\n"

  .data
  .balign 8
blk_irqs: .word 0
line_done: .word 0
line_len: .word 0
first_iir: .half 0
line: .space 64

  .bss
  .balign 4096
desc: .space 4096
avail: .space 4096
used: .space 4096
sector: .space 512
req: .space 16
req_status: .space 8
  .balign 16
  .space 4096
stack_top:
