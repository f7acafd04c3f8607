//! openclaw-edge: a Pingora reverse proxy with nginx's upstream semantics, in
//! front of OpenClaw gateway nodes.
//!
//! Data flows one way: [`config`] (YAML, checked with file:line; [`nginx`]
//! translates nginx configs into it, [`source`] picks which) ->
//! [`runtime`] (routing tables, upstream pools) -> [`proxy`] (the request path).
//! [`balance`] and [`health`] hold nginx's algorithms; [`admin`] serves metrics
//! and status and takes runtime changes (drain, down, weight), which
//! [`ctl`] sends from the shell; [`server`] wires it into Pingora.

pub mod access_log;
pub mod admin;
pub mod balance;
pub mod config;
pub mod ctl;
pub mod drain;
pub mod fdlimit;
pub mod health;
pub mod http1;
pub mod leader;
pub mod logging;
pub mod nginx;
pub mod proxy;
pub mod realip;
pub mod reload;
pub mod routing;
pub mod runtime;
pub mod server;
pub mod source;
pub mod sticky;
pub mod tls;
pub mod vars;
