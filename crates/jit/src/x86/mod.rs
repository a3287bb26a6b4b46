//! The x86-64 encoder (being written).
