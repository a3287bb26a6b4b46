//! Where BPF registers live on x86-64: the kernel's mapping (DESIGN.md),
//! so that r1..r5 are the System V argument registers (a helper call is a
//! plain call) and r6..r9 sit in callee-saved registers (rbx, r13..r15).

use crate::x86::Reg;
use rxdp_isa::Reg as BpfReg;

/// The x86-64 register holding each BPF register, r0 first.
const MAP: [Reg; 11] = [
    Reg::Rax, // r0: return value
    Reg::Rdi, // r1: first argument, the context on entry
    Reg::Rsi, // r2
    Reg::Rdx, // r3
    Reg::Rcx, // r4
    Reg::R8,  // r5
    Reg::Rbx, // r6: callee-saved
    Reg::R13, // r7
    Reg::R14, // r8
    Reg::R15, // r9
    Reg::Rbp, // r10: the frame pointer
];

/// Scratch registers no BPF register maps to, free within one BPF
/// instruction: caller-saved in System V, so no prologue saves them.
pub(super) const SCRATCH_A: Reg = Reg::R9;
/// Second scratch register.
pub(super) const SCRATCH_B: Reg = Reg::R10;
/// Third scratch register (the kernel's AUX_REG).
pub(super) const SCRATCH_C: Reg = Reg::R11;

/// The x86-64 register of BPF register `r`.
pub(super) fn x86(r: BpfReg) -> Reg {
    MAP[r.idx()]
}

/// The callee-saved BPF registers r6..r9 in push order, with their bit in
/// `SubprogInfo::callee_saved`.
pub(super) const CALLEE_SAVED: [(u16, Reg); 4] = [
    (1 << 6, Reg::Rbx),
    (1 << 7, Reg::R13),
    (1 << 8, Reg::R14),
    (1 << 9, Reg::R15),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_is_injective_and_avoids_scratch_and_rsp() {
        let mut seen = std::collections::HashSet::new();
        for r in MAP {
            assert!(seen.insert(r), "{r:?} mapped twice");
            assert!(![SCRATCH_A, SCRATCH_B, SCRATCH_C, Reg::Rsp].contains(&r));
        }
        for (bit, reg) in CALLEE_SAVED {
            let n = bit.trailing_zeros() as u8;
            assert_eq!(x86(BpfReg::new(n).unwrap()), reg);
        }
    }
}
