//! Saturn namesrv crate (filled in by its issue).
