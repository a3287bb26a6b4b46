//! What the generator knows about each register at the current point of
//! the program it is writing: the little of the verifier's register
//! state it must respect to stay accepted.
//!
//! Only scalars may be read by ALU, jump, store and call instructions.
//! Pointers (context, packet, packet end) are produced and consumed
//! inside one packet block and are otherwise treated like uninitialised
//! registers: they may be overwritten, never read, so no address can leak
//! into a computed value or the output (addresses differ between the
//! kernel and rxdp).

use rxdp_isa::Reg;

/// A register's state for the generator.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Val {
    /// Not readable: never written on some path, or a pointer.
    Unusable,
    /// A scalar on every path reaching this point.
    Scalar,
}

/// The state of r0..r9 (r10 is always the frame pointer).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Regs([Val; 10]);

impl Regs {
    /// Every register unusable.
    pub(crate) fn empty() -> Regs {
        Regs([Val::Unusable; 10])
    }

    pub(crate) fn is_scalar(&self, r: Reg) -> bool {
        self.0[r.idx()] == Val::Scalar
    }

    pub(crate) fn set(&mut self, r: Reg, v: Val) {
        self.0[r.idx()] = v;
    }

    /// The scalar registers, in number order.
    pub(crate) fn scalars(&self) -> Vec<Reg> {
        (0..10u8)
            .filter_map(Reg::new)
            .filter(|&r| self.is_scalar(r))
            .collect()
    }

    /// The state where two paths join: a scalar only if it is one on
    /// both.
    pub(crate) fn meet(&self, other: &Regs) -> Regs {
        let mut out = *self;
        for (o, b) in out.0.iter_mut().zip(other.0.iter()) {
            if *o != *b {
                *o = Val::Unusable;
            }
        }
        out
    }

    /// After a call: r0 holds the result, r1-r5 are clobbered.
    pub(crate) fn after_call(&mut self) {
        self.0[0] = Val::Scalar;
        for v in &mut self.0[1..=5] {
            *v = Val::Unusable;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meet_keeps_common_scalars_only() {
        let mut a = Regs::empty();
        let mut b = Regs::empty();
        a.set(Reg::R1, Val::Scalar);
        a.set(Reg::R2, Val::Scalar);
        b.set(Reg::R2, Val::Scalar);
        b.set(Reg::R3, Val::Scalar);
        assert_eq!(a.meet(&b).scalars(), vec![Reg::R2]);
    }

    #[test]
    fn calls_clobber_caller_saved() {
        let mut a = Regs::empty();
        a.set(Reg::R3, Val::Scalar);
        a.set(Reg::R6, Val::Scalar);
        a.after_call();
        assert_eq!(a.scalars(), vec![Reg::R0, Reg::R6]);
    }
}
