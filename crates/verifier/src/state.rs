//! The abstract state the verifier carries along a path: what each
//! register holds ([`Reg`]), what each stack byte holds ([`Slot`]), the
//! frames of bpf-to-bpf calls ([`Frame`]) and the references a path must
//! release ([`State`]), as the kernel's `bpf_reg_state`,
//! `bpf_stack_state`, `bpf_func_state` and `bpf_verifier_state`.

use crate::scalar::Scalar;
use core::fmt;

/// The number of registers, `r0..r10`.
pub const NREGS: usize = 11;
/// A frame's stack, in bytes (`MAX_BPF_STACK`).
pub const STACK_SIZE: i32 = 512;
/// The deepest call chain (`MAX_CALL_FRAMES`).
pub const MAX_FRAMES: usize = 8;

/// What a register holds (the kernel's `enum bpf_reg_type`, with
/// `PTR_MAYBE_NULL` folded into the `*OrNull` variants).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegType {
    /// Never written on this path (`NOT_INIT`).
    NotInit,
    /// A number (`SCALAR_VALUE`).
    Scalar,
    /// The context (`PTR_TO_CTX`).
    Ctx,
    /// Into the packet (`PTR_TO_PACKET`).
    Packet,
    /// Into the packet's metadata (`PTR_TO_PACKET_META`).
    PacketMeta,
    /// One past the packet (`PTR_TO_PACKET_END`).
    PacketEnd,
    /// Into frame [`Reg::aux`]'s stack (`PTR_TO_STACK`).
    Stack,
    /// Map [`Reg::aux`] itself (`CONST_PTR_TO_MAP`).
    MapPtr,
    /// Map [`Reg::aux`], or null: the result of a lookup in a map of maps.
    MapPtrOrNull,
    /// Into a value of map [`Reg::aux`] (`PTR_TO_MAP_VALUE`).
    MapValue,
    /// Into a value of map [`Reg::aux`], or null.
    MapValueOrNull,
    /// To a key of map [`Reg::aux`], read-only (`PTR_TO_MAP_KEY`: what
    /// `bpf_for_each_map_elem` hands its callback).
    MapKey,
    /// Into [`Reg::aux`] bytes of memory a helper handed out
    /// (`PTR_TO_MEM`, a ring buffer record).
    Mem,
    /// [`RegType::Mem`] or null.
    MemOrNull,
    /// Subprogram [`Reg::aux`]'s address (`PTR_TO_FUNC`).
    Func,
}

impl RegType {
    /// Whether the register holds a pointer.
    pub fn is_pointer(self) -> bool {
        !matches!(self, RegType::NotInit | RegType::Scalar)
    }

    /// Whether this is one of the maybe-null types.
    pub fn is_or_null(self) -> bool {
        matches!(
            self,
            RegType::MapPtrOrNull | RegType::MapValueOrNull | RegType::MemOrNull
        )
    }

    /// The type after a successful null check.
    pub fn non_null(self) -> RegType {
        match self {
            RegType::MapPtrOrNull => RegType::MapPtr,
            RegType::MapValueOrNull => RegType::MapValue,
            RegType::MemOrNull => RegType::Mem,
            t => t,
        }
    }

    /// Whether this is a pointer into packet data or metadata.
    pub fn is_packet(self) -> bool {
        matches!(self, RegType::Packet | RegType::PacketMeta)
    }

    /// The kernel's name for the type, as its log prints it.
    pub fn name(self) -> &'static str {
        match self {
            RegType::NotInit => "?",
            RegType::Scalar => "scalar",
            RegType::Ctx => "ctx",
            RegType::Packet => "pkt",
            RegType::PacketMeta => "pkt_meta",
            RegType::PacketEnd => "pkt_end",
            RegType::Stack => "fp",
            RegType::MapPtr => "map_ptr",
            RegType::MapPtrOrNull => "map_ptr_or_null",
            RegType::MapValue => "map_value",
            RegType::MapValueOrNull => "map_value_or_null",
            RegType::MapKey => "map_key",
            RegType::Mem => "ringbuf_mem",
            RegType::MemOrNull => "ringbuf_mem_or_null",
            RegType::Func => "func",
        }
    }
}

