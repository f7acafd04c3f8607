//! nginx variables (`$host`, `$remote_addr`, `$proxy_add_x_forwarded_for` ...)
//! in header values and hash keys.
//!
//! A template is parsed once when the config loads into literal and variable
//! parts, so the request path only concatenates; an unknown variable is a
//! config error, never an empty string at run time.

mod map;
mod template;

pub use map::MapTable;
pub use template::{host_of, RequestVars, Template, Var};
