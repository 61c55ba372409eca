//! Built-in models: every layer table of `data/models/`, embedded at build
//! time by `build.rs` (adding `<name>.layers.csv` there adds a model). The
//! transformers also embed their `<name>.gemm.csv`, which supplies the
//! attention matmuls a layer table cannot hold.

use crate::error::CompileError;
use crate::model::Model;
use crate::table;

/// One embedded model.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// Name with underscores (`resnet18_cifar10`).
    pub name: &'static str,
    /// The `.layers.csv` text.
    pub layers: &'static str,
    /// The `.gemm.csv` text (forward GEMMs including attention), when shipped.
    pub gemms: Option<&'static str>,
}

include!(concat!(env!("OUT_DIR"), "/builtin_models.rs"));

/// All built-in models, sorted by name.
pub fn builtins() -> &'static [Builtin] {
    BUILTIN
}

/// Names as users type them: hyphens for underscores (`resnet18-cifar10`).
pub fn builtin_names() -> Vec<String> {
    BUILTIN.iter().map(|b| b.name.replace('_', "-")).collect()
}

/// Finds a built-in by name; hyphens and underscores are interchangeable, case is ignored.
pub fn find_builtin(name: &str) -> Option<&'static Builtin> {
    let key = name.trim().replace('-', "_").to_ascii_lowercase();
    BUILTIN.iter().find(|b| b.name == key)
}

impl Builtin {
    /// Parses the embedded tables into a model (attention matmuls included when the GEMM list has them).
    pub fn load(&self) -> Result<Model, CompileError> {
        let file = format!("builtin:{}.layers.csv", self.name);
        let mut m = match self.gemms {
            Some(g) if needs_attention(g) => {
                table::parse_with_attention(&file, self.layers, &format!("builtin:{}.gemm.csv", self.name), g)?
            }
            _ => table::parse(&file, self.layers)?,
        };
        m.name = self.name.to_string();
        m.source = format!("builtin:{}", self.name);
        Ok(m)
    }
}

fn needs_attention(gemm_csv: &str) -> bool {
    gemm_csv.contains("qk_t") || gemm_csv.contains("attn_v")
}
