//! The prog pack allocator (being written).
