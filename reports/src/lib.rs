//! `nmsat-reports`: energy model, tables, charts and the HTML report.
//! Not built yet (see `docs/status.md`).
