//! Property and fuzz tests for the nginx-config reader (`nginx::parse_str`,
//! `nginx::load_str`).
//!
//! Why: an operator points `-c` (or `convert`, or a HUP reload) at whatever
//! nginx.conf they have, half-edited ones included. Whatever the text, the
//! reader must answer with errors that say `file:line` (as `nginx -t` does),
//! never panic, and whatever it converts must be a YAML config the edge
//! accepts on its own. Hand-written cases cannot cover a lexer that is a
//! transcription of `ngx_conf_read_token`, so over a million generated inputs
//! are checked: syntax soup, mutations of realistic configs, and configs
//! generated from a small grammar (these also check that what is written
//! parses back to the same directives, on the same lines). Every parse is
//! also compared with [`reference`], a second transcription of nginx's lexer
//! kept next to the C: same directives, same lines, same first error. The
//! deterministic tests at the end pin the lexer's edge cases to nginx's own
//! behaviour, and check include, include loops and deep nesting.
//!
//! Case counts are set per test below (1,000,000 in all); run in release mode
//! (`cargo test --release --test nginx_fuzz`), where the suite takes about
//! 40 s on two cores. Nothing leaves the machine: inputs whose conversion
//! would resolve a host name are only parsed (see `resolves_a_name`).
//! `PROPTEST_RNG_SEED` replays a run.

use openclaw_edge::config::{self, ConfigError};
use openclaw_edge::nginx::{self, Directive};
use proptest::prelude::*;
use proptest::sample::{select, Index};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

// ---------------------------------------------------------------------------
// The directory of the config under test, with files for `include` to find.
// ---------------------------------------------------------------------------

/// Files next to the fuzzed config, so `include` in random input finds
/// something: a valid fragment, a block fragment in a subdirectory, a file
/// with a syntax error and one that is not UTF-8.
const INCLUDABLE: &[(&str, &[u8])] = &[
    ("a.conf", b"server 127.0.0.1:18801 weight=2;\n"),
    (
        "sub/b.conf",
        b"location /b {\n    return 200 \"b\\n\";\n}\n",
    ),
    ("bad/c.conf", b"# broken on purpose\nlisten 8080\n}\n"),
    ("bad/d.conf", b"listen \xff\xfe;\n"),
];

struct Fixture {
    dir: PathBuf,
    /// The config's own name: `dir/nginx.conf` (never written to disk).
    path: String,
    /// Lines of each includable file, by canonical path.
    lines: HashMap<PathBuf, usize>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("nginx_fuzz");
        std::fs::create_dir_all(&dir).expect("fixture dir");
        let dir = dir.canonicalize().expect("canonical fixture dir");
        let mut lines = HashMap::new();
        for (name, body) in INCLUDABLE {
            let file = dir.join(name);
            std::fs::create_dir_all(file.parent().unwrap()).expect("fixture subdir");
            std::fs::write(&file, body).expect("fixture file");
            lines.insert(file, String::from_utf8_lossy(body).lines().count());
        }
        let path = dir.join("nginx.conf").to_string_lossy().into_owned();
        Fixture { dir, path, lines }
    })
}

// ---------------------------------------------------------------------------
// The properties.
// ---------------------------------------------------------------------------

/// The largest line an error in `text` may name: nginx counts from 1 and
/// reports the end of file on the line after a final newline.
fn max_line(text: &str) -> usize {
    text.lines().count() + 1
}

/// An error or warning names the config's file (or a file it included, inside
/// the fixture directory) and a line that exists there.
fn check_position(e: &ConfigError, text: &str, what: &str) -> Result<(), TestCaseError> {
    let fx = fixture();
    let line = match e.line {
        Some(l) => l,
        None => return Err(TestCaseError::fail(format!("{what} without a line: {e:?}"))),
    };
    let bound = if e.file == fx.path {
        max_line(text)
    } else {
        let canonical = Path::new(&e.file).canonicalize().ok();
        match canonical.as_ref().and_then(|p| fx.lines.get(p)) {
            Some(n) => n + 1,
            None => {
                return Err(TestCaseError::fail(format!(
                    "{what} names file {:?}, which is neither the config ({:?}) nor a file it \
                     includes: {e:?}",
                    e.file, fx.path
                )))
            }
        }
    };
    prop_assert!(
        (1..=bound).contains(&line),
        "{what} on line {line}, outside 1..={bound} of {}: {e:?}",
        e.file
    );
    Ok(())
}

/// Every directive parse_str returns comes from the config or an included
/// file, on a line that exists there.
fn check_directives(ds: &[Directive], text: &str) -> Result<(), TestCaseError> {
    for d in ds {
        let at = ConfigError {
            file: d.file.clone(),
            line: Some(d.line),
            column: None,
            message: format!("directive {:?}", d.name),
        };
        check_position(&at, text, "a directive")?;
        if let Some(block) = &d.block {
            check_directives(block, text)?;
        }
    }
    Ok(())
}

/// parse_str: never panics; its errors say where.
fn check_parse(text: &str) -> Result<Option<Vec<Directive>>, TestCaseError> {
    let got = nginx::parse_str(&fixture().path, text);
    match &got {
        Ok(ds) => check_directives(ds, text)?,
        Err(errs) => {
            prop_assert!(!errs.0.is_empty(), "Err with no error in it");
            for e in &errs.0 {
                check_position(e, text, "a parse error")?;
            }
        }
    }
    check_against_reference(text, &got)?;
    Ok(got.ok())
}

/// parse_str reads what nginx reads: the same directives on the same lines,
/// or the same error on the same line, as [`reference`] (when no `include`
/// was read, which the reference does not expand).
fn check_against_reference(
    text: &str,
    got: &Result<Vec<Directive>, config::ConfigErrors>,
) -> Result<(), TestCaseError> {
    let (want, included) = reference::parse(text);
    if included {
        return Ok(());
    }
    match (got, want) {
        (Ok(ds), Ok(want)) => same_tree(ds, &want, text),
        (Err(errs), Err((line, message))) => {
            let e = &errs.0[0];
            prop_assert_eq!(
                e.line,
                Some(line),
                "nginx reports {:?} on line {}, parse_str: {:?}\n--- input ---\n{}",
                message,
                line,
                e,
                text
            );
            prop_assert!(
                e.message.starts_with(&message),
                "nginx reports {:?}, parse_str {:?}\n--- input ---\n{}",
                message,
                e.message,
                text
            );
            Ok(())
        }
        (Ok(ds), Err((line, message))) => Err(TestCaseError::fail(format!(
            "nginx refuses this ({message:?} on line {line}), parse_str reads {ds:?}\n\
             --- input ---\n{text}"
        ))),
        (Err(errs), Ok(_)) => Err(TestCaseError::fail(format!(
            "nginx reads this, parse_str refuses it: {errs}\n--- input ---\n{text}"
        ))),
    }
}

fn same_tree(got: &[Directive], want: &[reference::Dir], text: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        got.len(),
        want.len(),
        "directive count\n--- input ---\n{}",
        text
    );
    for (g, w) in got.iter().zip(want) {
        prop_assert_eq!(&g.name, &w.words[0], "name\n--- input ---\n{}", text);
        prop_assert_eq!(&g.args[..], &w.words[1..], "args\n--- input ---\n{}", text);
        prop_assert!(
            g.line == w.first_line || g.line == w.end_line,
            "{:?} read on line {}; nginx: first word on {}, terminator on {}\n--- input ---\n{}",
            g.name,
            g.line,
            w.first_line,
            w.end_line,
            text
        );
        match (&g.block, &w.block) {
            (None, None) => {}
            (Some(gb), Some(wb)) => same_tree(gb, wb, text)?,
            _ => prop_assert!(false, "{:?}: block or not\n--- input ---\n{}", g.name, text),
        }
    }
    Ok(())
}

/// A second, independent transcription of nginx's `ngx_conf_read_token` and
/// the block structure of `ngx_conf_parse` (src/core/ngx_conf_file.c), kept
/// as close to the C as Rust allows, as the oracle for parse_str.
mod reference {
    /// A directive: its words (name first), the line of its first word and
    /// of its `;` or `{`, and its block.
    #[derive(Debug)]
    pub struct Dir {
        pub words: Vec<String>,
        pub first_line: usize,
        pub end_line: usize,
        pub block: Option<Vec<Dir>>,
    }

    #[derive(PartialEq)]
    enum Rc {
        Ok,
        BlockStart,
        BlockDone,
        FileDone,
    }

