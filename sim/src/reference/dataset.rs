//! Classification data sets: the built-in digits set and any CSV of numeric
//! features followed by an integer label.
//!
//! **Split.** The test set is every sample whose 0-based row index is a
//! multiple of 5; the rest is the training set (digits: 1437 / 360).
//!
//! **Scaling.** Digits pixels (0..16) are divided by 16, as in the PyTorch
//! reference of `data/datasets/README.md`. Other CSVs are standardised per
//! feature (`(x − mean) / std` over the training rows only; a constant
//! feature becomes 0), which suits bias-free layers and keeps values well
//! inside the int16 path's activation range.
//!
//! **Labels.** The distinct integer labels, sorted, become classes `0..C`.

use std::collections::BTreeMap;
use std::io::Read;

use crate::reference::error::DatasetError;

/// `data/datasets/digits.csv.gz` (sklearn digits, BSD-3-Clause; see
/// `data/datasets/COPYING.scikit-learn-BSD3`), embedded in the binary.
pub const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../../data/datasets/digits.csv.gz");

/// One split of a data set: `n` rows of `features` values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Row-major `n × features` values, scaled as described in the module docs.
    pub x: Vec<f32>,
    /// Class of each row, `0..classes`.
    pub y: Vec<usize>,
}

impl Split {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
}

/// A data set, already split and scaled.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Name shown in reports (`digits` or the file name).
    pub name: String,
    /// Features per sample.
    pub features: usize,
    /// Number of classes.
    pub classes: usize,
    /// The original label of each class, in class order.
    pub labels: Vec<i64>,
    /// Rows whose index % 5 != 0.
    pub train: Split,
    /// Rows whose index % 5 == 0.
    pub test: Split,
}

/// How features are scaled.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scaling {
    /// Divide every feature by this constant.
    Constant(f32),
    /// Per-feature standardisation over the training rows.
    Standardise,
}

impl Dataset {
    /// The built-in digits set (1797 samples of 8×8 pixels, 10 classes).
    pub fn digits() -> Result<Self, DatasetError> {
        let text = gunzip(DIGITS_CSV_GZ, "digits.csv.gz")?;
        Self::parse(&text, "digits", Scaling::Constant(16.0))
    }

    /// Reads a CSV file (optionally gzip-compressed, by the `.gz` suffix).
    pub fn from_path(path: &std::path::Path) -> Result<Self, DatasetError> {
        let origin = path.display().to_string();
        let bytes =
            std::fs::read(path).map_err(|e| DatasetError::Io { path: origin.clone(), message: e.to_string() })?;
        let text = if origin.ends_with(".gz") {
            gunzip(&bytes, &origin)?
        } else {
            String::from_utf8(bytes)
                .map_err(|e| DatasetError::Encoding { origin: origin.clone(), message: e.to_string() })?
        };
        Self::from_csv_str(&text, &origin)
    }

    /// Parses CSV text: numeric features then an integer label per row,
    /// an optional header line (a first line with any non-numeric cell),
    /// blank lines ignored. `origin` names the source in errors.
    pub fn from_csv_str(text: &str, origin: &str) -> Result<Self, DatasetError> {
        Self::parse(text, origin, Scaling::Standardise)
    }

    /// The data rows of CSV `text`: features and the integer label of each,
    /// every row as wide as the first (a header line and blank lines skipped).
    fn parse_rows(text: &str, origin: &str) -> Result<Vec<(Vec<f32>, i64)>, DatasetError> {
        let o = || origin.to_string();
        let mut rows: Vec<(Vec<f32>, i64)> = Vec::new();
        let mut width: Option<(usize, usize)> = None;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() {
                continue;
            }
            let cells: Vec<&str> = trimmed.split(',').map(str::trim).collect();
            if line == 1 && cells.iter().any(|c| c.parse::<f64>().map_or(true, |v| !v.is_finite())) {
                continue; // header
            }
            match width {
                None => width = Some((cells.len(), line)),
                Some((w, first_line)) if w != cells.len() => {
                    return Err(DatasetError::Ragged {
                        origin: o(),
                        line,
                        expected: w,
                        first_line,
                        found: cells.len(),
                    });
                }
                _ => {}
            }
            if cells.len() < 2 {
                return Err(DatasetError::TooFewCells { origin: o(), line });
            }
            let (feat_cells, label_cell) = cells.split_at(cells.len() - 1);
            let mut feats = Vec::with_capacity(feat_cells.len());
            for (j, c) in feat_cells.iter().enumerate() {
                match c.parse::<f32>() {
                    Ok(v) if v.is_finite() => feats.push(v),
                    _ => {
                        return Err(DatasetError::NonNumeric {
                            origin: o(),
                            line,
                            column: j + 1,
                            cell: (*c).to_string(),
                        });
                    }
                }
            }
            let label: i64 = label_cell[0].parse().map_err(|_| DatasetError::BadLabel {
                origin: o(),
                line,
                cell: label_cell[0].to_string(),
            })?;
            rows.push((feats, label));
        }
        Ok(rows)
    }

    fn parse(text: &str, origin: &str, scaling: Scaling) -> Result<Self, DatasetError> {
        let o = || origin.to_string();
        let rows = Self::parse_rows(text, origin)?;
        if rows.is_empty() {
            return Err(DatasetError::Empty { origin: o() });
        }
        let mut classes: BTreeMap<i64, usize> = BTreeMap::new();
        for (_, l) in &rows {
            classes.insert(*l, 0);
        }
        if classes.len() < 2 {
            return Err(DatasetError::SingleClass { origin: o(), label: rows[0].1 });
        }
        for (i, v) in classes.values_mut().enumerate() {
            *v = i;
        }
        let features = rows[0].0.len();
        let n_test = rows.len().div_ceil(5);
        let n_train = rows.len() - n_test;
        // Two classes need two rows, and two rows leave one for training.
        debug_assert!(n_train > 0);
        // x' = (x − offset) / divisor per feature, computed in f64.
        let (offset, divisor) = match scaling {
            Scaling::Constant(c) => (vec![0.0f64; features], vec![f64::from(c); features]),
            Scaling::Standardise => {
                let train = || rows.iter().enumerate().filter(|(i, _)| i % 5 != 0).map(|(_, (f, _))| f);
                let mut mean = vec![0.0f64; features];
                for f in train() {
                    for (j, &v) in f.iter().enumerate() {
                        mean[j] += f64::from(v);
                    }
                }
                mean.iter_mut().for_each(|m| *m /= n_train as f64);
                let mut var = vec![0.0f64; features];
                for f in train() {
                    for (j, &v) in f.iter().enumerate() {
                        var[j] += (f64::from(v) - mean[j]).powi(2);
                    }
                }
                (mean, var.into_iter().map(|v| (v / n_train as f64).sqrt()).collect())
            }
        };
        let scale = |j: usize, v: f32| {
            if divisor[j] > 0.0 { ((f64::from(v) - offset[j]) / divisor[j]) as f32 } else { 0.0 }
        };
        let mut train = Split { x: Vec::with_capacity(n_train * features), y: Vec::with_capacity(n_train) };
        let mut test = Split { x: Vec::with_capacity(n_test * features), y: Vec::with_capacity(n_test) };
        for (i, (f, l)) in rows.iter().enumerate() {
            let s = if i % 5 == 0 { &mut test } else { &mut train };
            s.x.extend(f.iter().enumerate().map(|(j, &v)| scale(j, v)));
            s.y.push(classes[l]);
        }
        Ok(Self {
            name: origin.to_string(),
            features,
            classes: classes.len(),
            labels: classes.keys().copied().collect(),
            train,
            test,
        })
    }
}

