//! The admin listener: Prometheus `/metrics`, the `/status` page a person
//! reads, and `/api/status` (the same as JSON).

mod meters;
mod metrics;
mod service;
mod status;

pub use meters::{CodeCounters, RetryReason, UpstreamMeters};
pub use metrics::{metrics, Metrics};
pub use service::AdminApp;
