; Drop every packet: the smallest XDP program there is.
    r0 = 1          ; XDP_DROP
    exit
