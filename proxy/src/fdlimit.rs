//! The open-file limit: every client connection and every upstream
//! connection is a descriptor, so a WebSocket tunnel takes two. The soft
//! limit (often 1,024) would cap the edge at a few hundred tunnels, so the
//! edge raises it to the hard limit at start and says how many tunnels fit.

/// Descriptors kept aside for listeners, logs, health checks and the like.
const RESERVED: u64 = 256;

/// Tunnels the edge is sized for; fewer fitting is worth a warning.
pub const TARGET_TUNNELS: u64 = 10_000;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; logs the result, and
/// a warning when fewer than [`TARGET_TUNNELS`] tunnels fit.
pub fn raise() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        tracing::warn!(
            "cannot read the open-file limit: {}",
            std::io::Error::last_os_error()
        );
        return;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = lim.rlim_max;
        } else {
            tracing::warn!(
                "cannot raise the open-file limit from {} to {}: {}",
                lim.rlim_cur,
                lim.rlim_max,
                std::io::Error::last_os_error()
            );
        }
    }
    let limit = lim.rlim_cur;
    let tunnels = tunnels_fitting(limit);
    if tunnels < TARGET_TUNNELS {
        tracing::warn!(
            open_files = limit,
            "the open-file limit allows about {tunnels} WebSocket tunnels (two descriptors each), \
             fewer than {TARGET_TUNNELS}; raise the hard limit (ulimit -Hn, LimitNOFILE=) to at least {}",
            TARGET_TUNNELS * 2 + RESERVED
        );
    } else {
        tracing::info!(open_files = limit, tunnels, "open-file limit");
    }
}

/// Tunnels that fit in `limit` descriptors.
pub fn tunnels_fitting(limit: u64) -> u64 {
    limit.saturating_sub(RESERVED) / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_descriptors_per_tunnel_after_the_reserve() {
        assert_eq!(tunnels_fitting(1024), 384);
        assert_eq!(tunnels_fitting(20_256), 10_000);
        assert_eq!(tunnels_fitting(10), 0);
    }
}
