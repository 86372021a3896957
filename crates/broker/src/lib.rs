//! Saturn broker crate (filled in by its issue).
