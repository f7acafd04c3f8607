//! The randomized HA chaos run (see `openclaw_e2e::chaos`): a short version
//! here (OPENCLAW_CHAOS_FAULTS, default 12) and the long one in `make chaos`
//! (120 faults). OPENCLAW_CHAOS_SEED replays a run; the seed is printed.

use openclaw_e2e::bounded;
use openclaw_e2e::chaos::run_and_check;
use std::time::Duration;

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn leadership_survives_random_faults() {
    let faults = env("OPENCLAW_CHAOS_FAULTS").unwrap_or(12) as usize;
    let seed = env("OPENCLAW_CHAOS_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    // Each fault takes at most about 15 s (a restart waits for /health).
    let limit = Duration::from_secs(120 + 15 * faults as u64);
    bounded(limit, run_and_check(faults, seed)).await;
}