/// One register's abstract value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Reg {
    /// What it holds.
    pub ty: RegType,
    /// A pointer's fixed offset from its base.
    pub off: i32,
    /// A scalar's value, or a pointer's variable offset.
    pub var: Scalar,
    /// Copies of one value share an id, so that a null check or a packet
    /// bounds check on one refines them all (0: none).
    pub id: u32,
    /// The reference this pointer holds, to be released (0: none).
    pub ref_id: u32,
    /// Packet pointers: bytes known to be readable from the pointer's
    /// base (`data` plus the variable offset) up to, not counting `off`.
    pub range: i32,
    /// Map index (map types), frame number (stack), subprogram (func),
    /// size in bytes (mem).
    pub aux: u32,
}

impl Reg {
    /// An unwritten register.
    pub fn not_init() -> Reg {
        Reg {
            ty: RegType::NotInit,
            off: 0,
            var: Scalar::unknown(),
            id: 0,
            ref_id: 0,
            range: 0,
            aux: 0,
        }
    }

    /// A scalar of `var`.
    pub fn scalar(var: Scalar) -> Reg {
        Reg {
            ty: RegType::Scalar,
            var,
            ..Reg::not_init()
        }
    }

    /// An unknown scalar.
    pub fn unknown() -> Reg {
        Reg::scalar(Scalar::unknown())
    }

    /// A known scalar.
    pub fn constant(v: u64) -> Reg {
        Reg::scalar(Scalar::constant(v))
    }

    /// A pointer of type `ty` with offset 0.
    pub fn pointer(ty: RegType, aux: u32) -> Reg {
        Reg {
            ty,
            var: Scalar::constant(0),
            aux,
            ..Reg::not_init()
        }
    }

    /// Whether this is a scalar.
    pub fn is_scalar(&self) -> bool {
        self.ty == RegType::Scalar
    }

    /// The scalar's value if known.
    pub fn const_value(&self) -> Option<u64> {
        if self.is_scalar() {
            self.var.const_value()
        } else {
            None
        }
    }

    /// Whether this is the known scalar 0.
    pub fn is_zero(&self) -> bool {
        self.const_value() == Some(0)
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ty {
            RegType::NotInit => f.write_str("?"),
            RegType::Scalar => {
                if self.id != 0 && self.var.const_value().is_none() {
                    write!(f, "{}", self.var)?;
                    return write!(f, "(id={})", self.id);
                }
                write!(f, "{}", self.var)
            }
            RegType::Stack => {
                let var = match self.var.const_value() {
                    Some(0) => String::new(),
                    _ => format!(",var={}", self.var),
                };
                write!(f, "fp{}{}", self.off, var)
            }
            ty => {
                write!(f, "{}(", ty.name())?;
                let mut sep = "";
                let mut field = |f: &mut fmt::Formatter<'_>, s: String| {
                    let r = write!(f, "{sep}{s}");
                    sep = ",";
                    r
                };
                if self.id != 0 {
                    field(f, format!("id={}", self.id))?;
                }
                if self.ref_id != 0 {
                    field(f, format!("ref_obj_id={}", self.ref_id))?;
                }
                if self.off != 0 {
                    field(f, format!("off={}", self.off))?;
                }
                if self.ty.is_packet() {
                    field(f, format!("r={}", self.range))?;
                }
                if matches!(self.ty, RegType::Mem | RegType::MemOrNull) {
                    field(f, format!("sz={}", self.aux))?;
                }
                if self.var.const_value() != Some(0) {
                    field(f, format!("var={}", self.var))?;
                }
                f.write_str(")")
            }
        }
    }
}

/// What one stack byte holds (the kernel's `enum bpf_stack_slot_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteKind {
    /// Never written (`STACK_INVALID`).
    Invalid,
    /// Written with something unknown (`STACK_MISC`).
    Misc,
    /// Known zero (`STACK_ZERO`).
    Zero,
    /// Part of a spilled register (`STACK_SPILL`), kept in [`Slot::spill`].
    Spill,
}

