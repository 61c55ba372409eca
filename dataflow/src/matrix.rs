//! A small row-major matrix, the common currency of N:M formats, the
//! reference training engine and the simulator's datapath.

use crate::error::ShapeError;

/// A dense row-major `rows × cols` matrix.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Matrix<T> {
    rows: usize,
    cols: usize,
    data: Vec<T>,
}

impl<T> Matrix<T> {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row-major elements.
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// Mutable row-major elements.
    pub fn data_mut(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// Consumes the matrix into its row-major elements.
    pub fn into_vec(self) -> Vec<T> {
        self.data
    }

    /// One row as a slice.
    pub fn row(&self, r: usize) -> &[T] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }
}

impl<T: Copy> Matrix<T> {
    /// A matrix with every element `v`.
    pub fn filled(rows: usize, cols: usize, v: T) -> Self {
        Self { rows, cols, data: vec![v; rows * cols] }
    }

    /// Wraps row-major `data`; fails when its length is not `rows·cols`.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<T>) -> Result<Self, ShapeError> {
        if data.len() != rows * cols {
            return Err(ShapeError { rows, cols, len: data.len() });
        }
        Ok(Self { rows, cols, data })
    }

    /// Builds a matrix from a function of (row, col).
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> T) -> Self {
        let mut data = Vec::with_capacity(rows * cols);
        for r in 0..rows {
            for c in 0..cols {
                data.push(f(r, c));
            }
        }
        Self { rows, cols, data }
    }

    /// Element at (r, c). Panics when out of range (a programming error).
    #[inline]
    pub fn get(&self, r: usize, c: usize) -> T {
        assert!(r < self.rows && c < self.cols, "index ({r},{c}) outside {}x{}", self.rows, self.cols);
        self.data[r * self.cols + c]
    }

    /// Sets the element at (r, c).
    #[inline]
    pub fn set(&mut self, r: usize, c: usize, v: T) {
        assert!(r < self.rows && c < self.cols, "index ({r},{c}) outside {}x{}", self.rows, self.cols);
        self.data[r * self.cols + c] = v;
    }

    /// The transpose.
    pub fn transpose(&self) -> Self {
        Self::from_fn(self.cols, self.rows, |r, c| self.get(c, r))
    }

    /// Applies `f` to every element.
    pub fn map<U: Copy>(&self, f: impl FnMut(T) -> U) -> Matrix<U> {
        Matrix { rows: self.rows, cols: self.cols, data: self.data.iter().copied().map(f).collect() }
    }
}
