//! Map items: lookups (array, hash, per-CPU, LRU) with keys from the
//! stack, the packet or nowhere; null checks done right, on a copy, in
//! 32 bits or not at all; value accesses at constant and variable
//! offsets, atomics, pointer leaks; updates and deletes; ring buffer
//! reservations and their release.

use super::asm::Label;
use super::program::{DATA, END, FP, Gen, R0, R1, R2, R3, R4, R5, R9, SIZES};
use rxdp_isa::helper_id as hid;
use rxdp_isa::maptype as mt;
use rxdp_isa::{AluOp, AtomicOp, Cond, Insn, Operand, Reg, Size, Width};

/// Where lookups put their key.
const KEY_OFF: i16 = -16;

impl Gen<'_> {
    pub(crate) fn map_item(&mut self) {
        self.feature("map");
        let (ty, ks) = self.rng.pick(&[
            (mt::ARRAY, 4),
            (mt::ARRAY, 4),
            (mt::HASH, 4),
            (mt::HASH, 8),
            (mt::PERCPU_ARRAY, 4),
            (mt::PERCPU_HASH, 4),
            (mt::LRU_HASH, 8),
        ]);
        let vs = self.rng.pick(&[4u32, 8, 12, 16, 48, 64]);
        let max = self.rng.pick(&[1u32, 4, 16]);
        let idx = self.map(ty, ks, vs, max);
        let skip = self.a.label();
        self.key(ks, max, skip);
        self.ld_map(R1, idx);
        let percpu = matches!(ty, mt::PERCPU_ARRAY | mt::PERCPU_HASH);
        if percpu && self.rng.chance(1, 3) {
            self.feature("map.percpu_lookup");
            self.a.mov_k(R3, 0);
            self.a.call(hid::MAP_LOOKUP_PERCPU_ELEM);
        } else {
            self.a.call(hid::MAP_LOOKUP_ELEM);
        }
        let base = self.null_check(skip);
        match self.rng.below(6) {
            0 | 1 => self.value_const(base, vs),
            2 | 3 => self.value_var(base, vs, skip),
            4 => self.value_atomic(base, vs),
            _ => {
                self.feature("map.leak");
                if vs >= 8 {
                    self.a.stx(Size::DW, base, DATA, 0);
                }
            }
        }
        self.a.bind(skip);
        if self.rng.chance(1, 3) {
            self.map_update(idx, ks, vs, max, ty);
        }
    }

    /// Puts a key of `ks` bytes where `r2` points: on the stack (a
    /// constant or an unknown, or uninitialised as a mistake) or in the
    /// packet (checked, or not as a mistake).
    fn key(&mut self, ks: u32, max: u32, skip: Label) {
        let size = if ks == 8 { Size::DW } else { Size::W };
        match self.rng.below(4) {
            0 | 1 => {
                if !self.mistake() {
                    let k = self.rng.range(0, i64::from(max) + 1) as i32;
                    self.a.st(size, FP, KEY_OFF, k);
                } else {
                    self.feature("map.uninit_key");
                }
                let off = if self.mistake() { -4 } else { KEY_OFF };
                self.stack_ptr(R2, off);
            }
            2 => {
                self.small_unknown(R2, 7);
                self.a.stx(size, FP, R2, KEY_OFF);
                self.stack_ptr(R2, KEY_OFF);
            }
            _ => {
                self.feature("map.packet_key");
                self.a.mov_x(R2, DATA);
                if !self.mistake() {
                    self.a.mov_x(R3, DATA);
                    self.a.alu_k(AluOp::Add, R3, ks as i32);
                    self.check_le(R3, END, skip);
                    self.length_hint(i64::from(ks));
                }
            }
        }
    }

    /// Checks `r0` against null; returns the register to use the value
    /// through (r0 or a copy, both refined by the check in the kernel).
    fn null_check(&mut self, skip: Label) -> Reg {
        if self.mistake() {
            self.feature("map.bad_null_check");
            match self.rng.below(4) {
                0 => {}
                1 => self.a.jmp(Width::W32, Cond::Eq, R0, Operand::Imm(0), skip),
                2 => self.a.jmp(Width::W64, Cond::Eq, R0, Operand::Imm(1), skip),
                _ => {
                    self.a.alu_k(AluOp::Add, R0, 8);
                    self.a.jmp(Width::W64, Cond::Eq, R0, Operand::Imm(8), skip);
                    self.a.alu_k(AluOp::Add, R0, -8);
                }
            }
            return R0;
        }
        match self.rng.below(4) {
            0 => {
                self.a.jmp(Width::W64, Cond::Eq, R0, Operand::Imm(0), skip);
                R0
            }
            1 => {
                let ok = self.a.label();
                self.a.jmp(Width::W64, Cond::Ne, R0, Operand::Imm(0), ok);
                self.a.ja(skip);
                self.a.bind(ok);
                R0
            }
            2 => {
                // Check the copy, use the original.
                self.feature("map.copy_check");
                self.a.mov_x(R9, R0);
                self.a.jmp(Width::W64, Cond::Eq, R9, Operand::Imm(0), skip);
                R0
            }
            _ => {
                // Check the original, use the copy.
                self.feature("map.copy_check");
                self.a.mov_x(R9, R0);
                self.a.jmp(Width::W64, Cond::Eq, R0, Operand::Imm(0), skip);
                R9
            }
        }
    }

    fn value_const(&mut self, base: Reg, vs: u32) {
        let size = self.pick_size(vs);
        let sz = size.bytes() as i64;
        let vs = i64::from(vs);
        let off = if self.mistake() {
            self.rng.pick(&[vs - sz + 1, vs, -1, -8])
        } else {
            self.rng.range(0, vs - sz)
        };
        self.access(size, base, off as i16);
    }

    /// A variable offset into the value: masked, or checked by a compare.
    fn value_var(&mut self, base: Reg, vs: u32, skip: Label) {
        self.feature("map.var");
        let size = self.pick_size(vs);
        let room = vs as i32 - size.bytes() as i32;
        self.unknown(R2);
        // The widest mask m = 2^k - 1 with m + size <= the value size.
        let mask = (1i32 << (31 - (room + 1).leading_zeros())) - 1;
        if self.mistake() {
            match self.rng.below(3) {
                0 => self.a.alu_k(AluOp::And, R2, mask * 2 + 1),
                1 => self
                    .a
                    .jmp(Width::W64, Cond::Sgt, R2, Operand::Imm(room), skip),
                _ => self
                    .a
                    .jmp(Width::W32, Cond::Gt, R2, Operand::Imm(room), skip),
            }
        } else if self.rng.chance(1, 2) {
            self.a.alu_k(AluOp::And, R2, mask);
        } else {
            self.a
                .jmp(Width::W64, Cond::Gt, R2, Operand::Imm(room), skip);
        }
        self.a.mov_x(R1, base);
        self.a.alu_x(AluOp::Add, R1, R2);
        self.access(size, R1, 0);
    }

    fn value_atomic(&mut self, base: Reg, vs: u32) {
        self.feature("map.atomic");
        let size = if vs >= 8 && self.rng.chance(1, 2) {
            Size::DW
        } else {
            Size::W
        };
        let sz = size.bytes() as i16;
        let mut off = sz * self.rng.below((vs as usize) / sz as usize) as i16;
        if self.mistake() {
            off += self.rng.pick(&[1, 2, sz, vs as i16]);
        }
        let op = self.rng.pick(&[
            AtomicOp::Add,
            AtomicOp::Or,
            AtomicOp::Xor,
            AtomicOp::Xchg,
            AtomicOp::Cmpxchg,
        ]);
        // cmpxchg compares with and writes r0: keep the value pointer
        // elsewhere.
        let base = if base == R0 && op == AtomicOp::Cmpxchg {
            self.a.mov_x(R9, R0);
            R9
        } else {
            base
        };
        self.a.mov_k(R1, 1);
        if op == AtomicOp::Cmpxchg {
            self.a.mov_k(R0, 0);
        }
        let fetch = matches!(op, AtomicOp::Xchg | AtomicOp::Cmpxchg) || self.rng.chance(1, 2);
        self.a.emit(Insn::Atomic {
            size,
            op,
            fetch,
            dst: base,
            src: R1,
            off,
        });
    }

    /// The size of a value access, no bigger than the value.
    fn pick_size(&mut self, vs: u32) -> Size {
        loop {
            let s = self.rng.pick(&SIZES);
            if s.bytes() as u32 <= vs {
                return s;
            }
        }
    }

    /// `bpf_map_update_elem` from a stack key and value (the value area
    /// too short or uninitialised as mistakes), or a delete.
    fn map_update(&mut self, idx: usize, ks: u32, vs: u32, max: u32, ty: u32) {
        self.feature("map.update");
        let size = if ks == 8 { Size::DW } else { Size::W };
        let k = self.rng.range(0, i64::from(max) - 1) as i32;
        self.a.st(size, FP, KEY_OFF, k);
        let hash = matches!(ty, mt::HASH | mt::PERCPU_HASH | mt::LRU_HASH);
        self.ld_map(R1, idx);
        self.stack_ptr(R2, KEY_OFF);
        if hash && self.rng.chance(1, 4) {
            self.a.call(hid::MAP_DELETE_ELEM);
            return;
        }
        let slots = vs.div_ceil(8) as i16;
        let val = KEY_OFF - 8 * slots;
        if !self.mistake() {
            for s in 0..slots {
                self.a.st(Size::DW, FP, val + 8 * s, s as i32);
            }
        }
        let at = if self.mistake() { -8 } else { val };
        self.stack_ptr(R3, at);
        self.a.mov_k(R4, 0);
        self.a.call(hid::MAP_UPDATE_ELEM);
    }

    /// `bpf_ringbuf_reserve`, a write into the record, and its submit or
    /// discard; as mistakes: a size not constant, no null check, a write
    /// past the record, a leak, a use after submit, a double submit.
    pub(crate) fn ringbuf_item(&mut self) {
        self.feature("ringbuf");
        let idx = self.map(mt::RINGBUF, 0, 0, 4096);
        if self.rng.chance(1, 4) {
            self.ringbuf_output(idx);
            return;
        }
        let skip = self.a.label();
        let size = 8 * self.rng.range(1, 8) as i32;
        self.ld_map(R1, idx);
        if self.mistake() {
            self.small_unknown(R2, 63);
            self.a.alu_k(AluOp::Add, R2, 8);
        } else {
            self.a.mov_k(R2, size);
        }
        self.a.mov_k(R3, 0);
        self.a.call(hid::RINGBUF_RESERVE);
        if !self.mistake() {
            self.a.jmp(Width::W64, Cond::Eq, R0, Operand::Imm(0), skip);
        }
        let off = if self.mistake() {
            size
        } else {
            8 * self.rng.range(0, i64::from(size / 8 - 1)) as i16 as i32
        };
        self.a.st(Size::DW, R0, off as i16, 42);
        self.a.mov_x(R9, R0);
        if self.mistake() {
            // Leaked: never released.
            self.a.bind(skip);
            return;
        }
        self.a.mov_x(R1, R0);
        self.a.mov_k(R2, 0);
        let release = self.rng.pick(&[hid::RINGBUF_SUBMIT, hid::RINGBUF_DISCARD]);
        self.a.call(release);
        if self.mistake() {
            if self.rng.chance(1, 2) {
                self.a.st(Size::DW, R9, 0, 1);
            } else {
                self.a.mov_x(R1, R9);
                self.a.mov_k(R2, 0);
                self.a.call(release);
            }
        }
        self.a.bind(skip);
    }

    fn ringbuf_output(&mut self, idx: usize) {
        self.a.st(Size::DW, FP, -16, 7);
        self.a.st(Size::DW, FP, -24, 7);
        self.ld_map(R1, idx);
        self.stack_ptr(R2, -24);
        let n = if self.mistake() { 32 } else { 16 };
        self.a.mov_k(R3, n);
        self.a.mov_k(R4, 0);
        self.a.call(hid::RINGBUF_OUTPUT);
        let _ = R5;
    }
}
