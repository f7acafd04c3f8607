//! The admin listener: Prometheus `/metrics`, the `/status` page a person
//! reads (it polls the JSON), `/api/status` (the same as JSON), and the
//! runtime API (`/api/upstreams`, NGINX Plus style: drain, down, weight).

pub mod api;
mod meters;
mod metrics;
mod page;
mod service;
mod status;

pub use meters::{CodeCounters, RetryReason, UpstreamMeters};
pub use metrics::{metrics, Metrics};
pub use service::AdminApp;
