//! The edge running nginx configs (`openclaw-edge -c FILE.conf`) against the
//! real nginx running the very same config text, one after the other on the
//! same port, with the same backends: the server each of 1000 clients reaches
//! under `ip_hash` and `hash`; which `server` block and `location` a table of
//! (Host, path) requests ends in; `map` and `server_name` captures; the
//! request line and headers a backend receives under `proxy_set_header`
//! inheritance; the URI `proxy_pass` sends. Then `openclaw-edge convert` of the routing and header configs
//! must run as YAML and answer exactly as the `.conf` does.

use openclaw_e2e::client::client_ips;
use openclaw_e2e::config::Server;
use openclaw_e2e::nginx_conf::{
    assert_as_nginx, assert_convert_equivalent, check, headers_answer, route_answer, Probe,
};
use openclaw_e2e::ports::free_addr;
use openclaw_e2e::{bounded, Backend, Upstream};
use std::collections::BTreeSet;
use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How long one comparison may take.
const LIMIT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------- hashing

/// A server block on LISTEN whose `/` proxies to `upstream` (rendered by
/// [`Upstream::nginx`], the block the older hashing oracle test uses).
fn hashing_http(upstream: &Upstream) -> impl Fn(SocketAddr) -> String + '_ {
    move |listen| {
        format!(
            "{}  server {{\n    listen {listen};\n    location / {{ proxy_pass http://{}; }}\n  }}\n",
            upstream.nginx(),
            upstream.name
        )
    }
}

/// The backend named in a [`route_answer`].
fn answering_backend(answer: &str) -> Option<String> {
    let (_, rest) = answer.split_once("from backend ")?;
    rest.split_whitespace().next().map(str::to_string)
}

