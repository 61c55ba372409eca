//! What the user names on a command line: a config (`--arch`: a preset or a
//! TOML file) and an input (a model, or a program file written by
//! `nmsat compile -o`).

use std::io::Read;
use std::path::Path;

use nmsat_compiler::{LoadOptions, Model, load_model_with};
use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::program::Program;

use crate::error::FlowError;

/// Loads `--arch`: a preset name (`tiny`, `sat-mid`, `sat-vu9p`), a TOML
/// path, or the default preset when absent. A file of a preset's name wins
/// over the preset (a directory does not: `--dir sat-mid` must not hide
/// the preset `sat-mid`).
pub fn load_arch(arg: Option<&str>) -> Result<ArchConfig, FlowError> {
    match arg {
        None => Ok(ArchConfig::default_preset()),
        Some(a) => {
            if let Some(c) = ArchConfig::preset(a)
                && !Path::new(a).is_file()
            {
                return Ok(c);
            }
            if !Path::new(a).exists() {
                let presets: Vec<&str> = nmsat_dataflow::arch::PRESETS.iter().map(|(n, _)| *n).collect();
                return Err(FlowError::Request(format!(
                    "`{a}` is neither a config file nor a preset (presets: {})",
                    presets.join(", ")
                )));
            }
            Ok(ArchConfig::from_file(Path::new(a))?)
        }
    }
}

/// A model or a compiled program.
#[derive(Debug, Clone)]
pub enum Input {
    /// A program file (with its own config and maybe a memory image).
    Program(Box<Program>),
    /// A model (built-in name or model file).
    Model(Box<Model>),
}

/// True when `path` is a file that starts with a program's magic.
pub fn is_program_file(path: &Path) -> bool {
    let mut magic = [0u8; 8];
    path.is_file()
        && std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok()
        && &magic == b"NMSATPRG"
}

/// Reads `arg` as a program file when it is one, else as a model.
pub fn load_input(arg: &str) -> Result<Input, FlowError> {
    load_input_with(arg, &LoadOptions::default())
}

/// [`load_input`] with model front-end options.
pub fn load_input_with(arg: &str, opts: &LoadOptions) -> Result<Input, FlowError> {
    let path = Path::new(arg);
    if is_program_file(path) {
        return Ok(Input::Program(Box::new(Program::load(path)?)));
    }
    Ok(Input::Model(Box::new(load_model_with(arg, opts)?)))
}
