//! Loading clang `-target bpf` ELF objects with libbpf conventions.
#![forbid(unsafe_code)]
