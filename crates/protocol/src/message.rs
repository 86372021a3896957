//! The stored message record and everything inside it (in progress).
