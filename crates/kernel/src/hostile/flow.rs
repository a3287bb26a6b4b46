//! Items that leave the straight line: helper calls with memory and
//! size arguments, helpers that move the packet (and the stale pointers
//! they leave), bpf-to-bpf calls that pass stack pointers down, return
//! them up, recurse or nest too deep, and loops bounded by a counter or
//! by nothing.

use super::program::{CTX, DATA, END, FP, Gen, R0, R1, R2, R3, R4, R5, R9, SubKind, UNKNOWN_SLOT};
use rxdp_isa::helper_id as hid;
use rxdp_isa::{AluOp, Cond, Operand, Size, Width};

impl Gen<'_> {
    /// Helpers taking memory and a size, the context, or nothing.
    pub(crate) fn helper_item(&mut self) {
        self.feature("helper");
        for s in 2..=4 {
            self.a.st(Size::DW, FP, -8 * s, s as i32);
        }
        match self.rng.below(4) {
            0 => {
                // csum_diff(from, from_size, to, to_size, seed)
                self.feature("helper.csum_diff");
                self.stack_ptr(R1, -32);
                let n = if self.mistake() { 40 } else { 16 };
                self.a.mov_k(R2, n);
                self.a.mov_k(R3, 0);
                self.a.mov_k(R4, 0);
                self.a.mov_k(R5, 0);
                self.a.call(hid::CSUM_DIFF);
            }
            1 | 2 => {
                // xdp_load_bytes / xdp_store_bytes(ctx, off, buf, len)
                self.feature("helper.xdp_bytes");
                let ctx = if self.mistake() { DATA } else { CTX };
                self.a.mov_x(R1, ctx);
                self.a.mov_k(R2, self.rng.pick(&[0, 2, 14]));
                self.stack_ptr(R3, -32);
                if self.mistake() {
                    if self.rng.chance(1, 2) {
                        self.a.mov_k(R4, 40);
                    } else {
                        self.small_unknown(R4, 63);
                    }
                } else {
                    self.a.mov_k(R4, self.rng.pick(&[1, 8, 16, 24]));
                }
                let id = self.rng.pick(&[hid::XDP_LOAD_BYTES, hid::XDP_STORE_BYTES]);
                self.a.call(id);
            }
            _ => {
                self.a
                    .call(self.rng.pick(&[hid::KTIME_GET_NS, hid::GET_PRANDOM_U32]));
            }
        }
        if self.mistake() {
            // Argument registers are dead after a call.
            self.feature("helper.dead_args");
            self.a.ldx(Size::W, R0, R1, 0);
        }
    }

    /// `bpf_xdp_adjust_head`, `_meta` or `_tail` after a packet check;
    /// then (right) reload and check again, or (a mistake) use the stale
    /// pointers under the old check.
    pub(crate) fn adjust_item(&mut self) {
        self.feature("helper.adjust");
        let skip = self.a.label();
        self.a.mov_x(R1, DATA);
        self.a.alu_k(AluOp::Add, R1, 16);
        self.check_le(R1, END, skip);
        self.length_hint(16);
        let (id, delta) = match self.rng.below(3) {
            0 => (hid::XDP_ADJUST_HEAD, self.rng.pick(&[-16, -8, 8, 14])),
            1 => (hid::XDP_ADJUST_META, self.rng.pick(&[-8, -4])),
            _ => (hid::XDP_ADJUST_TAIL, self.rng.pick(&[-4, -16, 8])),
        };
        self.a.mov_x(R1, CTX);
        self.a.mov_k(R2, delta);
        self.a.call(id);
        if self.mistake() {
            self.feature("packet.stale");
            let off = self.rng.pick(&[0, 8, 15]);
            self.access(Size::B, DATA, off);
            self.a.bind(skip);
            return;
        }
        self.a.bind(skip);
        self.reload_packet();
        self.packet_const();
    }

    /// `data` and `data_end` from the context again.
    pub(crate) fn reload_packet(&mut self) {
        self.a.ldx(Size::W, DATA, CTX, 0);
        self.a.ldx(Size::W, END, CTX, 4);
    }

    /// A bpf-to-bpf call of one of the [`SubKind`]s.
    pub(crate) fn call_item(&mut self) {
        self.feature("call");
        match self.rng.below(8) {
            0..=3 => {
                let sub = self.want_sub(SubKind::Generic);
                let wrong = self.mistake();
                self.a.mov_x(R1, if wrong { DATA } else { CTX });
                self.a.mov_x(R2, DATA);
                self.a.mov_x(R3, END);
                self.a.call_local(sub);
                // The callee may have moved the packet.
                if !self.mistake() {
                    self.reload_packet();
                }
            }
            4 | 5 => {
                self.feature("call.stack_arg");
                self.a.st(Size::DW, FP, -16, 1);
                self.a.st(Size::DW, FP, -24, 2);
                let k: i16 = self.rng.pick(&[16, 24]);
                let off = if self.mistake() {
                    self.rng.pick(&[k, k - 4, -600])
                } else {
                    self.rng.pick(&[0, 8])
                };
                let sub = self.want_sub(SubKind::StackArg { off });
                self.stack_ptr(R1, -k);
                self.a.mov_k(R2, 5);
                self.a.call_local(sub);
            }
            6 => {
                // Always wrong: the kernel rejects both.
                self.mistakes += 1;
                if self.rng.chance(1, 2) {
                    self.feature("call.returns_stack");
                    let sub = self.want_sub(SubKind::ReturnsStack);
                    self.a.call_local(sub);
                    self.a.ldx(Size::DW, R0, R0, 0);
                } else {
                    self.feature("call.recursive");
                    let sub = self.want_sub(SubKind::Recursive);
                    self.a.mov_k(R1, self.rng.pick(&[2, 20]));
                    self.a.call_local(sub);
                }
            }
            _ => {
                self.feature("call.chain");
                let left = self.rng.below(9);
                let stack: i16 = self.rng.pick(&[8, 64, 200]);
                let frames = self.depth + 2 + left;
                let used = (frames as i64 - 1) * i64::from(stack);
                if frames > 8 || used > 512 {
                    self.mistakes += 1;
                }
                let sub = self.want_sub(SubKind::Chain { left, stack });
                self.a.call_local(sub);
            }
        }
    }

    /// Loops: a counter over a stack array or the packet, a bound the
    /// verifier cannot see, or (with `runaway_loops`) none at all.
    pub(crate) fn loop_item(&mut self) {
        self.feature("loop");
        match self.rng.below(5) {
            0 | 1 => self.loop_stack(),
            2 => self.loop_packet(),
            3 => {
                // Ends within 256 rounds, from an unknown start.
                let top = self.a.label();
                self.small_unknown(R9, 0xff);
                self.a.bind(top);
                self.a.alu_k(AluOp::Add, R9, 1);
                let width = self.rng.pick(&[Width::W32, Width::W64]);
                self.a.jmp(width, Cond::Ne, R9, Operand::Imm(0x100), top);
            }
            _ if self.cfg.runaway_loops && self.mistake() => {
                self.feature("loop.runaway");
                self.may_not_terminate = true;
                let top = self.a.label();
                self.a.mov_k(R9, 0);
                self.a.bind(top);
                self.a.alu_k(AluOp::Add, R0, 1);
                self.a.jmp(Width::W64, Cond::Lt, R9, Operand::Imm(4), top);
            }
            _ => self.loop_stack(),
        }
    }

    fn loop_stack(&mut self) {
        let n = self.rng.range(2, 8) as i32;
        let wrong = self.mistake();
        let base = if wrong { -8 * n } else { -8 * n - 16 };
        let cond = if wrong { Cond::Le } else { Cond::Lt };
        let width = self.rng.pick(&[Width::W32, Width::W64]);
        let top = self.a.label();
        self.a.mov_k(R9, 0);
        self.a.bind(top);
        self.a.mov_x(R1, FP);
        self.a.alu_k(AluOp::Add, R1, base);
        self.a.mov_x(R2, R9);
        self.a.alu_k(AluOp::Lsh, R2, 3);
        self.a.alu_x(AluOp::Add, R1, R2);
        self.a.stx(Size::DW, R1, R9, 0);
        self.a.alu(width, AluOp::Add, R9, Operand::Imm(1));
        self.a.jmp(width, cond, R9, Operand::Imm(n), top);
        // The loop wrote the slot of the unknown scalar in the wrong
        // case only; keep it defined either way.
        let _ = UNKNOWN_SLOT;
    }

    fn loop_packet(&mut self) {
        self.feature("loop.packet");
        let n = self.rng.range(2, 64) as i32;
        let out = self.a.label();
        let hoisted = self.mistake();
        if hoisted {
            self.a.mov_x(R1, DATA);
            self.a.alu_k(AluOp::Add, R1, 1);
            self.check_le(R1, END, out);
        }
        let top = self.a.label();
        self.a.mov_k(R9, 0);
        self.a.bind(top);
        self.a.mov_x(R1, DATA);
        self.a.alu_x(AluOp::Add, R1, R9);
        if !hoisted {
            self.a.mov_x(R2, R1);
            self.a.alu_k(AluOp::Add, R2, 1);
            self.a.jmp(Width::W64, Cond::Gt, R2, Operand::Reg(END), out);
        }
        self.a.ldx(Size::B, R0, R1, 0);
        self.a.alu_k(AluOp::Add, R9, 1);
        self.a.jmp(Width::W64, Cond::Lt, R9, Operand::Imm(n), top);
        self.a.bind(out);
        self.length_hint(i64::from(n));
    }
}
