//! sluice-engine: see DESIGN.md. Built by a later issue; the workspace reserves its place and crate boundary.
