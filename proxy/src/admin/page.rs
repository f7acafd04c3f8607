//! The `/status` page: one self-contained HTML document (inline CSS and
//! JavaScript, no external assets) that polls `/api/status` and redraws
//! itself in place, so a person watching sees servers change state without
//! reloading. The page source lives beside this file as `status.html`.
//!
//! Hooks for tests and tools: every server row carries `data-upstream`,
//! `data-server` and `data-state`, and `<body data-polls>` counts the
//! answers drawn so far.

/// The page, served as it is (it holds no data; the data comes from the JSON).
pub const PAGE: &str = include_str!("status.html");