impl ByteKind {
    fn letter(self) -> char {
        match self {
            ByteKind::Invalid => '?',
            ByteKind::Misc => 'm',
            ByteKind::Zero => '0',
            ByteKind::Spill => 'r',
        }
    }
}

/// One 8-byte stack slot. Byte 0 is the lowest address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Slot {
    /// What each byte holds.
    pub bytes: [ByteKind; 8],
    /// The spilled register, meaningful while some byte is
    /// [`ByteKind::Spill`]; the spilled bytes are the low ones.
    pub spill: Reg,
}

impl Slot {
    /// A slot never written.
    pub fn invalid() -> Slot {
        Slot {
            bytes: [ByteKind::Invalid; 8],
            spill: Reg::not_init(),
        }
    }

    /// Whether the whole slot holds a spilled register.
    pub fn is_spill(&self) -> bool {
        self.bytes.iter().all(|&b| b == ByteKind::Spill)
    }

    /// The number of low bytes holding a spilled register.
    pub fn spill_size(&self) -> usize {
        self.bytes
            .iter()
            .take_while(|&&b| b == ByteKind::Spill)
            .count()
    }

    /// Whether any byte is part of a spill.
    pub fn has_spill(&self) -> bool {
        self.bytes.contains(&ByteKind::Spill)
    }

    /// Whether every byte is unwritten.
    pub fn is_invalid(&self) -> bool {
        self.bytes.iter().all(|&b| b == ByteKind::Invalid)
    }

    /// Turns a spill into plain data, as a partial overwrite does.
    pub fn scrub(&mut self) {
        for b in &mut self.bytes {
            if *b == ByteKind::Spill {
                *b = ByteKind::Misc;
            }
        }
        self.spill = Reg::not_init();
    }
}

/// One function's frame: its registers and stack.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Frame {
    /// `r0..r10`.
    pub regs: [Reg; NREGS],
    /// Slot `i` holds bytes `[-8(i+1), -8i)` from the frame pointer;
    /// grows as the function writes deeper.
    pub stack: Vec<Slot>,
    /// The instruction that called this frame (the caller resumes after
    /// it); `usize::MAX` for the main program.
    pub callsite: usize,
    /// The subprogram this frame runs.
    pub subprog: usize,
    /// For a callback frame: the helper that runs it.
    pub callback: Option<crate::proto::Callback>,
}

impl Frame {
    /// A fresh frame for `subprog` called from `callsite`: `r10` points
    /// to its stack (frame number `frameno`), everything else unwritten.
    pub fn new(frameno: usize, callsite: usize, subprog: usize) -> Frame {
        let mut regs = [Reg::not_init(); NREGS];
        regs[10] = Reg::pointer(RegType::Stack, frameno as u32);
        Frame {
            regs,
            stack: Vec::new(),
            callsite,
            subprog,
            callback: None,
        }
    }

    /// Deepest byte written, as a positive depth (the frame's stack
    /// usage).
    pub fn depth(&self) -> i32 {
        let used = self
            .stack
            .iter()
            .rposition(|s| !s.is_invalid())
            .map_or(0, |i| i + 1);
        used as i32 * 8
    }

    /// The slot holding byte `off` (negative, from the frame pointer).
    pub fn slot_of(off: i32) -> (usize, usize) {
        let pos = (-off - 1) as usize;
        let slot = pos / 8;
        let byte = 7 - pos % 8;
        (slot, byte)
    }

    /// Slot `i`, growing the stack to hold it.
    pub fn slot_mut(&mut self, i: usize) -> &mut Slot {
        if self.stack.len() <= i {
            self.stack.resize(i + 1, Slot::invalid());
        }
        &mut self.stack[i]
    }

    /// Slot `i` (never written if beyond the stack so far).
    pub fn slot(&self, i: usize) -> Slot {
        self.stack.get(i).copied().unwrap_or_else(Slot::invalid)
    }
}

/// A reference a path holds and must release before it exits (the
/// kernel's `bpf_reference_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RefState {
    /// The id pointers holding it carry in [`Reg::ref_id`].
    pub id: u32,
    /// The instruction that acquired it.
    pub insn: usize,
}

