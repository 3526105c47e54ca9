//! Host benchmark support.
