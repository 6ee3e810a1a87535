//! The Python extension module `relive._relive` (feature `python`).
