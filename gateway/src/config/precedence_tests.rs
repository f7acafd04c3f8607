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
