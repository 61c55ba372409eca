//! Tests of exploration on the small spec.
