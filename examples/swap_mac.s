; Reflect every frame: swap source and destination MAC addresses and send
; it back out with XDP_TX.
    r2 = *(u32 *)(r1 + 4)       ; data_end
    r1 = *(u32 *)(r1 + 0)       ; data
    r0 = 1                      ; XDP_DROP
    r3 = r1
    r3 += 14
    if r3 > r2 goto out
    r3 = *(u32 *)(r1 + 0)       ; destination MAC, first 4 bytes
    r4 = *(u16 *)(r1 + 4)       ; destination MAC, last 2 bytes
    r5 = *(u32 *)(r1 + 6)       ; source MAC, first 4 bytes
    r0 = *(u16 *)(r1 + 10)      ; source MAC, last 2 bytes
    *(u32 *)(r1 + 0) = r5
    *(u16 *)(r1 + 4) = r0
    *(u32 *)(r1 + 6) = r3
    *(u16 *)(r1 + 10) = r4
    r0 = 3                      ; XDP_TX
out:
    exit
