//! Runs one example program on the 64-byte UDP sample frame in a tight
//! loop, for counting instructions per run under valgrind:
//!
//! ```text
//! cargo build --release -p rxdp --example run_loop
//! valgrind --tool=callgrind target/release/examples/run_loop rxdp_interp parse 1
//! valgrind --tool=callgrind target/release/examples/run_loop rxdp_interp parse 100001
//! ```
//!
//! The difference of the two totals divided by 100 000 is the cost of one
//! run, the loop around it included. Runtimes: `rxdp_interp`,
//! `rxdp_checked`, `rxdp_jit`, `rbpf_interp`, `rbpf_jit` (the same calls as
//! `benches/xdp.rs`; `rxdp_jit` refuses a program the JIT did not compile
//! rather than count the interpreter). Programs: `drop`, `parse`,
//! `map_counter` (not on rbpf: no maps), `subprog` (the parse in a
//! bpf-to-bpf subprogram).

use rxdp_isa::asm::assemble;
use rxdp_xdp::{Engine, XdpBuff, XdpContext, XdpProgram, sample};
use std::hint::black_box;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [runtime, program, runs] = args.as_slice() else {
        eprintln!(
            "usage: run_loop rxdp_interp|rxdp_checked|rxdp_jit|rbpf_interp|rbpf_jit \
             drop|parse|map_counter|subprog RUNS"
        );
        return ExitCode::FAILURE;
    };
    let src = match program.as_str() {
        "drop" => include_str!("../../../examples/xdp_drop.s"),
        "parse" => include_str!("../../../examples/parse_udp.s"),
        "map_counter" => include_str!("../../../examples/count_proto.s"),
        "subprog" => include_str!("../../../examples/subprog.s"),
        other => {
            eprintln!("unknown program {other}");
            return ExitCode::FAILURE;
        }
    };
    let Ok(runs) = runs.parse::<u64>() else {
        eprintln!("RUNS must be a number, not {runs}");
        return ExitCode::FAILURE;
    };
    let asm = assemble(src).expect("the examples assemble");
    let prog = XdpProgram::load(&asm.insns, &asm.maps).expect("the examples load");
    let packet = sample::udp4(64);
    let mut last = 0;
    match runtime.as_str() {
        "rxdp_interp" | "rxdp_checked" | "rxdp_jit" => {
            let engine = match runtime.as_str() {
                "rxdp_interp" => Engine::Interp,
                "rxdp_checked" => Engine::Checked,
                _ => Engine::Jit,
            };
            let mut runner = prog.runner(engine);
            if runner.engine_used() != engine {
                let why = prog.jit_fallback().unwrap_or_default();
                eprintln!("{runtime} {program}: the program runs on the interpreter: {why}");
                return ExitCode::FAILURE;
            }
            let mut buff = XdpBuff::new(&packet, 1, 0).expect("a 64-byte frame fits");
            for _ in 0..runs {
                last = runner.run(black_box(&mut buff)).expect("the run succeeds");
            }
        }
        "rbpf_interp" | "rbpf_jit" => {
            let bytecode = rxdp_isa::encode(prog.xlated());
            let mut vm = rbpf::EbpfVmMbuff::new(Some(&bytecode)).expect("rbpf accepts it");
            let mut packet = packet.clone();
            let data = packet.as_ptr() as u64;
            let ctx = XdpContext {
                data,
                data_end: data + packet.len() as u64,
                data_meta: data,
                ..XdpContext::default()
            };
            let mut mbuff = Vec::new();
            for w in [ctx.data, ctx.data_end, ctx.data_meta] {
                mbuff.extend_from_slice(&w.to_le_bytes());
            }
            mbuff.resize(size_of::<XdpContext>(), 0);
            if runtime == "rbpf_jit" {
                vm.jit_compile().expect("rbpf's JIT compiles it");
                for _ in 0..runs {
                    // SAFETY: rbpf's JIT checks no access; the program
                    // passed rxdp's verifier and reads only the context in
                    // `mbuff` and the packet it points at, `packet`, which
                    // outlives the loop and does not move.
                    let r = unsafe {
                        vm.execute_program_jit(black_box(&mut packet), black_box(&mut mbuff))
                    };
                    last = r.expect("the run succeeds") as u32;
                }
            } else {
                for _ in 0..runs {
                    let r = vm.execute_program(black_box(&packet), black_box(&mbuff));
                    last = r.expect("the run succeeds") as u32;
                }
            }
        }
        other => {
            eprintln!("unknown runtime {other}");
            return ExitCode::FAILURE;
        }
    }
    println!("{runtime} {program}: {runs} runs, last verdict {last}");
    ExitCode::SUCCESS
}
