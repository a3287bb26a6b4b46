//! Items that touch memory through pointers the program computes:
//! packet (constant and variable offsets, `data_meta`), stack (spills,
//! fills, partial overwrites, uninitialised and variable-offset access,
//! out-of-frame offsets), pointer arithmetic, and the context.

use super::program::{CTX, DATA, END, FP, Gen, R0, R1, R2, R3, R4, R9, SIZES, UNKNOWN_SLOT};
use rxdp_isa::{AluOp, AtomicOp, Cond, Insn, Operand, Reg, Size, Width};

impl Gen<'_> {
    /// A load or store of `size` at `base + off`.
    pub(crate) fn access(&mut self, size: Size, base: Reg, off: i16) {
        match self.rng.below(4) {
            0 => self.a.st(size, base, off, 0x5a),
            1 => {
                self.a.mov_k(R4, 0x1234);
                self.a.stx(size, base, R4, off);
            }
            _ => self.a.ldx(size, R0, base, off),
        }
    }

    /// `check data + n <= data_end`, then an access at a constant offset
    /// (beyond `n` as a mistake: off by one, or before `data`).
    pub(crate) fn packet_const(&mut self) {
        self.feature("packet");
        let size = self.rng.pick(&SIZES);
        let sz = size.bytes() as i64;
        let n = self.rng.range(sz, 80);
        self.length_hint(n);
        let skip = self.a.label();
        self.a.mov_x(R1, DATA);
        if self.rng.chance(1, 4) {
            // Through a fresh data_end load: a different register for
            // the same value.
            self.a.ldx(Size::W, R3, CTX, 4);
            self.a.alu_k(AluOp::Add, R1, n as i32);
            self.check_le(R1, R3, skip);
        } else {
            self.a.alu_k(AluOp::Add, R1, n as i32);
            self.check_le(R1, END, skip);
        }
        let off = if self.mistake() {
            self.rng.pick(&[n - sz + 1, n, -1, -sz])
        } else {
            self.rng.range(0, n - sz)
        };
        // Through data or through the checked pointer (a negative offset
        // from it).
        if self.rng.chance(1, 3) {
            self.access(size, R1, (off - n) as i16);
        } else {
            self.access(size, DATA, off as i16);
        }
        self.a.bind(skip);
    }

    /// A variable offset into the packet: masked, shifted, bounded by a
    /// compare, or (a mistake) none of those; then the check and the
    /// access.
    pub(crate) fn packet_var(&mut self) {
        self.feature("packet.var");
        let size = self.rng.pick(&SIZES);
        let sz = size.bytes() as i32;
        let skip = self.a.label();
        self.unknown(R2);
        self.bound_scalar(R2, 0xff, skip);
        self.a.mov_x(R1, DATA);
        self.a.alu_x(AluOp::Add, R1, R2);
        self.a.mov_x(R3, R1);
        let checked = if self.mistake() {
            sz - 1
        } else {
            sz + self.rng.range(0, 8) as i32
        };
        self.a.alu_k(AluOp::Add, R3, checked);
        self.check_le(R3, END, skip);
        self.access(size, R1, 0);
        self.a.bind(skip);
        self.length_hint(i64::from(checked) + 1);
    }

    /// Makes the scalar in `r` small enough to be an offset of at most
    /// about `max`: `&` a mask, `>>` a shift, an unsigned compare; as a
    /// mistake, a signed or 32-bit compare, a mask too wide, or nothing.
    pub(crate) fn bound_scalar(&mut self, r: Reg, max: i32, skip: super::asm::Label) {
        if self.mistake() {
            match self.rng.below(4) {
                0 => self
                    .a
                    .jmp(Width::W64, Cond::Sgt, r, Operand::Imm(max), skip),
                1 => self.a.jmp(Width::W32, Cond::Gt, r, Operand::Imm(max), skip),
                2 => self.a.alu_k(AluOp::And, r, 0xffff),
                _ => {}
            }
            return;
        }
        match self.rng.below(4) {
            0 => self.a.alu_k(AluOp::And, r, max),
            1 => {
                self.a.alu_k(AluOp::Lsh, r, 56);
                self.a.alu_k(AluOp::Rsh, r, 56);
            }
            2 => self.a.jmp(Width::W64, Cond::Gt, r, Operand::Imm(max), skip),
            _ => {
                // 32-bit ops zero-extend: w-and bounds the whole register.
                self.a.alu(Width::W32, AluOp::And, r, Operand::Imm(max));
            }
        }
    }

    /// `data_meta`: checked against `data` (right) or `data_end` (a
    /// mistake), then read or written.
    pub(crate) fn packet_meta(&mut self) {
        self.feature("packet.meta");
        let skip = self.a.label();
        let size = self.rng.pick(&[Size::B, Size::W, Size::DW]);
        let n = size.bytes() as i32 * (1 + self.rng.below(2) as i32);
        self.a.ldx(Size::W, R9, CTX, 8);
        self.a.mov_x(R1, R9);
        self.a.alu_k(AluOp::Add, R1, n);
        let limit = if self.mistake() { END } else { DATA };
        self.a
            .jmp(Width::W64, Cond::Gt, R1, Operand::Reg(limit), skip);
        let off = if self.mistake() { n } else { 0 };
        self.access(size, R9, off as i16);
        self.a.bind(skip);
    }

    /// Stack: pointer spills and fills (with partial overwrites as
    /// mistakes), scalar spills used as offsets, uninitialised reads,
    /// variable-offset access, out-of-frame and misaligned offsets.
    pub(crate) fn stack_item(&mut self) {
        match self.rng.below(6) {
            0 | 1 => self.spill_pointer(),
            2 => self.spill_scalar(),
            3 => self.stack_var(),
            4 => {
                // Uninitialised: privileged loaders may read it.
                self.feature("stack.uninit");
                let off = -8 * self.rng.range(40, 63) as i16;
                self.a.ldx(Size::DW, R0, FP, off);
            }
            _ => self.stack_odd(),
        }
    }

    fn spill_pointer(&mut self) {
        self.feature("stack.spill");
        let slot = -8 * self.rng.range(2, 8) as i16;
        let src = self.rng.pick(&[DATA, DATA, CTX]);
        if self.mistake() && self.rng.chance(1, 3) {
            // A 32-bit spill of a pointer keeps only its low half.
            self.a.stx(Size::W, FP, src, slot);
        } else {
            self.a.stx(Size::DW, FP, src, slot);
        }
        if self.mistake() {
            // A partial overwrite of the spilled pointer.
            let (size, at) =
                self.rng
                    .pick(&[(Size::B, 5), (Size::H, 6), (Size::W, 4), (Size::B, 0)]);
            self.a.st(size, FP, slot + at, 0x55);
        }
        self.a.ldx(Size::DW, R1, FP, slot);
        if src == CTX {
            self.a.ldx(Size::W, R0, R1, 16);
            return;
        }
        let skip = self.a.label();
        self.a.mov_x(R2, R1);
        self.a.alu_k(AluOp::Add, R2, 4);
        self.check_le(R2, END, skip);
        self.length_hint(4);
        self.access(Size::W, R1, 0);
        self.a.bind(skip);
    }

    fn spill_scalar(&mut self) {
        self.feature("stack.scalar");
        let slot = -8 * self.rng.range(2, 8) as i16;
        self.unknown(R2);
        self.a.alu_k(AluOp::And, R2, 0x0f);
        let size = if self.rng.chance(1, 3) {
            Size::W
        } else {
            Size::DW
        };
        self.a.stx(size, FP, R2, slot);
        if self.mistake() {
            self.a.st(Size::B, FP, slot + 1, 0x7f);
        }
        self.a.ldx(size, R2, FP, slot);
        // Use it as an offset into the packet, then check the result
        // (a variable offset starts a new packet range).
        let skip = self.a.label();
        self.a.mov_x(R1, DATA);
        self.a.alu_x(AluOp::Add, R1, R2);
        self.a.mov_x(R3, R1);
        self.a.alu_k(AluOp::Add, R3, 8);
        self.check_le(R3, END, skip);
        self.length_hint(24);
        self.access(Size::DW, R1, 0);
        self.a.bind(skip);
    }

    fn stack_var(&mut self) {
        self.feature("stack.var");
        // Initialise the area first so that reads are defined.
        for s in 2..=9 {
            self.a.st(Size::DW, FP, -8 * s, s as i32);
        }
        self.unknown(R2);
        let (base, mask) = if self.mistake() {
            self.rng.pick(&[(-32, 63), (-72, 127), (-8, 15)])
        } else {
            self.rng.pick(&[(-72, 63), (-40, 31), (-24, 7)])
        };
        let skip = self.a.label();
        if self.rng.chance(1, 2) {
            self.a.alu_k(AluOp::And, R2, mask);
        } else {
            self.a
                .jmp(Width::W64, Cond::Gt, R2, Operand::Imm(mask), skip);
        }
        self.a.mov_x(R1, FP);
        self.a.alu_k(AluOp::Add, R1, base);
        self.a.alu_x(AluOp::Add, R1, R2);
        if self.rng.chance(1, 2) {
            self.a.st(Size::B, R1, 0, 1);
        } else {
            self.a.ldx(Size::B, R0, R1, 0);
        }
        self.a.bind(skip);
    }

    fn stack_odd(&mut self) {
        self.feature("stack.odd");
        if !self.mistake() {
            // The deepest slot of the frame, right.
            self.a.st(Size::DW, FP, -512, 1);
            self.a.ldx(Size::DW, R0, FP, -512);
            return;
        }
        match self.rng.below(5) {
            0 => self.a.st(Size::DW, FP, 0, 1),
            1 => self.a.st(Size::DW, FP, -520, 1),
            2 => self.a.st(Size::DW, FP, -12, 1),
            3 => self.a.ldx(Size::W, R0, FP, -4 + 2),
            _ => {
                self.a.mov_k(R1, 1);
                self.a.emit(Insn::Atomic {
                    size: Size::DW,
                    op: AtomicOp::Add,
                    fetch: false,
                    dst: FP,
                    src: R1,
                    off: -20,
                });
            }
        }
    }

    /// Arithmetic on pointers: scalars of known and unknown range added
    /// and subtracted, 32-bit operations, pointer minus pointer, bitwise
    /// operations; then an access through the result.
    pub(crate) fn ptr_alu(&mut self) {
        self.feature("ptr.alu");
        let skip = self.a.label();
        let right = !self.mistake();
        self.a.mov_x(R1, DATA);
        match (right, self.rng.below(4)) {
            (true, 0) => {
                self.a.alu_k(AluOp::Sub, R1, -6);
                self.a.alu_k(AluOp::Add, R1, -2);
            }
            (true, 1) => {
                // pkt_end - pkt is the length, a scalar; masked it bounds
                // an offset that is then checked.
                self.a.mov_x(R2, END);
                self.a.alu_x(AluOp::Sub, R2, DATA);
                self.a.alu_k(AluOp::And, R2, 7);
                self.a.alu_x(AluOp::Add, R1, R2);
            }
            (true, _) => {
                self.unknown(R2);
                self.a.alu_k(AluOp::And, R2, 3);
                self.a.alu_x(AluOp::Sub, R1, R2);
                self.a.alu_k(AluOp::Add, R1, 4);
            }
            (false, 0) => {
                self.a.mov_x(R2, END);
                self.a.alu_x(AluOp::Sub, R2, DATA);
                self.a.alu_x(AluOp::Add, R1, R2);
            }
            (false, 1) => {
                self.a.alu(Width::W32, AluOp::Add, R1, Operand::Imm(4));
            }
            (false, 2) => {
                self.unknown(R2);
                self.a.alu_x(AluOp::Add, R1, R2);
            }
            (false, _) => {
                let op = self
                    .rng
                    .pick(&[AluOp::And, AluOp::Or, AluOp::Lsh, AluOp::Mul]);
                self.a.alu_k(op, R1, self.rng.pick(&[-4, 1, 2]));
            }
        }
        self.a.mov_x(R3, R1);
        self.a.alu_k(AluOp::Add, R3, 8);
        self.check_le(R3, END, skip);
        self.length_hint(16);
        self.access(Size::DW, R1, 0);
        self.a.bind(skip);
    }

    /// `struct xdp_md` fields: u32 reads at their offsets (right); as a
    /// mistake, writes, wrong sizes, misaligned or past-the-end offsets.
    pub(crate) fn ctx_item(&mut self) {
        self.feature("ctx");
        if !self.mistake() {
            let off = self.rng.pick(&[0, 4, 8, 12, 16, 20]);
            self.a.ldx(Size::W, R0, CTX, off);
            return;
        }
        match self.rng.below(5) {
            0 => self.a.st(Size::W, CTX, 12, 0),
            1 => self.a.ldx(Size::DW, R0, CTX, 0),
            2 => self.a.ldx(Size::W, R0, CTX, 2),
            3 => self.a.ldx(Size::W, R0, CTX, 24),
            _ => self.a.ldx(Size::B, R0, CTX, 12),
        }
    }

    /// A pointer into the stack, `r1 = fp + off` (for helpers and calls).
    pub(crate) fn stack_ptr(&mut self, dst: Reg, off: i16) {
        self.a.mov_x(dst, FP);
        self.a.alu_k(AluOp::Add, dst, i32::from(off));
    }

    /// Reads the function's unknown scalar into `dst` masked to `mask`.
    pub(crate) fn small_unknown(&mut self, dst: Reg, mask: i32) {
        self.a.ldx(Size::DW, dst, FP, UNKNOWN_SLOT);
        self.a.alu_k(AluOp::And, dst, mask);
    }
}
