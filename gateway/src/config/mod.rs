//! Configuration: the JSON5 file (`file`), durations (`duration`), the
//! precedence of flags, environment, file and profiles (`resolve`), and how
//! clients authenticate (`auth`).

pub mod auth;
pub mod duration;
pub mod file;
pub mod resolve;

pub use resolve::{
    AgentSpec, JobSpec, Limits, Locations, Overrides, SessionStorage, Settings, Source,
};

#[cfg(test)]
mod precedence_tests;
