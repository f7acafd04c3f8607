//! The precedence table: flag > environment > config file > profile default > built-in default.

use super::file::parse;
use super::resolve::{Locations, Overrides, Settings, Source};
use std::collections::HashMap;
use std::path::Path;

struct Case {
    name: &'static str,
    flags: Overrides,
    env: &'static [(&'static str, &'static str)],
    file: &'static str,
    port: (u16, Source),
    state_dir: &'static str,
    token: Option<&'static str>,
}

fn flags(profile: Option<&str>, dev: bool, port: Option<u16>, token: Option<&str>) -> Overrides {
    Overrides {
        profile: profile.map(str::to_string),
        dev,
        port,
        token: token.map(str::to_string),
        password: None,
        node: None,
    }
}

#[test]
fn precedence_table() {
    let cases = [
        Case {
            name: "nothing set",
            flags: flags(None, false, None, None),
            env: &[],
            file: "{}",
            port: (18789, Source::Default),
            state_dir: "/home/u/.openclaw",
            token: None,
        },
        Case {
            name: "--dev: dev state dir and port 19001",
            flags: flags(None, true, None, None),
            env: &[],
            file: "{}",
            port: (19001, Source::Profile("dev".into())),
            state_dir: "/home/u/.openclaw-dev",
            token: None,
        },
        Case {
            name: "profile from the environment, --dev agrees",
            flags: flags(None, true, None, None),
            env: &[("OPENCLAW_PROFILE", "dev")],
            file: "{}",
            port: (19001, Source::Profile("dev".into())),
            state_dir: "/home/u/.openclaw-dev",
            token: None,
        },
        Case {
            name: "a non-dev profile keeps the default port",
            flags: flags(Some("staging"), false, None, None),
            env: &[],
            file: "{}",
            port: (18789, Source::Default),
            state_dir: "/home/u/.openclaw-staging",
            token: None,
        },
        Case {
            name: "file beats the profile default",
            flags: flags(None, true, None, None),
            env: &[],
            file: r#"{gateway: {port: 19555, auth: {token: "file-token"}}}"#,
            port: (19555, Source::File),
            state_dir: "/home/u/.openclaw-dev",
            token: Some("file-token"),
        },
        Case {
            name: "environment beats the file (the seed's staging example)",
            flags: flags(None, false, None, None),
            env: &[
                ("OPENCLAW_PROFILE", "staging"),
                ("OPENCLAW_STATE_DIR", "~/.openclaw-staging"),
                ("OPENCLAW_GATEWAY_PORT", "18800"),
                ("OPENCLAW_GATEWAY_TOKEN", "env-token"),
            ],
            file: r#"{gateway: {port: 19555, auth: {token: "file-token"}}}"#,
            port: (18800, Source::Env("OPENCLAW_GATEWAY_PORT")),
            state_dir: "/home/u/.openclaw-staging",
            token: Some("env-token"),
        },
        Case {
            name: "flags beat everything",
            flags: flags(Some("prod"), false, Some(20000), Some("flag-token")),
            env: &[
                ("OPENCLAW_PROFILE", "staging"),
                ("OPENCLAW_GATEWAY_PORT", "18800"),
                ("OPENCLAW_GATEWAY_TOKEN", "env-token"),
            ],
            file: r#"{gateway: {port: 19555, auth: {token: "file-token"}}}"#,
            port: (20000, Source::Flag("--port")),
            state_dir: "/home/u/.openclaw-prod",
            token: Some("flag-token"),
        },
        Case {
            name: "an explicit state dir is not overridden by the profile",
            flags: flags(Some("dev"), false, None, None),
            env: &[("OPENCLAW_STATE_DIR", "/srv/oc")],
            file: "{}",
            port: (19001, Source::Profile("dev".into())),
            state_dir: "/srv/oc",
            token: None,
        },
    ];
    for case in cases {
        let env: HashMap<&str, &str> = case.env.iter().copied().collect();
        let lookup = |k: &str| env.get(k).map(|v| v.to_string());
        let home = Path::new("/home/u");
        let locations = Locations::resolve(&case.flags, &lookup, home).unwrap();
        let s = Settings::resolve(
            &case.flags,
            &lookup,
            home,
            locations,
            parse(case.file).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!((s.port.value, s.port.source), case.port, "{}", case.name);
        assert_eq!(
            s.locations.state_dir.value,
            Path::new(case.state_dir),
            "{}",
            case.name
        );
        assert_eq!(
            s.locations.config_path.value,
            Path::new(case.state_dir).join("openclaw.json"),
            "{}",
            case.name
        );
        assert_eq!(s.token.value.as_deref(), case.token, "{}", case.name);
    }
}

#[test]
fn contradictions_and_bad_values_are_errors() {
    let home = Path::new("/home/u");
    let none = |_: &str| None;
    let e = Locations::resolve(&flags(Some("prod"), true, None, None), &none, home).unwrap_err();
    assert!(e.contains("--dev"), "{e}");
    let env = |k: &str| (k == "OPENCLAW_GATEWAY_PORT").then(|| "80x".to_string());
    let o = Overrides::default();
    let l = Locations::resolve(&o, &env, home).unwrap();
    let e = Settings::resolve(&o, &env, home, l, parse("{}").unwrap()).unwrap_err();
    assert!(e.contains("OPENCLAW_GATEWAY_PORT"), "{e}");
    let l = Locations::resolve(&o, &none, home).unwrap();
    let s = Settings::resolve(
        &o,
        &none,
        home,
        l,
        parse(r#"{gateway: {bind: "0.0.0.0"}}"#).unwrap(),
    )
    .unwrap();
    let e = s.check_exposure().unwrap_err();
    assert!(e.contains("no token"), "{e}");
}

/// `gateway.auth` and `gateway.trustedProxies`: the mode that follows from
/// the secrets, where a password comes from, and mistakes named by key.
#[test]
fn auth_modes_and_their_mistakes() {
    use super::auth::AuthMode;
    let home = Path::new("/home/u");
    let resolve = |file: &str, env: &[(&str, &str)]| {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |k: &str| env.get(k).cloned();
        let o = Overrides::default();
        let l = Locations::resolve(&o, &lookup, home).unwrap();
        Settings::resolve(&o, &lookup, home, l, parse(file).unwrap())
    };
    let s = resolve("{}", &[]).unwrap();
    assert_eq!(s.auth.mode, AuthMode::None);
    let s = resolve(
        r#"{gateway: {auth: {token: "t"}}}"#,
        &[("OPENCLAW_GATEWAY_PASSWORD", " pw ")],
    )
    .unwrap();
    assert_eq!(
        s.auth.mode,
        AuthMode::Password,
        "a password wins over a token"
    );
    assert_eq!(
        (s.password.value.as_deref(), s.password.source),
        (Some("pw"), Source::Env("OPENCLAW_GATEWAY_PASSWORD"))
    );
    let s = resolve(
        r#"{gateway: {trustedProxies: ["10.0.0.0/8", "::1"], allowRealIpFallback: true,
            auth: {token: "t", rateLimit: {maxAttempts: 3, windowMs: 1000, lockoutMs: 2000}}}}"#,
        &[],
    )
    .unwrap();
    assert_eq!(s.auth.mode, AuthMode::Token);
    assert_eq!(s.ingress.trusted_proxies.len(), 2);
    assert!(s.ingress.allow_real_ip_fallback);
    assert_eq!(s.auth.rate_limit.max_attempts, 3);
    assert_eq!(s.auth.rate_limit.lockout, std::time::Duration::from_secs(2));
    for (file, says) in [
        (
            r#"{gateway: {auth: {mode: "token"}}}"#,
            "no token was configured",
        ),
        (
            r#"{gateway: {auth: {mode: "password", token: "t"}}}"#,
            "no password was configured",
        ),
        (
            r#"{gateway: {auth: {password: ""}}}"#,
            "gateway.auth.password",
        ),
        (
            r#"{gateway: {trustedProxies: ["10.0.0.0/8", "proxy.local"]}}"#,
            "gateway.trustedProxies[1]",
        ),
        (
            r#"{gateway: {auth: {mode: "trusted-proxy", trustedProxy: {userHeader: "X-User"}}}}"#,
            "needs gateway.trustedProxies",
        ),
        (
            r#"{gateway: {trustedProxies: ["10.0.0.1"], auth: {mode: "trusted-proxy"}}}"#,
            "userHeader",
        ),
        (
            r#"{gateway: {trustedProxies: ["10.0.0.1"], auth: {mode: "trusted-proxy", token: "t", trustedProxy: {userHeader: "X-User"}}}}"#,
            "mutually exclusive",
        ),
        (
            r#"{gateway: {auth: {token: "t", rateLimit: {maxAttempts: 0}}}}"#,
            "maxAttempts",
        ),
    ] {
        let e = resolve(file, &[]).unwrap_err();
        assert!(
            e.contains(says) && e.contains("openclaw.json"),
            "{file}: {e}"
        );
    }
    let e = parse(r#"{gateway: {auth: {mode: "oauth"}}}"#).unwrap_err();
    assert!(e.contains("mode"), "{e}");
}
