//! Saturn store crate (filled in by its issue).
