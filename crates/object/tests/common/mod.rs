//! Helpers shared by the integration tests: the test objects and an
//! independent reading of them through llvm-objdump.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `crates/object/tests/data`.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// `examples/c` at the workspace root.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/c")
}

/// The bytes of test object `name` (`"maps.o"`).
pub fn data(name: &str) -> Vec<u8> {
    std::fs::read(data_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every `.o` under `dir`, sorted.
pub fn objects_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "o"))
        .collect();
    out.sort();
    out
}

/// One instruction slot as llvm-objdump shows it.
#[derive(Clone, Debug)]
pub struct DumpSlot {
    /// The 8 bytes.
    pub bytes: [u8; 8],
    /// Whether a relocation applies to it.
    pub relocated: bool,
}

/// The functions of an object, `(section, function) -> slots`, read from
/// `llvm-objdump -dr`. `None` when llvm-objdump is not installed.
pub fn objdump_functions(path: &Path) -> Option<HashMap<(String, String), Vec<DumpSlot>>> {
    let tool = ["llvm-objdump-19", "llvm-objdump"]
        .into_iter()
        .find(|t| Command::new(t).arg("--version").output().is_ok())?;
    let out = Command::new(tool).arg("-dr").arg(path).output().ok()?;
    assert!(out.status.success(), "{tool} failed on {}", path.display());
    let text = String::from_utf8_lossy(&out.stdout);
    let mut funcs: HashMap<(String, String), Vec<DumpSlot>> = HashMap::new();
    let (mut section, mut func) = (String::new(), None::<String>);
    // Where the last instruction's first slot is, for its relocation.
    let mut last_start = 0;
    for line in text.lines() {
        if let Some(s) = line.strip_prefix("Disassembly of section ") {
            section = s.trim_end_matches(':').to_owned();
            func = None;
        } else if let Some(name) = line
            .strip_suffix(">:")
            .and_then(|l| l.split_once(" <"))
            .map(|(_, n)| n)
        {
            // clang-14 leaves basic-block labels (LBB0_5) in the symbol
            // table; objdump shows them like functions.
            if !name.starts_with("LBB") {
                func = Some(name.to_owned());
            }
        } else if line.contains("R_BPF_") {
            let f = func.clone().expect("relocation outside a function");
            // The relocation line follows its instruction (a lddw's
            // first slot).
            if let Some(last) = funcs
                .get_mut(&(section.clone(), f))
                .and_then(|v| v.get_mut(last_start))
            {
                last.relocated = true;
            }
        } else if let (Some(f), Some((idx, rest))) = (&func, line.split_once(":\t")) {
            if idx.trim().parse::<usize>().is_err() {
                continue;
            }
            let hex: Vec<u8> = rest
                .split('\t')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
                .collect();
            let slots = funcs.entry((section.clone(), f.clone())).or_default();
            last_start = slots.len();
            for chunk in hex.chunks(8) {
                slots.push(DumpSlot {
                    bytes: chunk.try_into().expect("8 bytes"),
                    relocated: false,
                });
            }
        }
    }
    Some(funcs)
}