/// 1000 clients through `balance` over four servers weighted 2,1,1,1, the
/// third `down`: each reaches the same server as under nginx.
async fn hashing_as_nginx(balance: &str) {
    bounded(LIMIT, async {
        let backends = Backend::start_n(4).await;
        let servers = backends
            .iter()
            .zip([2, 1, 1, 1])
            .enumerate()
            .map(|(i, (b, w))| {
                let s = Server::new(b.addr()).weight(w);
                if i == 2 {
                    s.down()
                } else {
                    s
                }
            })
            .collect();
        let upstream = Upstream::new("hashed", balance, servers);
        let probes: Vec<Probe> = client_ips(1000)
            .into_iter()
            .map(|ip| Probe::new("localhost", "/").from_ip(ip))
            .collect();
        let via_nginx = assert_as_nginx(
            &format!("`{balance}` with the third of four servers down, 1000 clients"),
            hashing_http(&upstream),
            &probes,
            route_answer,
        )
        .await;
        let used: BTreeSet<String> = via_nginx
            .iter()
            .filter_map(|a| answering_backend(a))
            .collect();
        assert_eq!(
            used,
            BTreeSet::from(["s0".to_string(), "s1".to_string(), "s3".to_string()]),
            "nginx itself should spread the clients over every live server (are the source addresses used?)"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_hash_with_a_down_server() {
    hashing_as_nginx("ip_hash").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistent_hash_with_a_down_server() {
    hashing_as_nginx("hash $remote_addr consistent").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_hash_with_a_down_server() {
    hashing_as_nginx("hash $remote_addr").await;
}

// ---------------------------------------------------------------- routing

/// The backends the routing config proxies to, one per location; each
/// `upstream b_NAME` holds the backend named NAME.
const ROUTE_BACKENDS: [&str; 9] = [
    "exact", "static", "prefix", "longer", "php", "jpg", "root", "wild", "default",
];

/// Five server blocks on one port: exact names, `*.example.com`,
/// `www.example.*`, a regex, and a `default_server` that is not the first;
/// the first has locations of every kind. (Variables are left to
/// [`VARIABLES`], so that this table does not depend on them.)
const ROUTING: &str = r#"
  server {
    listen LISTEN;
    server_name exact.test api.example.com;
    location = /exact { proxy_pass http://b_exact; }
    location ^~ /static/ { proxy_pass http://b_static; }
    location /prefix { proxy_pass http://b_prefix; }
    location /prefix/longer { proxy_pass http://b_longer; }
    location ~ \.php$ { proxy_pass http://b_php; }
    location ~* \.JPG$ { proxy_pass http://b_jpg; }
    location ~ ^/r/ { return 200 "second regex"; }
    location = /newline { return 200 "two\nlines\n"; }
    location = /old { return 301 http://exact.test/new; }
    location = /gone { return 404; }
    location / { proxy_pass http://b_root; }
  }
  server {
    listen LISTEN;
    server_name *.example.com;
    location = /exact { return 200 "wildcard-prefix exact"; }
    location / { proxy_pass http://b_wild; }
  }
  server {
    listen LISTEN;
    server_name www.example.*;
    location ~* \.jpg$ { return 200 "wildcard-suffix jpg"; }
    location / { return 200 "wildcard-suffix"; }
  }
  server {
    listen LISTEN;
    server_name ~^(?<sub>.+)\.regex\.test$;
    location / { return 200 "regex"; }
  }
  server {
    listen LISTEN default_server;
    server_name _;
    location = /exact { return 200 "default exact"; }
    location / { proxy_pass http://b_default; }
  }
"#;

/// Paths sent to the first server: every location kind, their precedence,
/// and nginx's URI normalisation (dots, double slashes, escapes).
const FIRST_SERVER_PATHS: [&str; 40] = [
    "/",
    "/exact",
    "/exact/",
    "/exactly",
    "/exact?x=1",
    "/static/",
    "/static/a.php",
    "/static/b.JPG",
    "/static",
    "/staticx/a.txt",
    "/prefix",
    "/prefixed",
    "/prefix/",
    "/prefix/a.php",
    "/prefix/long",
    "/prefix/longer",
    "/prefix/longer/x",
    "/prefix/longerx",
    "/prefix/longer/a.jpg",
    "/a.php",
    "/a.PHP",
    "/a.php/x",
    "/a.jpg",
    "/a.JPG",
    "/a.Jpg",
    "/a.php?x=.jpg",
    "/a.jpg?x=.php",
    "/r/a.php",
    "/r/x",
    "/R/x",
    "/newline",
    "/old",
    "/gone",
    "/gone/",
    "/static/../exact",
    "/prefix//longer/y",
    "/%70refix/longer",
    "/a%2Ephp",
    "/x/./static/y",
    "/ex%61ct",
];

/// Hosts sent a few paths each: name precedence, case, port, trailing dot.
const HOSTS: [&str; 16] = [
    "EXACT.Test:8080",
    "exact.test.",
    "api.example.com",
    "foo.example.com",
    "a.b.example.com",
    "www.example.com",
    "example.com",
    "www.example.org",
    "www.example.co.uk",
    "www.example.regex.test",
    "foo.regex.test",
    "x.y.regex.test",
    "regex.test",
    "Foo.Regex.Test",
    "unknown.test",
    "localhost",
];

/// The (Host, path) table for [`ROUTING`].
fn routing_probes() -> Vec<Probe> {
    let mut probes: Vec<Probe> = FIRST_SERVER_PATHS
        .iter()
        .map(|path| Probe::new("exact.test", path))
        .collect();
    for host in HOSTS {
        for path in ["/", "/exact", "/a.jpg", "/static/x"] {
            probes.push(Probe::new(host, path));
        }
    }
    probes
}

/// [`ROUTING`] on LISTEN with an upstream per backend.
fn routing_http(backends: &[Backend]) -> impl Fn(SocketAddr) -> String + '_ {
    move |listen| {
        let mut out = String::new();
        for b in backends {
            let _ = writeln!(out, "  upstream b_{} {{ server {}; }}", b.name(), b.addr());
        }
        out + &ROUTING.replace("LISTEN", &listen.to_string())
    }
}

async fn routing_backends() -> Vec<Backend> {
    let mut backends = Vec::new();
    for name in ROUTE_BACKENDS {
        backends.push(Backend::start(name).await);
    }
    backends
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_names_and_locations_route_as_nginx() {
    bounded(LIMIT, async {
        let backends = routing_backends().await;
        let probes = routing_probes();
        assert!(probes.len() >= 50);
        assert_as_nginx(
            "routing (server_name and location)",
            routing_http(&backends),
            &probes,
            route_answer,
        )
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converted_routing_config_answers_as_the_conf() {
    bounded(LIMIT, async {
        let backends = routing_backends().await;
        assert_convert_equivalent(
            "routing (server_name and location)",
            routing_http(&backends),
            &routing_probes(),
            route_answer,
        )
        .await;
    })
    .await;
}

// ---------------------------------------------------------------- variables

/// `map` (exact and regex keys) and a named capture of a regex
/// `server_name`, seen by a backend through `proxy_set_header`. The
/// SUB_HEADER and RETURN marker lines are filled by [`variables_http`]
/// only for the test of that feature, so that each feature the edge may
/// refuse fails its own test only.
const VARIABLES: &str = r#"
  map $host $zone {
    default       other;
    exact.test    exact-zone;
    ~^www\.       www-zone;
  }
  server {
    listen LISTEN;
    server_name ~^(?<sub>.+)\.regex\.test$;
    location / {
        proxy_pass http://vars;
        proxy_set_header X-Zone $zone;
        SUB_HEADER
    }
    RETURN
  }
  server {
    listen LISTEN default_server;
    location / {
        proxy_pass http://vars;
        proxy_set_header X-Zone $zone;
    }
    RETURN
  }
"#;

/// The named capture of the regex server name in a proxied header.
const SUB_HEADER: (&str, &str) = ("SUB_HEADER", "proxy_set_header X-Sub $sub;");
/// Variables in the text of `return`.
const RETURN: (&str, &str) = (
    "RETURN",
    r#"location = /return { return 200 "zone=$zone host=$host uri=$uri args=$args"; }"#,
);

/// Hosts that give `$zone` and `$sub` each of their values.
const VARIABLE_HOSTS: [&str; 6] = [
    "foo.regex.test",
    "Foo.Bar.Regex.Test:8080",
    "www.regex.test",
    "exact.test",
    "www.example.org",
    "unknown.test",
];

/// [`VARIABLES`] on LISTEN, its `vars` upstream being `backend`, with the
/// marker lines of `parts` filled in and the others left out.
fn variables_http<'a>(
    backend: &'a Backend,
    parts: &'a [(&str, &str)],
) -> impl Fn(SocketAddr) -> String + 'a {
    move |listen| {
        let mut text = VARIABLES.replace("LISTEN", &listen.to_string());
        for (marker, line) in [SUB_HEADER, RETURN] {
            let fill = if parts.contains(&(marker, line)) {
                line
            } else {
                ""
            };
            text = text.replace(marker, fill);
        }
        format!("  upstream vars {{ server {}; }}\n{text}", backend.addr())
    }
}

/// The variables config with `parts`, `path` sent with every host of
/// [`VARIABLE_HOSTS`], answers compared with nginx's by `summary`.
async fn variables_as_nginx(
    what: &str,
    parts: &[(&str, &str)],
    path: &str,
    summary: fn(&openclaw_e2e::Response) -> String,
) {
    bounded(LIMIT, async {
        let backend = Backend::start("vars").await;
        let probes: Vec<Probe> = VARIABLE_HOSTS
            .iter()
            .map(|host| Probe::new(host, path))
            .collect();
        assert_as_nginx(what, variables_http(&backend, parts), &probes, summary).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_in_proxied_headers_as_nginx() {
    variables_as_nginx("map in proxy_set_header", &[], "/a?b=c", headers_answer).await;
}

/// Regex captures as variables (`$sub` from `server_name ~^(?<sub>.+)...`)
/// are not supported: the edge must refuse the file, naming the line and
/// the variable, rather than send an empty header (README, "Running an
/// nginx config").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_name_capture_in_proxied_headers_is_refused_with_its_line() {
    bounded(LIMIT, async {
        let backend = Backend::start("vars").await;
        let text = variables_http(&backend, &[SUB_HEADER])(free_addr());
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("captures.conf");
        std::fs::write(&path, &text).expect("write the config");
        let line = 1 + text
            .lines()
            .position(|l| l.contains("X-Sub $sub"))
            .expect("the config sets X-Sub");
        let run = check(&path, &[]).await;
        assert!(!run.status.success(), "-t accepted $sub:\n{}", run.stderr);
        let want = format!("{}:{line}: ", path.display());
        assert!(
            run.stderr
                .lines()
                .any(|l| l.starts_with(&want) && l.contains("$sub")),
            "expected an error at {want} naming $sub; stderr:\n{}",
            run.stderr
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variables_in_return_text_as_nginx() {
    variables_as_nginx(
        "$zone (map), $host, $uri and $args in the text of return",
        &[RETURN],
        "/return?b=c",
        route_answer,
    )
    .await;
}

// ---------------------------------------------------------------- headers

/// The location block of the deployment guide, for location `/seed/`.
const SEED_LOCATION: &str = r#"
    location /seed/ {
        proxy_pass http://hdr;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
    }
"#;

/// No `proxy_set_header` above the locations: `/defaults/` gets nginx's
/// defaults only (Host $proxy_host, Connection close, HTTP/1.0, Upgrade,
/// TE and Keep-Alive dropped), `/xff/` adds one header to them.
const HEADERS_OWN: &str = r#"
  server {
    listen LISTEN;
    SEED
    location /defaults/ { proxy_pass http://hdr; }
    location /xff/ {
        proxy_pass http://hdr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
"#;

/// `proxy_set_header` and `proxy_http_version` at http level: inherited by
/// `/inherit/`; `/own/` and the seed's location set their own, which drops
/// the http-level ones; the second server sets one at server level, which
/// drops them for its locations.
const HEADERS_INHERITED: &str = r#"
  proxy_http_version 1.1;
  proxy_set_header Host $host;
  proxy_set_header X-Real-IP $remote_addr;
  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
  proxy_set_header X-Level http;
  server {
    listen LISTEN default_server;
    server_name inherit.test;
    SEED
    location /inherit/ { proxy_pass http://hdr; }
    location /own/ {
        proxy_pass http://hdr;
        proxy_http_version 1.0;
        proxy_set_header X-Level location;
        proxy_set_header X-Empty "";
    }
  }
  server {
    listen LISTEN;
    server_name server-level.test;
    proxy_set_header X-Level server;
    location /inherit/ { proxy_pass http://hdr; }
  }
"#;

/// The client every header probe comes from.
const CLIENT: [u8; 4] = [127, 0, 0, 9];

/// `template` (with LISTEN and SEED) on LISTEN, its `hdr` upstream being `backend`.
fn headers_http<'a>(template: &'a str, backend: &'a Backend) -> impl Fn(SocketAddr) -> String + 'a {
    move |listen| {
        format!("  upstream hdr {{ server {}; }}\n", backend.addr())
            + &template
                .replace("LISTEN", &listen.to_string())
                .replace("SEED", SEED_LOCATION)
    }
}

/// For each (host, path): the request with no extra headers, with a
/// client X-Forwarded-For, with Upgrade, with X-Forwarded-For, Upgrade and
/// X-Real-IP together, and with the hop-by-hop TE and Keep-Alive.
fn header_probes(targets: &[(&str, &str)]) -> Vec<Probe> {
    let mut probes = Vec::new();
    for (host, path) in targets {
        let base = Probe::new(host, path).from_ip(IpAddr::from(CLIENT));
        probes.extend([
            base.clone(),
            base.clone().header("X-Forwarded-For", "10.1.2.3"),
            base.clone().header("Upgrade", "websocket"),
            base.clone()
                .header("X-Forwarded-For", "10.1.2.3, 10.4.5.6")
                .header("Upgrade", "websocket")
                .header("X-Real-IP", "10.9.9.9"),
            base.clone()
                .header("TE", "trailers")
                .header("Keep-Alive", "timeout=5"),
        ]);
    }
    probes
}

/// The two header configs and the (host, path) requests for each.
fn header_cases() -> [(&'static str, &'static str, Vec<Probe>); 2] {
    [
        (
            "headers without http-level proxy_set_header",
            HEADERS_OWN,
            header_probes(&[
                ("Hdr.Test:8080", "/seed/a?q=1"),
                ("Hdr.Test:8080", "/defaults/a?q=1"),
                ("hdr.test", "/xff/a"),
            ]),
        ),
        (
            "headers with http-level proxy_set_header",
            HEADERS_INHERITED,
            header_probes(&[
                ("Inherit.Test:8080", "/inherit/a?q=1"),
                ("inherit.test", "/own/a"),
                ("inherit.test", "/seed/a"),
                ("Server-Level.Test", "/inherit/a"),
            ]),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxied_headers_as_nginx() {
    bounded(LIMIT, async {
        let backend = Backend::start("hdr").await;
        for (what, template, probes) in header_cases() {
            assert_as_nginx(
                what,
                headers_http(template, &backend),
                &probes,
                headers_answer,
            )
            .await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converted_header_configs_answer_as_the_conf() {
    bounded(LIMIT, async {
        let backend = Backend::start("hdr").await;
        for (what, template, probes) in header_cases() {
            assert_convert_equivalent(
                what,
                headers_http(template, &backend),
                &probes,
                headers_answer,
            )
            .await;
        }
    })
    .await;
}

// ---------------------------------------------------------------- URIs

/// `proxy_pass` with and without a URI part, to an upstream and to a URL.
const URIS: &str = r#"
  server {
    listen LISTEN;
    location /api/ { proxy_pass http://up/v1/; }
    location /x { proxy_pass http://up/; }
    location /plain/ { proxy_pass http://up; }
    location = /e { proxy_pass http://DIRECT/other; }
    location / { proxy_pass http://up; }
  }
"#;

/// Targets with queries, escapes, dots and double slashes.
const URI_PATHS: [&str; 28] = [
    "/api/users",
    "/api/users?id=1&x=y",
    "/api/",
    "/api/?q=1",
    "/api",
    "/api/a%20b?q=a%20b",
    "/api/a%2Fb",
    "/api//double",
    "/api/./dot/../x",
    "/api/caf%C3%A9?z=%C3%A9",
    "/x",
    "/xyz",
    "/x/",
    "/x/a/b?c=d",
    "/x?q=1",
    "/xyz?q=1",
    "/plain/a",
    "/plain/a%20b?q=1",
    "/plain/../api/z",
    "/plain//a",
    "/e",
    "/e?x=1",
    "/e?",
    "/e/",
    "/other?y=2",
    "/caf%C3%A9",
    "/?",
    "/a?b=c&d",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_pass_uris_as_nginx() {
    bounded(LIMIT, async {
        let up = Backend::start("up").await;
        let direct = Backend::start("direct").await;
        let http = |listen: SocketAddr| {
            format!("  upstream up {{ server {}; }}\n", up.addr())
                + &URIS
                    .replace("LISTEN", &listen.to_string())
                    .replace("DIRECT", &direct.addr().to_string())
        };
        let probes: Vec<Probe> = URI_PATHS
            .iter()
            .map(|path| Probe::new("uri.test", path))
            .collect();
        assert_as_nginx("proxy_pass URIs", http, &probes, route_answer).await;
    })
    .await;
}
