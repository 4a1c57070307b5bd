//! Image configuration checks.
