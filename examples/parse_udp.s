; Ethernet/IPv4/UDP header parse with every bounds check the kernel's
; verifier asks for: drop UDP datagrams to port 5678, pass the rest.
    r2 = *(u32 *)(r1 + 4)       ; data_end
    r1 = *(u32 *)(r1 + 0)       ; data
    r0 = 2                      ; XDP_PASS
    r3 = r1
    r3 += 14
    if r3 > r2 goto out         ; Ethernet header
    r4 = *(u16 *)(r1 + 12)      ; h_proto
    if r4 != 0x8 goto out       ; not IPv4
    r3 = r1
    r3 += 34
    if r3 > r2 goto out         ; IPv4 header without options
    r4 = *(u8 *)(r1 + 14)       ; version and IHL
    r5 = r4
    r5 >>= 4
    if r5 != 4 goto out         ; not version 4
    r4 &= 15
    r4 <<= 2                    ; header length in bytes
    if r4 < 20 goto out
    r5 = *(u8 *)(r1 + 23)       ; protocol
    if r5 != 17 goto out        ; not UDP
    r5 = *(u16 *)(r1 + 20)      ; flags and fragment offset
    r5 &= 0xff1f
    if r5 != 0 goto out         ; a fragment: no UDP header here
    r3 = r1
    r3 += 14
    r3 += r4                    ; the UDP header
    r5 = r3
    r5 += 8
    if r5 > r2 goto out         ; UDP header
    r4 = *(u16 *)(r3 + 2)       ; destination port
    r4 = be16 r4
    if r4 != 5678 goto out
    r0 = 1                      ; XDP_DROP
out:
    exit
