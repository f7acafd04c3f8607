//! Server health. Passive: nginx's `max_fails`/`fail_timeout` accounting of
//! real requests. Active: nginx_upstream_check_module's periodic checks.
//! Both feed the one state per server the balancers read.

mod active;
mod history;
mod passive;
mod probe;

pub use active::{apply, CheckPlan, HealthChecker};
pub use history::{unix_ms, History, LastCheck};
pub use passive::{forget_failures, release, Outcome};
pub use probe::{Probe, Verdict};
