//! The admin listener: Prometheus `/metrics`, the `/status` page a person
//! reads, and `/api/status` (the same as JSON).

mod metrics;
mod service;
mod status;

pub use metrics::{metrics, CodeCounters, Metrics};
pub use service::AdminApp;
