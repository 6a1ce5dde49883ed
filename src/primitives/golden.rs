//! Golden vectors (placeholder while values are computed).
