//! Alert outputs (placeholder).
