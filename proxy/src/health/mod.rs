//! Server health. Passive: nginx's `max_fails`/`fail_timeout` accounting of
//! real requests (this file's sibling `passive`).

mod passive;

pub use passive::{release, Outcome};