    struct Cf<'a> {
        b: &'a [u8],
        pos: usize,
        line: usize,
        args: Vec<String>,
        first_line: usize,
        included: bool,
    }

    type Error = (usize, String);

    fn space(ch: u8) -> bool {
        matches!(ch, b' ' | b'\t' | b'\r' | b'\n')
    }

    /// The word's bytes with nginx's escapes applied.
    fn word(raw: &[u8]) -> String {
        let mut dst = Vec::with_capacity(raw.len());
        let mut src = 0;
        while src < raw.len() {
            if raw[src] == b'\\' {
                match raw.get(src + 1) {
                    Some(b'"' | b'\'' | b'\\') => src += 1,
                    Some(b't') => {
                        dst.push(b'\t');
                        src += 2;
                        continue;
                    }
                    Some(b'r') => {
                        dst.push(b'\r');
                        src += 2;
                        continue;
                    }
                    Some(b'n') => {
                        dst.push(b'\n');
                        src += 2;
                        continue;
                    }
                    _ => {}
                }
            }
            dst.push(raw[src]);
            src += 1;
        }
        String::from_utf8_lossy(&dst).into_owned()
    }

    fn unexpected(line: usize, ch: u8) -> Error {
        (line, format!("unexpected \"{}\"", char::from(ch)))
    }

    fn read_token(cf: &mut Cf) -> Result<Rc, Error> {
        let (mut need_space, mut last_space, mut sharp_comment) = (false, true, false);
        let (mut variable, mut quoted, mut s_quoted, mut d_quoted) = (false, false, false, false);
        cf.args.clear();
        let mut start = cf.pos;
        loop {
            if cf.pos >= cf.b.len() {
                if !cf.args.is_empty() || !last_space {
                    return Err((
                        cf.line,
                        "unexpected end of file, expecting \";\" or \"}\"".into(),
                    ));
                }
                return Ok(Rc::FileDone);
            }
            let ch = cf.b[cf.pos];
            cf.pos += 1;
            if ch == b'\n' {
                cf.line += 1;
                sharp_comment = false;
            }
            if sharp_comment {
                continue;
            }
            if quoted {
                quoted = false;
                continue;
            }
            if need_space {
                if space(ch) {
                    last_space = true;
                    need_space = false;
                    continue;
                }
                if ch == b';' {
                    return Ok(Rc::Ok);
                }
                if ch == b'{' {
                    return Ok(Rc::BlockStart);
                }
                if ch == b')' {
                    last_space = true;
                    need_space = false;
                } else {
                    return Err(unexpected(cf.line, ch));
                }
            }
            if last_space {
                start = cf.pos - 1;
                if space(ch) {
                    continue;
                }
                if cf.args.is_empty() {
                    cf.first_line = cf.line;
                }
                match ch {
                    b';' | b'{' => {
                        if cf.args.is_empty() {
                            return Err(unexpected(cf.line, ch));
                        }
                        return Ok(if ch == b'{' { Rc::BlockStart } else { Rc::Ok });
                    }
                    b'}' => {
                        if !cf.args.is_empty() {
                            return Err(unexpected(cf.line, ch));
                        }
                        return Ok(Rc::BlockDone);
                    }
                    b'#' => {
                        sharp_comment = true;
                        continue;
                    }
                    b'\\' => {
                        quoted = true;
                        last_space = false;
                        continue;
                    }
                    b'"' => {
                        start += 1;
                        d_quoted = true;
                        last_space = false;
                        continue;
                    }
                    b'\'' => {
                        start += 1;
                        s_quoted = true;
                        last_space = false;
                        continue;
                    }
                    b'$' => {
                        variable = true;
                        last_space = false;
                        continue;
                    }
                    _ => last_space = false,
                }
            } else {
                if ch == b'{' && variable {
                    continue;
                }
                variable = false;
                if ch == b'\\' {
                    quoted = true;
                    continue;
                }
                if ch == b'$' {
                    variable = true;
                    continue;
                }
                let mut found = false;
                if d_quoted {
                    if ch == b'"' {
                        d_quoted = false;
                        need_space = true;
                        found = true;
                    }
                } else if s_quoted {
                    if ch == b'\'' {
                        s_quoted = false;
                        need_space = true;
                        found = true;
                    }
                } else if space(ch) || ch == b';' || ch == b'{' {
                    last_space = true;
                    found = true;
                }
                if found {
                    let w = word(&cf.b[start..cf.pos - 1]);
                    cf.args.push(w);
                    if ch == b';' {
                        return Ok(Rc::Ok);
                    }
                    if ch == b'{' {
                        return Ok(Rc::BlockStart);
                    }
                }
            }
        }
    }

    fn parse_block(cf: &mut Cf, in_block: bool) -> Result<Vec<Dir>, Error> {
        let mut out = Vec::new();
        loop {
            let rc = read_token(cf)?;
            match rc {
                Rc::BlockDone if !in_block => return Err((cf.line, "unexpected \"}\"".into())),
                Rc::FileDone if in_block => {
                    return Err((cf.line, "unexpected end of file, expecting \"}\"".into()))
                }
                Rc::BlockDone | Rc::FileDone => return Ok(out),
                Rc::Ok | Rc::BlockStart => {}
            }
            let words = std::mem::take(&mut cf.args);
            let (first_line, end_line) = (cf.first_line, cf.line);
            let block = if rc == Rc::BlockStart {
                Some(parse_block(cf, true)?)
            } else {
                if words[0] == "include" {
                    // parse_str expands it; nothing to compare from here on.
                    cf.included = true;
                }
                None
            };
            out.push(Dir {
                words,
                first_line,
                end_line,
                block,
            });
        }
    }

    /// What nginx reads from `text`, and whether an `include` was read.
    pub fn parse(text: &str) -> (Result<Vec<Dir>, Error>, bool) {
        let mut cf = Cf {
            b: text.as_bytes(),
            pos: 0,
            line: 1,
            args: Vec::new(),
            first_line: 1,
            included: false,
        };
        let r = parse_block(&mut cf, false);
        (r, cf.included)
    }
}

/// load_str: never panics; errors and warnings say where; what it converts
/// loads as the edge's own YAML.
fn check_load(text: &str, strict: bool) -> Result<bool, TestCaseError> {
    match nginx::load_str(&fixture().path, text, strict) {
        Ok(t) => {
            for w in &t.warnings {
                check_position(w, text, "a warning")?;
            }
            if let Err(errs) = config::load_str("out.yaml", &t.yaml) {
                return Err(TestCaseError::fail(format!(
                    "load_str(strict={strict}) returned Ok, but its YAML does not load:\n\
                     {errs}\n--- YAML ---\n{}",
                    t.yaml
                )));
            }
            Ok(true)
        }
        Err(errs) => {
            prop_assert!(!errs.0.is_empty(), "Err with no error in it");
            for e in &errs.0 {
                check_position(e, text, "an error")?;
            }
            Ok(false)
        }
    }
}

/// Whether converting would look a name up: `listen NAME:PORT` is resolved
/// (as nginx does), and mutated input is full of names like `127.0s0.1`. The
/// test sends no DNS queries, so such inputs (a fraction of a percent) are
/// only parsed.
fn resolves_a_name(ds: &[Directive]) -> bool {
    ds.iter().any(|d| {
        let named = d.name == "listen"
            && d.args.first().is_some_and(|addr| {
                !matches!(config::parse_listen(addr), Ok(Some(_)))
                    && addr.rsplit_once(':').is_some_and(|(host, port)| {
                        port.parse::<u16>().is_ok() && host != "localhost"
                    })
            });
        named || d.block.as_deref().is_some_and(resolves_a_name)
    })
}

fn check_both(text: &str, strict: bool) -> Result<(), TestCaseError> {
    match check_parse(text)? {
        Some(ds) if resolves_a_name(&ds) => {}
        _ => {
            check_load(text, strict)?;
        }
    }
    Ok(())
}

// Cases per test. Each test runs on its own thread, in parallel; per case
// the generated configs cost the most (each one converted and its YAML
// loaded), soup the least.
const SOUP_CASES: u32 = 200_000;
const SOUP_IN_BLOCKS_CASES: u32 = 200_000;
/// Two tests of this many.
const MUTATED_CASES: u32 = 175_000;
const TYPED_CASES: u32 = 100_000;
const CLEAN_TYPED_CASES: u32 = 60_000;
const RANDOM_TREE_CASES: u32 = 90_000;
const _: () = assert!(
    SOUP_CASES
        + SOUP_IN_BLOCKS_CASES
        + 2 * MUTATED_CASES
        + TYPED_CASES
        + CLEAN_TYPED_CASES
        + RANDOM_TREE_CASES
        >= 1_000_000
);