fn gunzip(bytes: &[u8], origin: &str) -> Result<String, DatasetError> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .map_err(|e| DatasetError::Encoding { origin: origin.to_string(), message: e.to_string() })?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_loads_and_splits() {
        let d = Dataset::digits().unwrap();
        assert_eq!((d.features, d.classes, d.train.len(), d.test.len()), (64, 10, 1437, 360));
        assert!(d.train.x.iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert_eq!(d.labels, (0..10).collect::<Vec<i64>>());
        // The first sample (a 0) is in the test set.
        assert_eq!(d.test.y[0], 0);
    }

    #[test]
    fn csv_with_header_and_labels_remapped() {
        let text = "a,b,label\n1,2,5\n3,4,7\n5,6,5\n7,8,7\n9,10,7\n11,12,5\n";
        let d = Dataset::from_csv_str(text, "t.csv").unwrap();
        assert_eq!((d.features, d.classes, d.train.len(), d.test.len()), (2, 2, 4, 2));
        assert_eq!(d.labels, vec![5, 7]);
        // Rows 0 and 5 are the test set, both labelled 5 (class 0).
        assert_eq!(d.test.y, vec![0, 0]);
        assert_eq!(d.train.y, vec![1, 0, 1, 1]);
        // Standardised over the training rows (3, 5, 7, 9: mean 6, std √5).
        assert!((d.test.x[0] - (1.0 - 6.0) / 5f32.sqrt()).abs() < 1e-6);
        assert!((d.train.x[0] - (3.0 - 6.0) / 5f32.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn byte_order_mark_and_crlf_are_accepted() {
        let d = Dataset::from_csv_str("\u{feff}1,2,0\r\n3,4,1\r\n5,6,0\r\n", "bom.csv").unwrap();
        assert_eq!((d.train.len(), d.test.len(), d.classes), (2, 1, 2));
    }

    #[test]
    fn errors_name_the_line() {
        let e = Dataset::from_csv_str("1,2,3,0\n4,5\n7,x,9,1\n", "bad.csv").unwrap_err();
        assert!(matches!(e, DatasetError::Ragged { line: 2, expected: 4, found: 2, .. }), "{e}");
        assert!(e.to_string().starts_with("bad.csv:2:"), "{e}");
        let e = Dataset::from_csv_str("1,2,0\n7,x,1\n", "bad.csv").unwrap_err();
        assert!(matches!(e, DatasetError::NonNumeric { line: 2, column: 2, .. }), "{e}");
        let e = Dataset::from_csv_str("1,2,0\n7,nan,1\n", "bad.csv").unwrap_err();
        assert!(matches!(e, DatasetError::NonNumeric { line: 2, .. }), "{e}");
        let e = Dataset::from_csv_str("1,2,0\n7,8,1.5\n", "bad.csv").unwrap_err();
        assert!(matches!(e, DatasetError::BadLabel { line: 2, .. }), "{e}");
        let e = Dataset::from_csv_str("1,2,3\n4,5,3\n", "one.csv").unwrap_err();
        assert!(matches!(e, DatasetError::SingleClass { label: 3, .. }), "{e}");
        let e = Dataset::from_csv_str("x,y\n", "h.csv").unwrap_err();
        assert!(matches!(e, DatasetError::Empty { .. }), "{e}");
        let e = Dataset::from_csv_str("1\n2\n", "h.csv").unwrap_err();
        assert!(matches!(e, DatasetError::TooFewCells { line: 1, .. }), "{e}");
        let d = Dataset::from_csv_str("1,0\n2,1\n", "two.csv").unwrap();
        assert_eq!((d.train.len(), d.test.len()), (1, 1));
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let e = Dataset::from_path(std::path::Path::new("/nonexistent/x.csv")).unwrap_err();
        assert!(matches!(e, DatasetError::Io { .. }));
    }
}
