//! The frame a program runs on: one 4 KiB buffer with 256 bytes of
//! headroom before the packet and room for `struct skb_shared_info` after
//! it, laid out as the kernel's BPF_PROG_TEST_RUN lays out its `xdp_buff`
//! (`XDP_PACKET_HEADROOM`, `SKB_DATA_ALIGN(sizeof(struct skb_shared_info))`).
//! The packet is the bytes between `data` and `data_end`; metadata, when a
//! program adds some, sits between `data_meta` and `data`.

use crate::ctx::XdpContext;
use thiserror::Error;

/// Size of one frame.
pub const FRAME_SIZE: usize = 4096;
/// Headroom before the packet (`XDP_PACKET_HEADROOM`).
pub const XDP_PACKET_HEADROOM: usize = 256;
/// Room reserved after the packet for `struct skb_shared_info` on x86-64.
pub const TAILROOM: usize = 320;
/// The largest packet a single frame holds.
pub const MAX_PACKET: usize = FRAME_SIZE - XDP_PACKET_HEADROOM - TAILROOM;
/// The smallest packet the kernel's test run accepts (`ETH_HLEN`).
pub const MIN_PACKET: usize = 14;

/// A packet that does not fit a frame.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PacketError {
    /// Shorter than an Ethernet header.
    #[error("packet of {0} bytes is shorter than an Ethernet header ({MIN_PACKET} bytes)")]
    TooShort(usize),
    /// Longer than a frame holds after headroom and tailroom.
    #[error(
        "packet of {0} bytes exceeds the {MAX_PACKET} bytes a {FRAME_SIZE}-byte frame holds \
         after {XDP_PACKET_HEADROOM} bytes of headroom and {TAILROOM} of tailroom"
    )]
    TooLong(usize),
}

#[repr(C, align(64))]
struct FrameBytes([u8; FRAME_SIZE]);

/// One frame and the context describing the packet in it.
///
/// The context's pointers point into the frame, so an `XdpBuff` is boxed
/// storage that does not move while a program runs on it.
pub struct XdpBuff {
    frame: Box<FrameBytes>,
    ctx: XdpContext,
}

impl XdpBuff {
    /// A frame holding a copy of `packet` after the headroom, with no
    /// metadata, received on `ingress_ifindex` queue `rx_queue_index`.
    pub fn new(
        packet: &[u8],
        ingress_ifindex: u32,
        rx_queue_index: u32,
    ) -> Result<XdpBuff, PacketError> {
        check_len(packet)?;
        let mut buff = XdpBuff {
            frame: Box::new(FrameBytes([0; FRAME_SIZE])),
            ctx: XdpContext {
                ingress_ifindex,
                rx_queue_index,
                ..XdpContext::default()
            },
        };
        buff.place(packet);
        Ok(buff)
    }

    /// Replaces the frame's packet with a copy of `packet` and resets the
    /// context as [`XdpBuff::new`] sets it (no metadata; interface and
    /// queue unchanged), reusing the frame: no allocation. Bytes outside
    /// the new packet keep what earlier runs left there, as a recycled
    /// page does in the kernel.
    pub fn reset(&mut self, packet: &[u8]) -> Result<(), PacketError> {
        check_len(packet)?;
        self.place(packet);
        Ok(())
    }

    /// Copies a packet whose length `check_len` accepted after the
    /// headroom and points the context at it.
    fn place(&mut self, packet: &[u8]) {
        let start = XDP_PACKET_HEADROOM;
        self.frame.0[start..start + packet.len()].copy_from_slice(packet);
        let data = self.hard_start() + start as u64;
        self.ctx.data = data;
        self.ctx.data_end = data + packet.len() as u64;
        self.ctx.data_meta = data;
        self.ctx.egress_ifindex = 0;
    }

    /// The native context, for programs to read and helpers to update.
    pub fn ctx(&self) -> &XdpContext {
        &self.ctx
    }