fn cfg(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: 4096,
        max_shrink_time: 60_000,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// 1. Soup: random text biased toward nginx syntax.
// ---------------------------------------------------------------------------

/// Characters and fragments that steer the lexer (no `*`, `?` or `[` on their
/// own, so random input cannot glob outside the fixture directory).
const SYNTAX: &[&str] = &[
    "{", "}", ";", "\"", "'", "\\", "#", "$", " ", " ", " ", "\n", "\n", "\t", "\r\n", "\r", "${",
    "\\\"", "\\'", "\\\\", "\\n", ")", "(", "=", ":", "/", "~", "^~", "~*", ".", "\0",
];

/// Directive names and arguments the reader knows, plus include targets.
const WORDS: &[&str] = &[
    "server",
    "location",
    "upstream",
    "proxy_pass",
    "include",
    "listen",
    "map",
    "return",
    "http",
    "events",
    "server_name",
    "proxy_set_header",
    "least_conn",
    "ip_hash",
    "hash",
    "random",
    "keepalive",
    "check",
    "check_http_send",
    "check_http_expect_alive",
    "sticky",
    "cookie",
    "proxy_connect_timeout",
    "proxy_read_timeout",
    "proxy_next_upstream",
    "proxy_http_version",
    "default",
    "default_server",
    "worker_processes",
    "openclaw_gateway",
    "http://openclaw_gateway",
    "http://127.0.0.1:18789/x",
    "127.0.0.1:18789",
    "weight=3",
    "max_fails=3",
    "fail_timeout=30s",
    "backup",
    "down",
    "8080",
    "0.0.0.0:8080",
    "200",
    "301",
    "60s",
    "1h",
    "$host",
    "$remote_addr",
    "$http_upgrade",
    "$connection_upgrade",
    "upgrade",
    "close",
    "interval=5000",
    "rise=2",
    "type=http",
    "http_2xx",
    "expires=1h",
    "/",
    "/api",
    "a.conf",
    "sub/*.conf",
    "sub/b.conf",
    "bad/*.conf",
    "*.conf",
    "missing.conf",
    "sub",
    "x",
    "0",
    "-1",
    "99999999999999999999",
];

fn soup_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        5 => select(SYNTAX).prop_map(String::from),
        5 => select(WORDS).prop_map(String::from),
        1 => any::<char>().prop_map(String::from),
    ]
}

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(soup_piece(), 0..100).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(cfg(SOUP_CASES))]

    #[test]
    fn soup_is_answered_with_positions(text in soup(), strict in any::<bool>()) {
        check_both(&text, strict)?;
    }
}

proptest! {
    #![proptest_config(cfg(SOUP_IN_BLOCKS_CASES))]

    #[test]
    fn soup_wrapped_in_blocks_is_answered_with_positions(
        inner in soup(),
        server in any::<bool>(),
        strict in any::<bool>(),
    ) {
        // The same soup one and two levels down, where the translator looks.
        let text = if server {
            format!("http {{\n server {{\n  listen 8080;\n  location / {{\n{inner}\n  }}\n }}\n}}\n")
        } else {
            format!("upstream openclaw_gateway {{\n{inner}\n}}\nserver {{ listen 8080; }}\n")
        };
        check_both(&text, strict)?;
    }
}

// ---------------------------------------------------------------------------
// 2. Mutations of valid configs.
// ---------------------------------------------------------------------------

/// Realistic configs: the seed's blocks and a full nginx.conf. Servers are
/// addresses or `localhost`, not the seed's `gateway1.local`: `listen NAME:PORT`
/// is resolved (as nginx does), and mutations move tokens next to `listen`, so
/// other names would make the test send DNS queries.
const CORPUS: &[&str] = &[
    // The seed: least_conn with weights, WebSocket headers.
    r#"upstream openclaw_gateway {
    least_conn;
    server 127.0.0.1:18789 weight=3;
    server 127.0.0.2:18789 weight=2;
    server localhost:18791 weight=1;
}

server {
    listen 80;
    server_name gateway.example.com;

    location / {
        proxy_pass http://openclaw_gateway;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
    }
}
"#,
    // The seed's active health check (nginx_upstream_check_module).
    r#"upstream openclaw_gateway {
    server 127.0.0.1:18789 max_fails=3 fail_timeout=30s;
    server localhost:18790 max_fails=3 fail_timeout=30s;

    # 健康检查
    check interval=5000 rise=2 fall=3 timeout=1000 type=http;
    check_http_send "GET /health HTTP/1.0\r\n\r\n";
    check_http_expect_alive http_2xx http_3xx;
}

server {
    listen 8080;
    location / {
        proxy_pass http://openclaw_gateway;
    }
}
"#,
    // Sticky by client address.
    r#"# Nginx sticky sessions
upstream openclaw_gateway {
    ip_hash;  # by client IP
    server 127.0.0.1:18789;
    server localhost:18790;
}
server {
    listen 127.0.0.1:8080 default_server;
    location / { proxy_pass http://openclaw_gateway; }
}
"#,
    // Sticky by cookie.
    r#"upstream openclaw_gateway {
    server 127.0.0.1:18789;
    server localhost:18790;
    sticky cookie openclaw_route expires=1h;
}
server {
    listen 8080;
    server_name _;
    location / {
        proxy_pass http://openclaw_gateway;
        proxy_set_header Host $host;
    }
}
"#,
    // A whole nginx.conf.
    r#"worker_processes auto;
error_log /var/log/nginx/error.log warn;
pid /run/nginx.pid;

events {
    worker_connections 1024;
}

