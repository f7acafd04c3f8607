//! Shared harness for the end-to-end tests.
//!
//! Every test starts real things on loopback: the built `openclaw-edge`
//! binary, in-process backends, and the real nginx as an oracle. The harness
//! exists so that each test reads as its scenario, while the parts that make
//! such tests flaky or leaky (picking ports, waiting for readiness, killing
//! children, showing their logs on failure) are written once, here.
//!
//! | module | purpose |
//! |---|---|
//! | [`ports`] | loopback ports for listeners of child processes |
//! | [`wait`] | polling with a deadline; a time bound for whole tests |
//! | [`process`] | child processes killed on drop, logs shown on failure |
//! | [`config`] | upstreams and edge configs, rendered as YAML and as nginx |
//! | [`edge`] | running the edge: in the foreground, or to its exit (`-t`) |
//! | [`nginx`] | running the real nginx with the same upstream block, or any http-context text |
//! | [`nginx_conf`] | the edge on nginx configs, `-t` and `convert`; tables of answers compared with nginx's |
//! | [`backend`] | in-process HTTP + WebSocket backends that report what they saw (bodies too) |
//! | [`raw_backend`] | raw TCP backends that frame requests themselves (strict RFC 9112 or lenient) and record every one |
//! | [`client`] | a small HTTP/1.1 client that can pick its source address; raw connections driven by hand |
//! | [`ws`] | a WebSocket client |
//! | [`rawtunnel`] | raw 101 backends and clients: bytes after the handshake, for tunnel tests and benches |
//! | [`metrics`] | reading the edge's Prometheus `/metrics` |
//! | [`runtime_api`] | the edge's runtime API (`/api/upstreams`) and `openclaw-edge ctl` |
//! | [`chromium`] | a headless Chromium over the DevTools protocol: open a page, evaluate, screenshot |
//! | [`promtool`] | Prometheus's `promtool`: the served metrics and the alert rules judged |
//! | [`prometheus`] | a real Prometheus server scraping the test's processes, evaluating the alert rules; its HTTP API |
//! | [`gateway`] | running the `openclaw` gateway node with a config written for the test; its CLI |
//! | [`protocol`] | an OpenClaw protocol v4 client: raw frames, `hello`, `call`, events |
//! | [`chat_attempt`] | one client attempt (connect, hello, chat.send) that reports failures instead of panicking |
//! | [`fronts`] | proxies in front of a fixed server list for failover benches: the edge, HAProxy, nginx |
//! | [`chaos`] | randomized HA faults and the invariant checker of the history |
//! | [`ha`] | HA clusters: nodes sharing a Redis lease, who holds it, recorded job runs |
//! | [`redis`] | a private redis-server that can be killed and started again on its port |
//! | [`netns`] | network namespaces joined by a veth pair, deleted on drop; reaching into one |
//! | [`proxied`] | gateways (ours or the official) behind our edge or nginx on one host, clients on another |

pub mod backend;
pub mod certs;
pub mod chaos;
pub mod chat_attempt;
pub mod chromium;
pub mod client;
pub mod config;
pub mod edge;
pub mod fronts;
pub mod gateway;
pub mod ha;
pub mod metrics;
pub mod netns;
pub mod nginx;
pub mod nginx_conf;
pub mod ports;
pub mod process;
pub mod prometheus;
pub mod promtool;
pub mod protocol;
pub mod proxied;
pub mod raw_backend;
pub mod rawtunnel;
pub mod redis;
pub mod runtime_api;
pub mod wait;
pub mod ws;

pub use backend::{Backend, Mode};
pub use client::{Request, Response};
pub use config::{EdgeConfig, Server, Upstream};
pub use edge::Edge;
pub use nginx::Nginx;
pub use wait::bounded;
pub mod lifecycle;