    /// The native context, mutable (helpers move `data` and `data_end`).
    pub fn ctx_mut(&mut self) -> &mut XdpContext {
        &mut self.ctx
    }

    /// Address of the first byte of the frame (`data_hard_start`).
    pub fn hard_start(&self) -> u64 {
        self.frame.0.as_ptr() as u64
    }

    /// Address one past the last byte usable for packet data (the frame
    /// less its tailroom).
    pub fn hard_end(&self) -> u64 {
        self.hard_start() + (FRAME_SIZE - TAILROOM) as u64
    }

    fn offset(&self, addr: u64) -> usize {
        let off = addr.wrapping_sub(self.hard_start()) as usize;
        assert!(
            off <= FRAME_SIZE,
            "context pointer {addr:#x} left its frame"
        );
        off
    }

    /// The packet bytes, `data..data_end`.
    pub fn packet(&self) -> &[u8] {
        &self.frame.0[self.offset(self.ctx.data)..self.offset(self.ctx.data_end)]
    }

    /// What BPF_PROG_TEST_RUN copies out: `data_meta..data_end`, the
    /// metadata followed by the packet.
    pub fn data_out(&self) -> &[u8] {
        &self.frame.0[self.offset(self.ctx.data_meta)..self.offset(self.ctx.data_end)]
    }
}

fn check_len(packet: &[u8]) -> Result<(), PacketError> {
    if packet.len() < MIN_PACKET {
        return Err(PacketError::TooShort(packet.len()));
    }
    if packet.len() > MAX_PACKET {
        return Err(PacketError::TooLong(packet.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_sits_after_the_headroom() {
        let pkt: Vec<u8> = (0..64).collect();
        let b = XdpBuff::new(&pkt, 1, 0).unwrap();
        assert_eq!(b.ctx().data - b.hard_start(), XDP_PACKET_HEADROOM as u64);
        assert_eq!(b.ctx().data_end - b.ctx().data, 64);
        assert_eq!(b.ctx().data_meta, b.ctx().data);
        assert_eq!(b.packet(), &pkt[..]);
        assert_eq!(b.data_out(), &pkt[..]);
        assert_eq!(b.ctx().ingress_ifindex, 1);
    }

    #[test]
    fn sizes_outside_a_frame_are_refused() {
        assert_eq!(
            XdpBuff::new(&[0; 13], 1, 0).err(),
            Some(PacketError::TooShort(13))
        );
        assert!(XdpBuff::new(&[0; MIN_PACKET], 1, 0).is_ok());
        assert!(XdpBuff::new(&vec![0; MAX_PACKET], 1, 0).is_ok());
        let e = XdpBuff::new(&vec![0; MAX_PACKET + 1], 1, 0).err().unwrap();
        assert!(e.to_string().contains("3521 bytes exceeds the 3520"), "{e}");
    }

    #[test]
    fn reset_replaces_the_packet_in_the_same_frame() {
        let mut b = XdpBuff::new(&[7; 64], 5, 2).unwrap();
        let start = b.hard_start();
        // As a helper would leave it: metadata before data, a shorter tail.
        b.ctx_mut().data_meta -= 8;
        b.ctx_mut().data_end -= 10;
        let pkt: Vec<u8> = (100..140).collect();
        b.reset(&pkt).unwrap();
        assert_eq!(b.hard_start(), start);
        assert_eq!(b.ctx().data - start, XDP_PACKET_HEADROOM as u64);
        assert_eq!(b.packet(), &pkt[..]);
        assert_eq!(b.data_out(), &pkt[..]);
        assert_eq!((b.ctx().ingress_ifindex, b.ctx().rx_queue_index), (5, 2));
        assert_eq!(b.reset(&[0; 3]), Err(PacketError::TooShort(3)));
        assert_eq!(b.packet(), &pkt[..], "a refused packet changes nothing");
    }
}
