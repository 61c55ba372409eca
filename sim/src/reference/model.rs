//! The built-in models, read from the project's layer tables
//! (`data/models/digits_{mlp,cnn}.layers.csv`, embedded in the binary).
//!
//! Every conv/linear row becomes a layer; a ReLU follows every layer but the
//! last; a flatten precedes the first linear layer after a conv. For a data
//! set other than digits, the MLP's first layer takes the data set's feature
//! count and the last layer of either model its class count; the CNN needs
//! the first layer's input size (8×8×1 = 64 features).

use serde::Serialize;

use crate::reference::error::TrainError;
use crate::reference::network::{Hwc, LayerSpec};

/// `data/models/digits_mlp.layers.csv`.
pub const DIGITS_MLP_TABLE: &str = include_str!("../../../data/models/digits_mlp.layers.csv");
/// `data/models/digits_cnn.layers.csv`.
pub const DIGITS_CNN_TABLE: &str = include_str!("../../../data/models/digits_cnn.layers.csv");

/// A built-in model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// `digits_mlp`: 64-128-64-10.
    Mlp,
    /// `digits_cnn`: three 3×3 convs (16, 32 s2, 32) and a 512→10 classifier.
    Cnn,
}

impl ModelKind {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Mlp => "mlp",
            ModelKind::Cnn => "cnn",
        }
    }

    /// The layer table the model comes from.
    pub fn table(self) -> &'static str {
        match self {
            ModelKind::Mlp => DIGITS_MLP_TABLE,
            ModelKind::Cnn => DIGITS_CNN_TABLE,
        }
    }

    /// The layers and the NHWC input shape for `features` inputs and
    /// `classes` outputs.
    pub fn specs(self, features: usize, classes: usize) -> Result<(Vec<LayerSpec>, Hwc), TrainError> {
        let rows = parse_table(self.table())?;
        let mut specs = Vec::new();
        let first = rows.first().ok_or_else(|| TrainError::Shape("empty layer table".into()))?;
        let input = match self {
            ModelKind::Mlp => (1, 1, features),
            ModelKind::Cnn => {
                let need = first.c_in * first.h_in * first.w_in;
                if features != need {
                    return Err(TrainError::Shape(format!(
                        "the cnn model needs {need} features ({}x{}x{} images); the data set has {features}",
                        first.h_in, first.w_in, first.c_in
                    )));
                }
                (first.h_in, first.w_in, first.c_in)
            }
        };
        let last = rows.len() - 1;
        let mut spatial = input.0 * input.1 > 1;
        for (i, r) in rows.iter().enumerate() {
            let c_out = if i == last { classes } else { r.c_out };
            match r.kind.as_str() {
                "linear" => {
                    if spatial {
                        specs.push(LayerSpec::Flatten);
                        spatial = false;
                    }
                    let c_in = if i == 0 { features } else { r.c_in };
                    specs.push(LayerSpec::Linear { name: r.name.clone(), c_in, c_out });
                }
                "conv" => {
                    specs.push(LayerSpec::Conv {
                        name: r.name.clone(),
                        c_in: r.c_in,
                        c_out,
                        kernel: (r.r, r.s),
                        stride: r.stride,
                        pad: r.pad,
                    });
                    spatial = true;
                }
                other => return Err(TrainError::Shape(format!("layer {}: unsupported type `{other}`", r.name))),
            }
            if i != last {
                specs.push(LayerSpec::Relu);
            }
        }
        Ok((specs, input))
    }
}

/// One row of a `.layers.csv` table (the columns the reference uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRow {
    /// Layer name.
    pub name: String,
    /// `linear` or `conv`.
    pub kind: String,
    /// Input channels.
    pub c_in: usize,
    /// Input height.
    pub h_in: usize,
    /// Input width.
    pub w_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Kernel height.
    pub r: usize,
    /// Kernel width.
    pub s: usize,
    /// Stride (h, w).
    pub stride: (usize, usize),
    /// Padding (h, w).
    pub pad: (usize, usize),
}

/// Parses a `.layers.csv` table (header naming the columns, see
/// `data/models/README.md`); grouped convolutions are refused.
pub fn parse_table(text: &str) -> Result<Vec<TableRow>, TrainError> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> =
        lines.next().ok_or_else(|| TrainError::Shape("empty layer table".into()))?.split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| TrainError::Shape(format!("layer table lacks `{name}`")))
    };
    let idx = [
        "layer", "type", "C_in", "H_in", "W_in", "C_out", "R", "S", "stride_h", "stride_w", "pad_h", "pad_w", "groups",
    ]
    .map(col);
    let mut ix = [0usize; 13];
    for (i, r) in idx.into_iter().enumerate() {
        ix[i] = r?;
    }
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let get = |i: usize| cells.get(ix[i]).copied().unwrap_or("");
        let num = |i: usize| {
            get(i)
                .parse::<usize>()
                .map_err(|_| TrainError::Shape(format!("layer table row {}: bad `{}`", n + 2, get(i))))
        };
        if num(12)? != 1 {
            return Err(TrainError::Shape(format!("layer {}: grouped convolutions are not supported", get(0))));
        }
        rows.push(TableRow {
            name: get(0).to_string(),
            kind: get(1).to_string(),
            c_in: num(2)?,
            h_in: num(3)?,
            w_in: num(4)?,
            c_out: num(5)?,
            r: num(6)?,
            s: num(7)?,
            stride: (num(8)?, num(9)?),
            pad: (num(10)?, num(11)?),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlp_follows_its_table() {
        let (specs, input) = ModelKind::Mlp.specs(64, 10).unwrap();
        assert_eq!(input, (1, 1, 64));
        let lin: Vec<(usize, usize)> = specs
            .iter()
            .filter_map(|s| match s {
                LayerSpec::Linear { c_in, c_out, .. } => Some((*c_in, *c_out)),
                _ => None,
            })
            .collect();
        assert_eq!(lin, vec![(64, 128), (128, 64), (64, 10)]);
        assert_eq!(specs.iter().filter(|s| **s == LayerSpec::Relu).count(), 2);
        // Another data set: 4 features, 3 classes.
        let (specs, _) = ModelKind::Mlp.specs(4, 3).unwrap();
        assert!(matches!(specs[0], LayerSpec::Linear { c_in: 4, c_out: 128, .. }));
        assert!(matches!(specs.last(), Some(LayerSpec::Linear { c_in: 64, c_out: 3, .. })));
    }

    #[test]
    fn cnn_follows_its_table() {
        let (specs, input) = ModelKind::Cnn.specs(64, 10).unwrap();
        assert_eq!(input, (8, 8, 1));
        assert!(matches!(
            specs[2],
            LayerSpec::Conv { c_in: 16, c_out: 32, kernel: (3, 3), stride: (2, 2), pad: (1, 1), .. }
        ));
        assert_eq!(specs[6], LayerSpec::Flatten);
        assert!(matches!(specs[7], LayerSpec::Linear { c_in: 512, c_out: 10, .. }));
        let e = ModelKind::Cnn.specs(13, 3).unwrap_err();
        assert!(e.to_string().contains("needs 64 features"), "{e}");
    }

    #[test]
    fn table_errors_are_reported() {
        assert!(parse_table("").is_err());
        assert!(parse_table("layer,type\nfc,linear\n").is_err());
        let bad = DIGITS_MLP_TABLE.replace("fc2,linear,128", "fc2,linear,x");
        assert!(parse_table(&bad).unwrap_err().to_string().contains("row 3"));
    }
}
