//! `gateway.auth.mode: trusted-proxy`: an identity-aware proxy (oauth2-proxy,
//! Pomerium, a cloud IAP) authenticates the user and names them in a header.
//! The header is believed only from a trusted proxy's own socket address,
//! never from this machine's own interfaces (a local process could forge
//! it), and from loopback only when allowed.

use super::Attempt;
use crate::config::auth::TrustedProxyAuth;
use crate::config::Settings;
use crate::ingress::address::{is_loopback, unmapped};
use std::net::IpAddr;

/// The user the proxy names, or the official `trusted_proxy_*` reason.
pub fn user(
    rules: &TrustedProxyAuth,
    settings: &Settings,
    attempt: &Attempt<'_>,
) -> Result<String, String> {
    let peer = unmapped(attempt.peer);
    if !settings.ingress.trusted_proxies.contains(peer) {
        return Err("trusted_proxy_untrusted_source".into());
    }
    if is_loopback(peer) {
        if !rules.allow_loopback {
            return Err("trusted_proxy_loopback_source".into());
        }
    } else {
        match local_interface(peer) {
            Ok(false) => {}
            Ok(true) => return Err("trusted_proxy_local_interface_source".into()),
            Err(_) => return Err("trusted_proxy_local_interface_check_failed".into()),
        }
    }
    let header = |name: &str| {
        attempt
            .headers
            .get(name.to_lowercase())
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    if let Some(missing) = rules.required_headers.iter().find(|h| header(h).is_none()) {
        return Err(format!("trusted_proxy_missing_header_{missing}"));
    }
    let user = header(&rules.user_header).ok_or("trusted_proxy_user_missing")?;
    if !rules.allow_users.is_empty() && !rules.allow_users.iter().any(|u| u == user) {
        return Err("trusted_proxy_user_not_allowed".into());
    }
    Ok(user.to_string())
}

/// Whether `ip` is an address of one of this machine's interfaces.
fn local_interface(ip: IpAddr) -> std::io::Result<bool> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list`, which is freed below and read only
    // while it lives.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut found = false;
    let mut cursor = list;
    while !cursor.is_null() {
        // SAFETY: a node of the list getifaddrs made.
        let entry = unsafe { &*cursor };
        if !entry.ifa_addr.is_null() {
            // SAFETY: ifa_addr points at a sockaddr of the family it names.
            let addr = unsafe {
                match i32::from((*entry.ifa_addr).sa_family) {
                    libc::AF_INET => {
                        let sin = &*(entry.ifa_addr as *const libc::sockaddr_in);
                        Some(IpAddr::from(
                            u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                        ))
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(entry.ifa_addr as *const libc::sockaddr_in6);
                        Some(IpAddr::from(sin6.sin6_addr.s6_addr))
                    }
                    _ => None,
                }
            };
            found |= addr.map(unmapped) == Some(ip);
        }
        cursor = entry.ifa_next;
    }
    // SAFETY: the list getifaddrs made, freed once.
    unsafe { libc::freeifaddrs(list) };
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_this_machines_own_addresses() {
        assert!(local_interface("127.0.0.1".parse().unwrap()).unwrap());
        assert!(!local_interface("203.0.113.250".parse().unwrap()).unwrap());
    }
}
