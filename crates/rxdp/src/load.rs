//! Loading what `test-run` and `verify` are given: an assembly file, raw
//! bytecode, or a BPF object with all its programs; then applying a setup
//! file to the loaded maps.

use crate::error::{CliResult, program, usage};
use crate::input::read_program;
use anyhow::{Context, anyhow};
use rxdp_verifier::Options;
use rxdp_xdp::setup::{Directive, Setup};
use rxdp_xdp::{MapTable, ObjectOpts, XdpObject, XdpProgram};
use std::path::Path;

/// A loaded program, alone or with the rest of its object.
pub(crate) enum Loaded {
    /// From an assembly file or raw bytecode.
    Single(XdpProgram),
    /// From a BPF object: every XDP program of it, and which one runs.
    Object {
        /// The loaded object.
        object: XdpObject,
        /// The program that runs.
        prog: String,
    },
}

impl Loaded {
    /// The program that runs.
    pub(crate) fn program(&self) -> &XdpProgram {
        match self {
            Loaded::Single(p) => p,
            Loaded::Object { object, prog } => object.program(prog).expect("chosen at load"),
        }
    }

    /// The maps the program uses (for an object: all of its maps).
    pub(crate) fn maps(&self) -> &MapTable {
        self.program().maps()
    }
}

/// Reads a setup file.
pub(crate) fn read_setup(path: Option<&Path>) -> CliResult<Setup> {
    let Some(path) = path else {
        return Ok(Setup::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read setup file {}", path.display()))
        .map_err(usage)?;
    Setup::parse(&text).map_err(|e| usage(anyhow!("{}: {e}", path.display())))
}

/// Loads `path`, verified with `verifier`; for an object, `prog` picks
/// the program that runs (default: its first XDP program) and `setup`'s
/// variables are set before verification.
pub(crate) fn load(
    path: &Path,
    prog: Option<&str>,
    setup: &Setup,
    verifier: &Options,
) -> CliResult<Loaded> {
    if path.extension().is_some_and(|e| e == "o") {
        return load_object(path, prog, setup, verifier);
    }
    if let Some(p) = prog {
        return Err(usage(anyhow!(
            "--prog {p}: {} holds one program; --prog is for objects (.o)",
            path.display()
        )));
    }
    if let Some(Directive::Var { .. } | Directive::ProgArray { .. } | Directive::Load { .. }) =
        setup
            .directives
            .iter()
            .find(|d| !matches!(d, Directive::Map { .. } | Directive::MapFill { .. }))
    {
        return Err(usage(anyhow!(
            "setup: var, progarray and load directives need an object file (.o)"
        )));
    }
    let src = read_program(path)?;
    let p = XdpProgram::load_with_options(&src.insns, &src.maps, verifier).map_err(program)?;
    let loaded = Loaded::Single(p);
    apply_map_updates(loaded.maps(), setup)?;
    Ok(loaded)
}

fn load_object(
    path: &Path,
    prog: Option<&str>,
    setup: &Setup,
    verifier: &Options,
) -> CliResult<Loaded> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read {}", path.display()))
        .map_err(usage)?;
    let object =
        rxdp_object::parse(&bytes).map_err(|e| usage(anyhow!("{}: {e}", path.display())))?;
    let prog = match prog {
        Some(p) => {
            let found = object.program(p).ok_or_else(|| {
                let names: Vec<&str> = object.programs.iter().map(|p| p.name.as_str()).collect();
                usage(anyhow!(
                    "{}: no program '{p}' (it has: {})",
                    path.display(),
                    names.join(", ")
                ))
            })?;
            if found.prog_type != rxdp_object::secdef::prog_type::XDP {
                return Err(program(anyhow!(
                    "program '{p}' is a {} program (section {}): rxdp runs XDP programs only",
                    rxdp_object::secdef::prog_type::name(found.prog_type).unwrap_or("unknown"),
                    found.section
                )));
            }
            p.to_string()
        }
        None => object
            .programs
            .iter()
            .find(|p| p.prog_type == rxdp_object::secdef::prog_type::XDP)
            .map(|p| p.name.clone())
            .ok_or_else(|| program(anyhow!("{}: no XDP program in this object", path.display())))?,
    };
    let opts = ObjectOpts {
        vars: setup.vars().collect(),
        verifier: *verifier,
        ..ObjectOpts::default()
    };
    let object = XdpObject::load(object, &opts).map_err(program)?;
    for d in &setup.directives {
        if let Directive::Load { prog } = d
            && object.program(prog).is_none()
        {
            return Err(program(anyhow!(
                "setup: load {prog}: no XDP program of that name in the object"
            )));
        }
    }
    apply_map_updates(object.maps(), setup)?;
    for d in &setup.directives {
        if let Directive::ProgArray { map, index, prog } = d {
            object.set_prog_array(map, *index, prog).map_err(program)?;
        }
    }
    Ok(Loaded::Object { object, prog })
}

fn apply_map_updates(maps: &MapTable, setup: &Setup) -> CliResult {
    for (name, key, value) in setup.map_updates() {
        let m = maps
            .by_name(&name)
            .ok_or_else(|| usage(anyhow!("setup: no map '{name}'")))?;
        m.map.update_copy(&key, &value, 0).map_err(|e| {
            usage(anyhow!(
                "setup: map '{name}' key {}: {e}",
                crate::input::hex(&key)
            ))
        })?;
    }
    Ok(())
}
