; Pass IPv4 frames, drop everything else (including frames too short to
; hold an Ethernet header).
    r2 = *(u32 *)(r1 + 4)       ; data_end
    r1 = *(u32 *)(r1 + 0)       ; data
    r0 = 1                      ; XDP_DROP
    r3 = r1
    r3 += 14
    if r3 > r2 goto out         ; no room for the Ethernet header
    r4 = *(u16 *)(r1 + 12)      ; h_proto, network byte order
    if r4 != 0x8 goto out       ; htons(ETH_P_IP) read on a little-endian host
    r0 = 2                      ; XDP_PASS
out:
    exit
