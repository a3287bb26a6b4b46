; Count packets per IPv4 protocol number in an array map; pass them all.
.map counters type=array key=4 value=8 entries=256
    r2 = *(u32 *)(r1 + 4)       ; data_end
    r1 = *(u32 *)(r1 + 0)       ; data
    r3 = r1
    r3 += 34
    if r3 > r2 goto out         ; Ethernet and IPv4 headers
    r4 = *(u16 *)(r1 + 12)
    if r4 != 0x8 goto out       ; not IPv4
    r4 = *(u8 *)(r1 + 23)       ; protocol
    *(u32 *)(r10 - 4) = r4      ; the key
    r1 = map[counters] ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
out:
    r0 = 2                      ; XDP_PASS
    exit
