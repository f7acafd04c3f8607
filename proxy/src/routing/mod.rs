//! Request routing as nginx does it: listener -> virtual server by `Host`
//! (exact, `*.suffix`, `prefix.*`, regex, then the default server) ->
//! location by path (`=` exact, longest prefix, `^~` stops, regexes in order,
//! else the longest prefix).

mod location;
mod server_name;
pub mod uri;

pub use location::{Found, LocationPattern, LocationTable};
pub use server_name::{NamePattern, NameTable};