/// The state along one path (the kernel's `bpf_verifier_state`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// The call chain; the last frame is the running one.
    pub frames: Vec<Frame>,
    /// References acquired and not yet released.
    pub refs: Vec<RefState>,
    /// The spin lock held, as (map index, id of the map value pointer),
    /// if any.
    pub lock: Option<(u32, u32)>,
    /// How many times this path re-entered a callback (the kernel's
    /// `callback_unroll_depth`): states of different iterations are
    /// never the same state, so repeating one is convergence, not an
    /// infinite loop.
    pub callback_iterations: u32,
}

impl State {
    /// The state at a program's entry: frame 0 with `r1` as given.
    pub fn entry(r1: Reg) -> State {
        let mut frame = Frame::new(0, usize::MAX, 0);
        frame.regs[1] = r1;
        State {
            frames: vec![frame],
            refs: Vec::new(),
            lock: None,
            callback_iterations: 0,
        }
    }

    /// The running frame.
    pub fn cur(&self) -> &Frame {
        self.frames.last().expect("a state has a frame")
    }

    /// The running frame, mutably.
    pub fn cur_mut(&mut self) -> &mut Frame {
        self.frames.last_mut().expect("a state has a frame")
    }

    /// Register `r` of the running frame.
    pub fn reg(&self, r: u8) -> &Reg {
        &self.cur().regs[r as usize]
    }

    /// Register `r` of the running frame, mutably.
    pub fn reg_mut(&mut self, r: u8) -> &mut Reg {
        &mut self.cur_mut().regs[r as usize]
    }

    /// Every register and spilled register of every frame, mutably.
    pub fn for_each_reg(&mut self, mut f: impl FnMut(&mut Reg)) {
        for frame in &mut self.frames {
            for r in &mut frame.regs {
                f(r);
            }
            for s in &mut frame.stack {
                if s.has_spill() {
                    f(&mut s.spill);
                }
            }
        }
    }
}

/// Formats a frame's registers and stack as the kernel's log does:
/// `R1=ctx() R10=fp0 fp-8=mmmmmmmm`.
pub fn fmt_frame(frame: &Frame, frameno: usize) -> String {
    let mut out = String::new();
    if frameno > 0 {
        out.push_str(&format!("frame{frameno}: "));
    }
    let mut sep = "";
    for (i, r) in frame.regs.iter().enumerate() {
        if r.ty == RegType::NotInit {
            continue;
        }
        if i == 10 {
            out.push_str(&format!("{sep}R10=fp0"));
        } else {
            out.push_str(&format!("{sep}R{i}={r}"));
        }
        sep = " ";
    }
    for (i, s) in frame.stack.iter().enumerate() {
        if s.is_invalid() {
            continue;
        }
        let off = -8 * (i as i32 + 1);
        if s.is_spill() {
            out.push_str(&format!(" fp{off}={}", s.spill));
        } else {
            let bytes: String = s.bytes.iter().rev().map(|b| b.letter()).collect();
            out.push_str(&format!(" fp{off}={bytes}"));
        }
    }
    out
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.frames.len();
        f.write_str(&fmt_frame(&self.frames[n - 1], n - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_bytes_map_to_slots_from_the_frame_pointer_down() {
        assert_eq!(Frame::slot_of(-1), (0, 7));
        assert_eq!(Frame::slot_of(-8), (0, 0));
        assert_eq!(Frame::slot_of(-9), (1, 7));
        assert_eq!(Frame::slot_of(-512), (63, 0));
    }

    #[test]
    fn depth_counts_the_deepest_written_slot() {
        let mut f = Frame::new(0, usize::MAX, 0);
        assert_eq!(f.depth(), 0);
        f.slot_mut(3).bytes[0] = ByteKind::Misc;
        assert_eq!(f.depth(), 32);
    }

    #[test]
    fn registers_print_as_the_kernel_log_does() {
        let mut f = Frame::new(0, usize::MAX, 0);
        f.regs[1] = Reg::pointer(RegType::Ctx, 0);
        f.regs[2] = Reg::constant(5);
        assert_eq!(fmt_frame(&f, 0), "R1=ctx() R2=5 R10=fp0");
    }
}