http {
    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      close;
    }

    upstream openclaw_gateway {
        least_conn;
        server 127.0.0.1:18789 weight=3 max_fails=3 fail_timeout=30s;
        server 127.0.0.1:18790 weight=2;
        server 127.0.0.1:18791 backup;
        keepalive 32;
    }

    upstream static_pool {
        server 127.0.0.1:9000;
    }

    server {
        listen 80 default_server;
        server_name gateway.example.com *.example.com;

        location = /edge-health {
            return 200 "ok\n";
        }

        location ^~ /static/ {
            proxy_pass http://static_pool;
        }

        location ~* \.(png|jpg|css)$ {
            proxy_pass http://static_pool;
        }

        location ~ ^/api/v\d+/ {
            proxy_pass http://openclaw_gateway;
            proxy_connect_timeout 5s;
            proxy_read_timeout 300s;
        }

        location / {
            proxy_pass http://openclaw_gateway;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }
    }

    server {
        listen 8081;
        server_name ~^gw\d+\.example\.net$;
        include sub/*.conf;
        location / {
            return 301 https://gateway.example.com$request_uri;
        }
    }
}
"#,
    // Hashing, retries, timeouts.
    r#"upstream openclaw_gateway {
    hash $remote_addr consistent;
    server 127.0.0.1:18789 weight=2 max_conns=100;
    server 127.0.0.1:18790 down;
    include a.conf;
}

upstream random_pool {
    random two least_conn;
    server 127.0.0.1:18792;
    server 127.0.0.1:18793;
}

server {
    listen 0.0.0.0:8080;
    listen 127.0.0.1:8443;
    server_name localhost;

    location / {
        proxy_pass http://openclaw_gateway;
        proxy_next_upstream error timeout http_502;
        proxy_next_upstream_tries 3;
        proxy_next_upstream_timeout 10s;
        proxy_connect_timeout 500ms;
        proxy_read_timeout 1h;
    }

    location /random/ {
        proxy_pass http://random_pool/;
    }

    location /direct {
        proxy_pass http://127.0.0.1:18789;
    }
}
"#,
];

#[derive(Debug, Clone)]
enum Mutation {
    DeleteBytes(Index, usize),
    InsertPiece(Index, String),
    DuplicateBytes(Index, usize, Index),
    SwapBytes(Index, Index),
    DeleteToken(Index),
    DuplicateToken(Index, Index),
    SwapTokens(Index, Index),
    ReplaceToken(Index, String),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1..12usize).prop_map(|(i, n)| Mutation::DeleteBytes(i, n)),
        (any::<Index>(), soup_piece()).prop_map(|(i, s)| Mutation::InsertPiece(i, s)),
        (any::<Index>(), 1..24usize, any::<Index>())
            .prop_map(|(i, n, j)| Mutation::DuplicateBytes(i, n, j)),
        (any::<Index>(), any::<Index>()).prop_map(|(i, j)| Mutation::SwapBytes(i, j)),
        any::<Index>().prop_map(Mutation::DeleteToken),
        (any::<Index>(), any::<Index>()).prop_map(|(i, j)| Mutation::DuplicateToken(i, j)),
        (any::<Index>(), any::<Index>()).prop_map(|(i, j)| Mutation::SwapTokens(i, j)),
        (any::<Index>(), soup_piece()).prop_map(|(i, s)| Mutation::ReplaceToken(i, s)),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

/// The spans of `b` that are one token: a run of non-space bytes other than
/// `;{}`, or one of those three.
fn token_spans(b: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
        } else if matches!(b[i], b';' | b'{' | b'}') {
            spans.push((i, i + 1));
            i += 1;
        } else {
            let start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b';' | b'{' | b'}')
            {
                i += 1;
            }
            spans.push((start, i));
        }
    }
    spans
}

fn apply(base: &str, mutations: &[Mutation]) -> String {
    let mut b = base.as_bytes().to_vec();
    for m in mutations {
        // Positions in 0..=len (an insertion may go at the end).
        let at = |i: &Index, len: usize| i.index(len + 1);
        let spans = token_spans(&b);
        match m {
            Mutation::DeleteBytes(i, n) => {
                let s = at(i, b.len());
                let e = (s + n).min(b.len());
                b.drain(s..e);
            }
            Mutation::InsertPiece(i, piece) => {
                let s = at(i, b.len());
                b.splice(s..s, piece.bytes());
            }
            Mutation::DuplicateBytes(i, n, j) => {
                let s = at(i, b.len());
                let e = (s + n).min(b.len());
                let chunk = b[s..e].to_vec();
                let to = at(j, b.len());
                b.splice(to..to, chunk);
            }
            Mutation::SwapBytes(i, j) if !b.is_empty() => {
                let (x, y) = (i.index(b.len()), j.index(b.len()));
                b.swap(x, y);
            }
            Mutation::DeleteToken(i) if !spans.is_empty() => {
                let (s, e) = spans[i.index(spans.len())];
                b.drain(s..e);
            }
            Mutation::DuplicateToken(i, j) if !spans.is_empty() => {
                let (s, e) = spans[i.index(spans.len())];
                let mut chunk = b[s..e].to_vec();
                chunk.push(b' ');
                let to = spans[j.index(spans.len())].0;
                b.splice(to..to, chunk);
            }
            Mutation::SwapTokens(i, j) if !spans.is_empty() => {
                let (x, y) = (i.index(spans.len()), j.index(spans.len()));
                let (first, second) = (spans[x.min(y)], spans[x.max(y)]);
                if first != second {
                    let a = b[first.0..first.1].to_vec();
                    let c = b[second.0..second.1].to_vec();
                    b.splice(second.0..second.1, a);
                    b.splice(first.0..first.1, c);
                }
            }
            Mutation::ReplaceToken(i, piece) if !spans.is_empty() => {
                let (s, e) = spans[i.index(spans.len())];
                b.splice(s..e, piece.bytes());
            }
            Mutation::Truncate(i) => {
                let s = at(i, b.len());
                b.truncate(s);
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// A corpus config, mutated, with a few lines left out (1 in 30). Lines go
/// last, so shrinking can drop the lines that do not matter to a failure
/// without moving the mutations.
fn mutated() -> impl Strategy<Value = String> {
    (
        0..CORPUS.len(),
        prop::collection::vec(mutation(), 1..6),
        prop::collection::vec(prop::bool::weighted(0.97), 100),
    )
        .prop_map(|(i, ms, keep)| {
            let text = apply(CORPUS[i], &ms);
            let lines = text.split_inclusive('\n').enumerate();
            lines
                .filter(|(n, _)| keep.get(*n).copied().unwrap_or(true))
                .map(|(_, l)| l)
                .collect()
        })
}

proptest! {
    #![proptest_config(cfg(MUTATED_CASES))]

    #[test]
    fn mutated_configs_are_answered_with_positions(text in mutated(), strict in any::<bool>()) {
        check_both(&text, strict)?;
    }
}

proptest! {
    #![proptest_config(cfg(MUTATED_CASES))]

    #[test]
    fn mutated_configs_are_answered_with_positions_2(text in mutated(), strict in any::<bool>()) {
        check_both(&text, strict)?;
    }
}

// ---------------------------------------------------------------------------
// 3. Configs generated from a grammar.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    Bare,
    Double,
    Single,
}

/// One argument and how it is written.
#[derive(Debug, Clone)]
struct Arg {
    value: String,
    quote: Quote,
}

impl Arg {
    /// `value` written bare when nginx would read it back unchanged, else quoted.
    fn new(value: String, quote: Quote) -> Arg {
        let bare_ok = !value.is_empty()
            && !value.bytes().any(|c| {
                c.is_ascii_whitespace()
                    || matches!(c, b';' | b'{' | b'}' | b'"' | b'\'' | b'\\' | b'#')
            });
        let quote = if quote == Quote::Bare && !bare_ok {
            Quote::Double
        } else {
            quote
        };
        Arg { value, quote }
    }

    fn render(&self) -> String {
        let q = match self.quote {
            Quote::Bare => return self.value.clone(),
            Quote::Double => '"',
            Quote::Single => '\'',
        };
        let mut out = String::with_capacity(self.value.len() + 2);
        out.push(q);
        for c in self.value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c == q => {
                    out.push('\\');
                    out.push(c);
                }
                c => out.push(c),
            }
        }
        out.push(q);
        out
    }
}

/// What goes before a directive's line.
#[derive(Debug, Clone, Copy)]
enum Before {
    Nothing,
    BlankLine,
    Comment,
}

/// A directive as generated: what the reader must give back.
#[derive(Debug, Clone)]
struct Node {
    /// Written bare, or quoted when it must be (a map's `''`).
    name: Arg,
    args: Vec<Arg>,
    block: Option<Vec<Node>>,
    /// Each argument on its own line.
    split: bool,
    before: Before,
}

fn node(name: &str, args: Vec<Arg>, block: Option<Vec<Node>>) -> Node {
    Node {
        name: Arg::new(name.to_string(), Quote::Bare),
        args,
        block,
        split: false,
        before: Before::Nothing,
    }
}

/// A directive as rendered: the lines where it starts and ends.
#[derive(Debug)]
struct Expect {
    name: String,
    args: Vec<String>,
    first_line: usize,
    last_line: usize,
    block: Option<Vec<Expect>>,
}

struct Writer {
    text: String,
    line: usize,
}

impl Writer {
    fn push(&mut self, s: &str) {
        self.line += s.bytes().filter(|&c| c == b'\n').count();
        self.text.push_str(s);
    }
}

fn render_nodes(nodes: &[Node], depth: usize, w: &mut Writer) -> Vec<Expect> {
    let indent = "    ".repeat(depth);
    let mut out = Vec::new();
    for n in nodes {
        match n.before {
            Before::Nothing => {}
            Before::BlankLine => w.push("\n"),
            Before::Comment => w.push(&format!("{indent}# a note {{ ; }} \"' \\\n")),
        }
        w.push(&indent);
        let first_line = w.line;
        w.push(&n.name.render());
        for a in &n.args {
            w.push(if n.split { "\n  " } else { " " });
            w.push(&a.render());
        }
        let last_line = w.line;
        let block = match &n.block {
            None => {
                w.push(";\n");
                None
            }
            Some(body) => {
                w.push(" {\n");
                let inner = render_nodes(body, depth + 1, w);
                w.push(&indent);
                w.push("}\n");
                Some(inner)
            }
        };
        out.push(Expect {
            name: n.name.value.clone(),
            args: n.args.iter().map(|a| a.value.clone()).collect(),
            first_line,
            last_line,
            block,
        });
    }
    out
}

fn render(nodes: &[Node]) -> (String, Vec<Expect>) {
    let mut w = Writer {
        text: String::new(),
        line: 1,
    };
    let expect = render_nodes(nodes, 0, &mut w);
    (w.text, expect)
}

fn has_include(nodes: &[Node]) -> bool {
    nodes
        .iter()
        .any(|n| n.name.value == "include" || n.block.as_deref().is_some_and(has_include))
}

/// The directives read back are the ones written, on the line of their name
/// (or of their `;` / `{`, where nginx reports), from the config's file.
fn check_round_trip(got: &[Directive], want: &[Expect], path: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len(), "directive count differs");
    for (g, w) in got.iter().zip(want) {
        prop_assert_eq!(&g.name, &w.name);
        prop_assert_eq!(&g.args, &w.args, "args of {:?}", w.name);
        prop_assert!(
            g.line == w.first_line || g.line == w.last_line,
            "{:?} read on line {}, written on {}..={}",
            w.name,
            g.line,
            w.first_line,
            w.last_line
        );
        prop_assert_eq!(&g.file, path);
        match (&g.block, &w.block) {
            (None, None) => {}
            (Some(gb), Some(wb)) => check_round_trip(gb, wb, path)?,
            _ => prop_assert!(false, "{:?}: block and simple directive mixed up", w.name),
        }
    }
    Ok(())
}

fn check_generated(nodes: &[Node], strict: bool) -> Result<(), TestCaseError> {
    let (text, expect) = render(nodes);
    let parsed = check_parse(&text)?;
    if !has_include(nodes) {
        match &parsed {
            Some(ds) => check_round_trip(ds, &expect, &fixture().path)?,
            None => prop_assert!(false, "a well-formed config was refused:\n{}", text),
        }
    }
    if !parsed.as_deref().is_some_and(resolves_a_name) {
        check_load(&text, strict)?;
    }
    Ok(())
}

fn quote() -> impl Strategy<Value = Quote> {
    prop_oneof![6 => Just(Quote::Bare), 2 => Just(Quote::Double), 1 => Just(Quote::Single)]
}

/// An argument: mostly a valid value, sometimes one the reader must refuse.
/// `n` is how often, in percent, a value is one of the `invalid` ones.
fn arg(
    valid: &'static [&'static str],
    invalid: &'static [&'static str],
    n: u32,
) -> BoxedStrategy<Arg> {
    let value = if n == 0 {
        select(valid).prop_map(String::from).boxed()
    } else {
        prop_oneof![
            100 - n => select(valid).prop_map(String::from),
            n => select(invalid).prop_map(String::from),
        ]
        .boxed()
    };
    (value, quote()).prop_map(|(v, q)| Arg::new(v, q)).boxed()
}

/// At least one of a thing, where a config without any is refused; none
/// allowed in noisy configs.
fn at_least(n: u32) -> usize {
    usize::from(n == 0)
}

fn fixed(value: &'static str) -> BoxedStrategy<Arg> {
    quote()
        .prop_map(move |q| Arg::new(value.to_string(), q))
        .boxed()
}

/// Any text, for arguments of no known shape.
fn any_arg() -> BoxedStrategy<Arg> {
    let value = prop_oneof![
        3 => select(WORDS).prop_map(String::from),
        1 => prop::collection::vec(any::<char>(), 0..8).prop_map(|v| v.into_iter().collect()),
        1 => prop::collection::vec(select(SYNTAX), 0..6).prop_map(|v| v.concat()),
    ];
    (value, quote()).prop_map(|(v, q)| Arg::new(v, q)).boxed()
}

fn args(parts: Vec<BoxedStrategy<Arg>>) -> BoxedStrategy<Vec<Arg>> {
    parts.boxed()
}

/// A simple directive with the given argument strategies.
fn simple(name: &'static str, parts: Vec<BoxedStrategy<Arg>>) -> BoxedStrategy<Node> {
    args(parts).prop_map(move |a| node(name, a, None)).boxed()
}

const UPSTREAM_NAMES: &[&str] = &["openclaw_gateway", "backend", "api"];
const ADDRS: &[&str] = &[
    "127.0.0.1:18789",
    "127.0.0.1:18790",
    "gateway1.local:18789",
    "localhost:9000",
    "[::1]:8080",
    "10.0.0.1",
];
const BAD_ADDRS: &[&str] = &[
    "",
    "127.0.0.1:99999",
    ":80",
    "http://x",
    "unix:/tmp/x.sock",
    "a b",
];
const SERVER_PARAMS: &[&str] = &[
    "weight=3",
    "weight=1",
    "max_fails=3",
    "max_fails=0",
    "fail_timeout=30s",
    "fail_timeout=1m",
    "backup",
    "down",
    "max_conns=10",
    "route=a",
];
const BAD_SERVER_PARAMS: &[&str] = &[
    "weight=0",
    "weight=x",
    "weight=",
    "max_fails=-1",
    "fail_timeout=5x",
    "resolve",
    "slow_start=10s",
    "=",
];
const METHODS: &[&[&str]] = &[
    &["least_conn"],
    &["ip_hash"],
    &["hash", "$remote_addr", "consistent"],
    &["hash", "$request_uri"],
    &["random"],
    &["random", "two"],
    &["random", "two", "least_conn"],
];
const BAD_METHODS: &[&[&str]] = &[
    &["hash", "$cookie_user$remote_addr"],
    &["round_robin"],
    &["hash"],
    &["random", "three"],
    &["ip_hash", "x"],
    &["least_conn", "consistent"],
];
const CHECK_PARAMS: &[&str] = &[
    "interval=5000",
    "rise=2",
    "fall=3",
    "timeout=1000",
    "type=http",
    "type=tcp",
    "default_down=true",
    "default_down=false",
    "port=8080",
];
const BAD_CHECK_PARAMS: &[&str] = &[
    "interval=0",
    "rise=x",
    "type=ssl_hello",
    "bogus=1",
    "interval=",
    "port=70000",
];
const CHECK_SEND: &[&str] = &[
    "GET /health HTTP/1.0\r\n\r\n",
    "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
];
const EXPECT_ALIVE: &[&str] = &["http_2xx", "http_3xx", "http_4xx", "http_5xx"];
const BAD_EXPECT_ALIVE: &[&str] = &["http_6xx", "2xx", ""];
const STICKY_PARAMS: &[&str] = &[
    "expires=1h",
    "domain=.example.com",
    "path=/",
    "httponly",
    "secure",
    "samesite=lax",
    "samesite=strict",
    "samesite=none",
];
const BAD_STICKY_PARAMS: &[&str] = &["expires=x", "samesite=bogus", "hash=md5", "route", "cookie"];
const COOKIE_NAMES: &[&str] = &["openclaw_route", "route", "srv_id"];
const BAD_COOKIE_NAMES: &[&str] = &["", "a;b", "a b", "=x"];
const LISTEN: &[&str] = &[
    "80",
    "8080",
    "0.0.0.0:8080",
    "127.0.0.1:18080",
    "[::]:8080",
    "*:8081",
    "localhost:8082",
];
const BAD_LISTEN: &[&str] = &["x:y", "65536", "", "127.0.0.1:", "unix:/tmp/l.sock"];
const LISTEN_PARAMS: &[&str] = &["default_server", "default_server"];
const BAD_LISTEN_PARAMS: &[&str] = &["ssl", "http2", "reuseport", "backlog=10", "default"];
const SERVER_NAMES: &[&str] = &[
    "gateway.example.com",
    "*.example.com",
    "~^gw\\d+\\.example\\.net$",
    "_",
    "localhost",
    ".example.org",
    "",
];
const BAD_SERVER_NAMES: &[&str] = &["~(", "a*b", "~[z-a]"];
const PREFIXES: &[&str] = &["/", "/api/", "/ws", "/edge-health", "/static/", "/b"];
const BAD_PREFIXES: &[&str] = &["", "api", "@named"];
const REGEXES: &[&str] = &["\\.(png|jpg)$", "^/api/v\\d+/", "(?i)^/x", "^/ws$", "."];
const BAD_REGEXES: &[&str] = &["(", "[a-", "a{2,1}", ""];
const PROXY_PASS: &[&str] = &[
    "http://openclaw_gateway",
    "http://backend",
    "http://api/v1/",
    "http://openclaw_gateway/",
    "http://127.0.0.1:18789",
    "http://127.0.0.1:18789/x",
    "http://localhost:9000",
];
const BAD_PROXY_PASS: &[&str] = &[
    "openclaw_gateway",
    "https://backend",
    "http://nope",
    "http://$host",
    "http://",
    "http://127.0.0.1:99999",
];
const HEADER_NAMES: &[&str] = &[
    "Host",
    "X-Real-IP",
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "Upgrade",
    "Connection",
    "X-Custom",
];
const BAD_HEADER_NAMES: &[&str] = &["Bad Header", "", "X:y", "é"];
const HEADER_VALUES: &[&str] = &[
    "$host",
    "$remote_addr",
    "$proxy_add_x_forwarded_for",
    "$scheme",
    "$http_upgrade",
    "$connection_upgrade",
    "upgrade",
    "",
    "static text",
    "${host}:8080",
    "$request_uri",
];
const BAD_HEADER_VALUES: &[&str] = &["$nosuchvar", "$", "${unclosed", "a\nb"];
const TIMEOUT_NAMES: &[&str] = &[
    "proxy_connect_timeout",
    "proxy_read_timeout",
    "proxy_send_timeout",
    "proxy_next_upstream_timeout",
];
const DURATIONS: &[&str] = &["60s", "500ms", "1h 30m", "10", "1m", "0s", "1d"];
const BAD_DURATIONS: &[&str] = &["x", "-1s", "60q", "", "99999999999999999999s"];
const NEXT_WHEN: &[&str] = &["error", "timeout", "non_idempotent", "off"];
/// Refused, or ignored with a warning (an error when strict).
const BAD_NEXT_WHEN: &[&str] = &[
    "http_200",
    "sometimes",
    "http_502",
    "http_503",
    "http_504",
    "invalid_header",
];
const TRIES: &[&str] = &["0", "1", "3"];
const BAD_NUMBERS: &[&str] = &["-1", "x", "99999999999999999999", ""];
const STATUSES: &[&str] = &["200", "204", "301", "302", "404", "444", "503"];
const BAD_STATUSES: &[&str] = &["1000", "99", "abc", "-200"];
const BODIES: &[&str] = &[
    "ok\n",
    "moved",
    "https://example.com/",
    "",
    "https://example.com$request_uri",
    "$host",
];
const BAD_BODIES: &[&str] = &["$nosuchvar", "${unclosed", "$"];
const HTTP_VERSIONS: &[&str] = &["1.1", "1.0"];
const BAD_HTTP_VERSIONS: &[&str] = &["2", "1.2", "x"];
const MAP_SOURCES: &[&str] = &["$http_upgrade", "$host", "$remote_addr"];
const MAP_TARGETS: &[&str] = &["$connection_upgrade", "$backend_name", "$upgrade_flag"];
const BAD_MAP_TARGETS: &[&str] = &["connection_upgrade", "$host", "$"];
const MAP_KEYS: &[&str] = &["default", "", "websocket", "~*^web", "~^x$", "hostnames"];
const MAP_VALUES: &[&str] = &["upgrade", "close", "keep-alive", "", "$host"];
/// Directives the translator may not know: warnings, or errors when strict.
const OTHER_NAMES: &[&str] = &[
    "proxy_buffering",
    "client_max_body_size",
    "worker_processes",
    "error_log",
    "access_log",
    "sendfile",
    "gzip",
    "ssl_certificate",
    "add_header",
    "root",
    "index",
    "rewrite",
    "if",
    "proxy_redirect",
    "resolver",
];
/// Every name the grammar knows, for trees of random shape.
const ALL_NAMES: &[&str] = &[
    "http",
    "events",
    "server",
    "location",
    "upstream",
    "map",
    "proxy_pass",
    "listen",
    "server_name",
    "return",
    "proxy_set_header",
    "least_conn",
    "ip_hash",
    "hash",
    "random",
    "keepalive",
    "check",
    "check_http_send",
    "check_http_expect_alive",
    "sticky",
    "proxy_connect_timeout",
    "proxy_read_timeout",
    "proxy_next_upstream",
    "proxy_next_upstream_tries",
    "proxy_http_version",
    "default",
    "types",
    "worker_connections",
    "proxy_buffering",
    "access_log",
    "if",
    "limit_except",
];

fn maybe<T: std::fmt::Debug + Clone + 'static>(s: BoxedStrategy<T>) -> BoxedStrategy<Vec<T>> {
    prop::option::weighted(0.4, s)
        .prop_map(|o| o.into_iter().collect())
        .boxed()
}

fn some_of(
    values: &'static [&'static str],
    invalid: &'static [&'static str],
    max: usize,
    n: u32,
) -> BoxedStrategy<Vec<Arg>> {
    prop::collection::vec(arg(values, invalid, n), 0..=max)
        .prop_map(move |mut v| {
            if n == 0 {
                // `weight=1 weight=3` is refused: no key twice in clean configs.
                let mut seen = std::collections::HashSet::new();
                v.retain(|a| seen.insert(a.value.split('=').next().unwrap_or("").to_string()));
            }
            v
        })
        .boxed()
}

/// `proxy_set_header` lines; in clean configs, no header set twice.
fn headers(n: u32, max: usize) -> BoxedStrategy<Vec<Node>> {
    prop::collection::vec(header(n), 0..=max)
        .prop_map(move |mut v| {
            if n == 0 {
                let mut seen = std::collections::HashSet::new();
                v.retain(|h| seen.insert(h.args[0].value.clone()));
            }
            v
        })
        .boxed()
}

/// A directive the translator may not know, anywhere.
fn other() -> BoxedStrategy<Node> {
    (select(OTHER_NAMES), prop::collection::vec(any_arg(), 0..3))
        .prop_map(|(n, a)| node(n, a, None))
        .boxed()
}

/// Directives the translator may ignore (with a warning; an error when strict).
const IGNORABLE: &[&[&str]] = &[
    &["proxy_buffering", "off"],
    &["client_max_body_size", "10m"],
    &["gzip", "on"],
    &["sendfile", "on"],
];

fn extras(n: u32) -> BoxedStrategy<Vec<Node>> {
    if n == 0 {
        prop::option::weighted(0.05, select(IGNORABLE))
            .prop_map(|o| {
                o.map(|d| {
                    let args = d[1..].iter().map(|a| Arg::new(a.to_string(), Quote::Bare));
                    node(d[0], args.collect(), None)
                })
                .into_iter()
                .collect()
            })
            .boxed()
    } else {
        prop::collection::vec(other(), 0..2).boxed()
    }
}

fn method(n: u32) -> BoxedStrategy<Node> {
    let forms = if n == 0 {
        select(METHODS).boxed()
    } else {
        prop_oneof![100 - n => select(METHODS), n => select(BAD_METHODS)].boxed()
    };
    (forms, quote())
        .prop_map(|(m, q)| {
            let args = m[1..].iter().map(|a| Arg::new(a.to_string(), q)).collect();
            node(m[0], args, None)
        })
        .boxed()
}

fn server_line(n: u32) -> BoxedStrategy<Node> {
    (
        arg(ADDRS, BAD_ADDRS, n),
        some_of(SERVER_PARAMS, BAD_SERVER_PARAMS, 3, n),
    )
        .prop_map(|(a, mut ps)| {
            ps.insert(0, a);
            node("server", ps, None)
        })
        .boxed()
}

fn health_check(n: u32) -> BoxedStrategy<Vec<Node>> {
    (
        some_of(CHECK_PARAMS, BAD_CHECK_PARAMS, 6, n),
        maybe(simple(
            "check_http_send",
            vec![arg(CHECK_SEND, BAD_HEADER_VALUES, n)],
        )),
        maybe(
            some_of(EXPECT_ALIVE, BAD_EXPECT_ALIVE, 3, n)
                .prop_map(|a| node("check_http_expect_alive", a, None))
                .boxed(),
        ),
    )
        .prop_map(|(check, send, expect)| {
            let mut v = vec![node("check", check, None)];
            v.extend(send);
            v.extend(expect);
            v
        })
        .boxed()
}

fn sticky(n: u32) -> BoxedStrategy<Node> {
    (
        fixed("cookie"),
        arg(COOKIE_NAMES, BAD_COOKIE_NAMES, n),
        some_of(STICKY_PARAMS, BAD_STICKY_PARAMS, 4, n),
    )
        .prop_map(|(c, n, mut ps)| {
            ps.insert(0, n);
            ps.insert(0, c);
            node("sticky", ps, None)
        })
        .boxed()
}

fn upstream(n: u32) -> BoxedStrategy<Node> {
    (
        arg(UPSTREAM_NAMES, &["", "a b", "http://x"], n),
        maybe(method(n)),
        prop::collection::vec(server_line(n), at_least(n)..4),
        maybe(simple("keepalive", vec![arg(TRIES, BAD_NUMBERS, n)])),
        maybe(health_check(n)),
        maybe(sticky(n)),
        maybe(simple("include", vec![fixed("a.conf")])),
        extras(n),
    )
        .prop_map(
            |(name, m, servers, keepalive, check, sticky, include, extra)| {
                let mut body = Vec::new();
                body.extend(m);
                body.extend(servers);
                body.extend(keepalive);
                body.extend(check.into_iter().flatten());
                body.extend(sticky);
                body.extend(include);
                body.extend(extra);
                node("upstream", vec![name], Some(body))
            },
        )
        .boxed()
}

fn location_path(n: u32) -> BoxedStrategy<Vec<Arg>> {
    prop_oneof![
        3 => arg(PREFIXES, BAD_PREFIXES, n).prop_map(|p| vec![p]),
        1 => (prop_oneof![Just("="), Just("^~")], arg(PREFIXES, BAD_PREFIXES, n))
            .prop_map(|(m, p)| vec![Arg::new(m.to_string(), Quote::Bare), p]),
        2 => (prop_oneof![Just("~"), Just("~*")], arg(REGEXES, BAD_REGEXES, n))
            .prop_map(|(m, p)| vec![Arg::new(m.to_string(), Quote::Bare), p]),
        // `=/exact` and `~*regex` written as one word, which nginx also accepts.
        1 => (prop_oneof![Just("="), Just("~*"), Just("^~")], select(PREFIXES))
            .prop_map(|(m, p)| vec![Arg::new(format!("{m}{p}"), Quote::Bare)]),
    ]
    .boxed()
}

fn header(n: u32) -> BoxedStrategy<Node> {
    simple(
        "proxy_set_header",
        vec![
            arg(HEADER_NAMES, BAD_HEADER_NAMES, n),
            arg(HEADER_VALUES, BAD_HEADER_VALUES, n),
        ],
    )
}

fn location(n: u32) -> BoxedStrategy<Node> {
    let proxy_pass = simple("proxy_pass", vec![arg(PROXY_PASS, BAD_PROXY_PASS, n)]);
    let ret = (
        arg(STATUSES, BAD_STATUSES, n),
        maybe(arg(BODIES, BAD_BODIES, n)),
    )
        .prop_map(|(s, b)| {
            let mut a = vec![s];
            a.extend(b);
            node("return", a, None)
        });
    let target = if n == 0 {
        prop_oneof![
            2 => proxy_pass.prop_map(|n| vec![n]),
            1 => ret.prop_map(|n| vec![n]),
        ]
        .boxed()
    } else {
        prop_oneof![
            6 => proxy_pass.clone().prop_map(|n| vec![n]),
            3 => ret.clone().prop_map(|n| vec![n]),
            1 => Just(Vec::new()),
            1 => (proxy_pass, ret).prop_map(|(a, b)| vec![a, b]),
        ]
        .boxed()
    };
    let timeouts = prop::collection::vec(
        (select(TIMEOUT_NAMES), arg(DURATIONS, BAD_DURATIONS, n))
            .prop_map(|(n, d)| node(n, vec![d], None)),
        0..2,
    );
    let next = (
        maybe(
            some_of(NEXT_WHEN, BAD_NEXT_WHEN, 3, n)
                .prop_map(|a| node("proxy_next_upstream", a, None))
                .boxed(),
        ),
        maybe(simple(
            "proxy_next_upstream_tries",
            vec![arg(TRIES, BAD_NUMBERS, n)],
        )),
        maybe(simple(
            "proxy_http_version",
            vec![arg(HTTP_VERSIONS, BAD_HTTP_VERSIONS, n)],
        )),
    );
    (
        location_path(n),
        target,
        headers(n, 3),
        timeouts,
        next,
        extras(n),
    )
        .prop_map(
            |(path, target, headers, timeouts, (next, tries, version), extra)| {
                let mut body = Vec::new();
                body.extend(target);
                body.extend(headers);
                body.extend(timeouts);
                body.extend(next);
                body.extend(tries);
                body.extend(version);
                body.extend(extra);
                node("location", path, Some(body))
            },
        )
        .boxed()
}

fn listen(n: u32) -> BoxedStrategy<Node> {
    (
        arg(LISTEN, BAD_LISTEN, n),
        some_of(LISTEN_PARAMS, BAD_LISTEN_PARAMS, 1, n),
    )
        .prop_map(|(a, mut ps)| {
            ps.insert(0, a);
            node("listen", ps, None)
        })
        .boxed()
}

fn server(n: u32) -> BoxedStrategy<Node> {
    (
        prop::collection::vec(listen(n), at_least(n)..3),
        maybe(
            some_of(SERVER_NAMES, BAD_SERVER_NAMES, 3, n)
                .prop_map(|a| node("server_name", a, None))
                .boxed(),
        ),
        prop::collection::vec(location(n), at_least(n)..4),
        headers(n, 1),
        maybe(simple(
            "include",
            vec![arg(
                &["sub/*.conf", "sub/b.conf"],
                &["missing.conf", "bad/*.conf", "sub"],
                n,
            )],
        )),
        extras(n),
    )
        .prop_map(|(listen, names, locations, headers, include, extra)| {
            let mut body = Vec::new();
            body.extend(listen);
            body.extend(names);
            body.extend(headers);
            body.extend(locations);
            body.extend(include);
            body.extend(extra);
            node("server", Vec::new(), Some(body))
        })
        .boxed()
}

fn map_block(n: u32) -> BoxedStrategy<Node> {
    (
        arg(MAP_SOURCES, &["", "host"], n),
        arg(MAP_TARGETS, BAD_MAP_TARGETS, n),
        prop::collection::vec(
            (
                arg(MAP_KEYS, &["{", "}"], n),
                arg(MAP_VALUES, &["$nosuchvar"], n),
            )
                .prop_map(|(k, v)| Node {
                    name: k,
                    ..node("", vec![v], None)
                }),
            0..4,
        ),
    )
        .prop_map(|(s, t, entries)| node("map", vec![s, t], Some(entries)))
        .boxed()
}

/// A config as an operator writes one: the seed's top-level blocks, or a
/// whole nginx.conf with `events` and `http`.
fn typed_config(n: u32) -> BoxedStrategy<Vec<Node>> {
    let blocks = (
        prop::collection::vec(map_block(n), 0..2),
        prop::collection::vec(upstream(n), at_least(n)..3),
        prop::collection::vec(server(n), at_least(n)..3),
        extras(n),
    )
        .prop_map(move |(maps, mut ups, servers, extra)| {
            if n == 0 {
                // Distinct upstream names; `openclaw_gateway` always defined.
                for (up, name) in ups.iter_mut().zip(UPSTREAM_NAMES) {
                    up.args[0].value = name.to_string();
                }
            }
            let mut v = Vec::new();
            v.extend(maps);
            v.extend(ups);
            v.extend(servers);
            v.extend(extra);
            v
        });
    (blocks, any::<bool>(), any::<bool>())
        .prop_map(|(blocks, wrap, events)| {
            if !wrap {
                return blocks;
            }
            let mut top = Vec::new();
            if events {
                top.push(node(
                    "events",
                    Vec::new(),
                    Some(vec![node(
                        "worker_connections",
                        vec![Arg::new("1024".into(), Quote::Bare)],
                        None,
                    )]),
                ));
            }
            top.push(node("http", Vec::new(), Some(blocks)));
            top
        })
        .boxed()
}

/// A tree of any shape, names from the grammar, arguments of any text.
fn random_tree() -> BoxedStrategy<Vec<Node>> {
    let leaf = (select(ALL_NAMES), prop::collection::vec(any_arg(), 0..4))
        .prop_map(|(n, a)| node(n, a, None));
    let tree = leaf.prop_recursive(4, 48, 6, |inner| {
        (
            select(ALL_NAMES),
            prop::collection::vec(any_arg(), 0..3),
            prop::collection::vec(inner, 0..6),
        )
            .prop_map(|(n, a, body)| node(n, a, Some(body)))
    });
    prop::collection::vec(tree, 0..6).boxed()
}

/// Random blank lines, comments and arguments split over lines, throughout.
fn layout(nodes: &mut [Node], knobs: &mut impl Iterator<Item = u8>) {
    for n in nodes {
        let k = knobs.next().unwrap_or(0);
        n.before = match k % 8 {
            0 => Before::BlankLine,
            1 => Before::Comment,
            _ => Before::Nothing,
        };
        n.split = (k / 8).is_multiple_of(6);
        if let Some(body) = &mut n.block {
            layout(body, knobs);
        }
    }
}

fn with_layout(s: BoxedStrategy<Vec<Node>>) -> BoxedStrategy<Vec<Node>> {
    (s, prop::collection::vec(any::<u8>(), 1..64))
        .prop_map(|(mut nodes, knobs)| {
            let mut it = knobs.into_iter().cycle();
            layout(&mut nodes, &mut it);
            nodes
        })
        .boxed()
}

proptest! {
    #![proptest_config(cfg(TYPED_CASES))]

    #[test]
    fn typed_configs_read_back_and_convert(nodes in with_layout(typed_config(10)), strict in any::<bool>()) {
        check_generated(&nodes, strict)?;
    }
}

proptest! {
    #![proptest_config(cfg(CLEAN_TYPED_CASES))]

    #[test]
    fn clean_typed_configs_read_back_and_convert(nodes in with_layout(typed_config(0)), strict in any::<bool>()) {
        check_generated(&nodes, strict)?;
    }
}

proptest! {
    #![proptest_config(cfg(RANDOM_TREE_CASES))]

    #[test]
    fn random_trees_read_back_and_convert(nodes in with_layout(random_tree()), strict in any::<bool>()) {
        check_generated(&nodes, strict)?;
    }
}

// ---------------------------------------------------------------------------
// Deterministic: ngx_conf_read_token's edge cases, and include.
// ---------------------------------------------------------------------------

fn parse(text: &str) -> Vec<Directive> {
    nginx::parse_str(&fixture().path, text)
        .unwrap_or_else(|e| panic!("{text:?} should parse, got:\n{e}"))
}

/// The single error for `text`: its line and message.
fn parse_err(text: &str) -> (usize, String) {
    let errs = match nginx::parse_str(&fixture().path, text) {
        Ok(ds) => panic!("{text:?} should be refused, parsed as {ds:?}"),
        Err(e) => e.0,
    };
    assert_eq!(errs.len(), 1, "one error expected: {errs:?}");
    let e = &errs[0];
    assert_eq!(e.file, fixture().path, "{e:?}");
    (
        e.line.unwrap_or_else(|| panic!("no line: {e:?}")),
        e.message.clone(),
    )
}

fn assert_err(text: &str, line: usize, message: &str) {
    let (got_line, got) = parse_err(text);
    assert!(
        got.contains(message),
        "{text:?}: expected {message:?} in {got:?}"
    );
    assert_eq!(got_line, line, "{text:?}: {got}");
}

#[test]
fn quoted_arguments_and_nginx_escapes() {
    let ds = parse(concat!(
        "x;\n",
        r#"a "x\"y" 'p\'q' "t\tn\nr\r" "back\\slash" "keep\d" '' "semi;{}#" 'dq"in';"#,
        "\n",
    ));
    assert_eq!(ds.len(), 2);
    assert_eq!(ds[1].name, "a");
    assert_eq!(ds[1].line, 2);
    assert_eq!(
        ds[1].args,
        [
            "x\"y",
            "p'q",
            "t\tn\nr\r",
            "back\\slash",
            "keep\\d",
            "",
            "semi;{}#",
            "dq\"in"
        ]
    );
    // Unquoted words unescape the same way; a backslash escapes a space.
    let ds = parse("a b\\\"c d\\ e \\\\f;");
    assert_eq!(ds[0].args, ["b\"c", "d\\ e", "\\f"]);
    // A quoted directive name, and a quoted argument straight before `;` / `{`.
    let ds = parse("\"proxy_pass\" \"http://u\";\n'server' \"x\"{ }");
    assert_eq!(ds[0].name, "proxy_pass");
    assert_eq!(ds[0].args, ["http://u"]);
    assert_eq!(ds[1].name, "server");
    assert_eq!(ds[1].args, ["x"]);
    assert_eq!(ds[1].block.as_deref(), Some(&[][..]));
    // A quoted argument may span lines; the directive is on its first line.
    let ds = parse("a\n\"l1\nl2\";\nb;");
    assert_eq!(ds[0].args, ["l1\nl2"]);
    assert_eq!((ds[0].line, ds[1].line), (1, 4));
}

#[test]
fn a_quote_must_be_followed_by_a_space() {
    // need_space in ngx_conf_read_token.
    assert_err("x;\nname \"a\"b;\n", 2, "unexpected \"b\"");
    assert_err("name 'a'\"b\";", 1, "unexpected \"\"\"");
    // ... except for `)`, which nginx lets close `if (...)`.
    // (and then starts a word of its own).
    let ds = parse("if ($a = \"b\") { }");
    assert_eq!(ds[0].args, ["($a", "=", "b", ")"]);
}

#[test]
fn a_terminator_without_a_directive_name() {
    assert_err("a;\n\n  ;\n", 3, "unexpected \";\"");
    assert_err("a;\n{\n}", 2, "unexpected \"{\"");
}

#[test]
fn an_unclosed_block() {
    assert_err(
        "http {\n  server {\n  }\n",
        4,
        "unexpected end of file, expecting \"}\"",
    );
    assert_err("a {", 1, "unexpected end of file, expecting \"}\"");
}

#[test]
fn a_stray_closing_brace() {
    assert_err("a;\n}\n", 2, "unexpected \"}\"");
    assert_err("a { }\n\n}", 3, "unexpected \"}\"");
    // After words, `}` ends nothing: the directive is missing its `;`.
    assert_err("a\nb }", 2, "unexpected \"}\"");
}

#[test]
fn a_hash_inside_a_word_is_part_of_it() {
    let ds = parse("a b#c d;#comment ; {\ne #x\n;");
    assert_eq!(ds.len(), 2);
    assert_eq!(ds[0].args, ["b#c", "d"]);
    assert_eq!((ds[1].name.as_str(), ds[1].line), ("e", 2));
    assert!(ds[1].args.is_empty());
    // A `}` inside a word is part of it too.
    assert_eq!(parse("a b} c;")[0].args, ["b}", "c"]);
}

#[test]
fn braces_after_a_dollar_stay_in_the_word() {
    let ds = parse("return 200 ${host}x;\nproxy_set_header X-A a${b}c${d};");
    assert_eq!(ds[0].args, ["200", "${host}x"]);
    assert_eq!(ds[1].args, ["X-A", "a${b}c${d}"]);
    // Without the `$`, `{` ends the word and opens a block.
    let ds = parse("a b{ c; }");
    assert_eq!(ds[0].args, ["b"]);
    assert_eq!(ds[0].block.as_ref().map(Vec::len), Some(1));
}

#[test]
fn an_unclosed_quote() {
    assert_err(
        "a \"b;\nc;\n",
        3,
        "unexpected end of file, expecting \";\" or \"}\"",
    );
    assert_err(
        "a 'b",
        1,
        "unexpected end of file, expecting \";\" or \"}\"",
    );
    // Words with no terminator at the end of the file.
    assert_err(
        "a;\nb c",
        2,
        "unexpected end of file, expecting \";\" or \"}\"",
    );
}

#[test]
fn include_expands_in_place_and_errors_name_the_included_file() {
    let fx = fixture();
    let ds = parse("upstream u {\n    include a.conf;\n}\nserver {\n  include sub/*.conf;\n}\n");
    let up = ds[0].block.as_ref().expect("upstream block");
    assert_eq!(up.len(), 1);
    assert_eq!((up[0].name.as_str(), up[0].line), ("server", 1));
    assert_eq!(
        Path::new(&up[0].file).canonicalize().unwrap(),
        fx.dir.join("a.conf")
    );
    let srv = ds[1].block.as_ref().expect("server block");
    assert_eq!((srv[0].name.as_str(), srv[0].line), ("location", 1));
    assert_eq!(srv[0].block.as_ref().unwrap()[0].args, ["200", "b\n"]);
    // A glob that matches nothing is no error; a missing file is, at the include.
    assert!(parse("include nothing/*.conf;").is_empty());
    assert_err("a;\ninclude missing.conf;\n", 2, "missing.conf");
    // An error inside an included file names that file and its line.
    let errs = nginx::parse_str(&fx.path, "\n\ninclude bad/c.conf;\n")
        .unwrap_err()
        .0;
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        Path::new(&errs[0].file).canonicalize().unwrap(),
        fx.dir.join("bad/c.conf")
    );
    assert_eq!(errs[0].line, Some(3), "{errs:?}");
    // A file that is not UTF-8 is refused at the include.
    let errs = nginx::parse_str(&fx.path, "a;\ninclude bad/d.conf;\n")
        .unwrap_err()
        .0;
    assert_eq!(
        (errs[0].file.as_str(), errs[0].line),
        (fx.path.as_str(), Some(2)),
        "{errs:?}"
    );
}

#[test]
fn a_file_including_itself_is_refused() {
    let dir = fixture().dir.join("loop");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("self.conf"), "a;\ninclude self.conf;\n").unwrap();
    let main = dir.join("nginx.conf").to_string_lossy().into_owned();
    let errs = nginx::parse_str(&main, "include self.conf;\n")
        .unwrap_err()
        .0;
    assert!(!errs.is_empty());
    for e in &errs {
        assert!(e.line.is_some(), "{e:?}");
    }
}

/// Deeply nested blocks are refused or read, never a crash: a HUP reload
/// reads the new config on a Tokio worker (2 MiB of stack), and a bad config
/// must be refused while the old one keeps serving. Run in a child process
/// so a stack overflow fails this test instead of aborting the suite.
#[test]
fn deep_nesting_does_not_crash() {
    const CHILD: &str = "NGINX_FUZZ_DEEP_NESTING_CHILD";
    const DEPTH: usize = 100_000;
    if std::env::var_os(CHILD).is_some() {
        let unclosed = "a{".repeat(DEPTH);
        let closed = format!("{unclosed}{}", "}".repeat(DEPTH));
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let p = nginx::parse_str("deep.conf", &unclosed).map(|_| ());
                let l = nginx::load_str("deep.conf", &unclosed, false).map(|_| ());
                for errs in [p.expect_err("refused"), l.expect_err("refused")] {
                    assert_eq!(errs.0[0].line, Some(1), "{errs}");
                }
                let p = nginx::parse_str("deep.conf", &closed).map(|_| ());
                let l = nginx::load_str("deep.conf", &closed, false).map(|_| ());
                for errs in [p.err(), l.err()].into_iter().flatten() {
                    assert_eq!(errs.0[0].line, Some(1), "{errs}");
                }
            })
            .unwrap()
            .join()
            .unwrap();
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "deep_nesting_does_not_crash",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .expect("run the child test");
    assert!(
        out.status.success(),
        "{DEPTH} nested blocks (`a{{` repeated) crashed the reader ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every config the mutations start from is valid, or they would test little.
#[test]
fn the_corpus_converts() {
    for (i, text) in CORPUS.iter().enumerate() {
        let t = nginx::load_str(&fixture().path, text, false)
            .unwrap_or_else(|e| panic!("corpus config {i} is refused:\n{e}\n{text}"));
        for w in &t.warnings {
            assert!(w.line.is_some(), "{w:?}");
        }
        config::load_str("out.yaml", &t.yaml)
            .unwrap_or_else(|e| panic!("corpus config {i}: YAML refused:\n{e}\n{}", t.yaml));
    }
}
