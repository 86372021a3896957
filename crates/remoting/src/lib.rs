//! Saturn remoting crate (filled in by its issue).
