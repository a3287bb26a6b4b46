; The IPv4 protocol parse in a bpf-to-bpf subprogram: the main program
; passes data and data_end, the subprogram returns the protocol number
; (or 0), and the main program drops ICMP.
    r2 = *(u32 *)(r1 + 4)       ; data_end
    r1 = *(u32 *)(r1 + 0)       ; data
    call ip_proto
    r1 = r0
    r0 = 2                      ; XDP_PASS
    if r1 != 1 goto out
    r0 = 1                      ; XDP_DROP for ICMP
out:
    exit

; r0 = IPv4 protocol of the frame in [r1, r2), or 0.
ip_proto:
    r0 = 0
    r3 = r1
    r3 += 34
    if r3 > r2 goto done
    r4 = *(u16 *)(r1 + 12)
    if r4 != 0x8 goto done
    r0 = *(u8 *)(r1 + 23)
done:
    exit
