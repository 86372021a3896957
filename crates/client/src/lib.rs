//! Saturn client crate (filled in by its issue).
