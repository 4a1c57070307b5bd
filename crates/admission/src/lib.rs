//! mamori admission webhook server (work in progress).
