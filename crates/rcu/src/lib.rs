//! Grace periods (QSBR) for rxdp.
