//! nginx configs run by the edge (`openclaw-edge -c FILE.conf`) and by the
//! real nginx, and the comparison of what clients get from each.
//!
//! An equivalence test renders one http-context text for a listen address,
//! runs it under nginx ([`crate::Nginx::start_http_on`]) and then under the
//! edge ([`ConfEdge::start_main`]) on the same address, sends both the same
//! table of [`Probe`]s and compares the summarised answers row by row
//! ([`assert_same`]): [`assert_as_nginx`], and [`assert_convert_equivalent`]
//! for a `.conf` against its `convert`ed YAML.
//!
//! | item | purpose |
//! |---|---|
//! | [`ConfEdge`] | the edge running a config file: a whole nginx.conf, an http-context fragment, or `convert`ed YAML |
//! | [`check`], [`check_ok`], [`convert_ok`] | `openclaw-edge -t` and `openclaw-edge convert` |
//! | [`Probe`], [`answers`] | a table of requests, sent one at a time |
//! | [`route_answer`], [`headers_answer`] | what an answer says, as one comparable line |
//! | [`differences`], [`assert_same`] | two tables of answers compared row by row |
//! | [`spawn_listening`] | a child process, waited for until it accepts on its addresses |

use crate::client::Response;
use crate::edge::{binary, Finished};
use crate::lifecycle::EdgeFiles;
use crate::nginx::main_conf;
use crate::ports::free_addr;
use crate::process::ChildProcess;
use crate::wait::{accepts, until};
use crate::Request;
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How long a starting edge or nginx may take to accept connections.
const START_LIMIT: Duration = Duration::from_secs(15);
/// How long `-t` or `convert` may take.
const RUN_LIMIT: Duration = Duration::from_secs(15);
/// How long one probe may take to be answered.
const PROBE_LIMIT: Duration = Duration::from_secs(10);

/// Spawns `cmd` (see [`ChildProcess::spawn`]) and waits until every address
/// of `addrs` accepts connections; panics with its logs and `config` if it
/// exits first or is not listening within 15 s.
pub async fn spawn_listening(
    name: &str,
    cmd: &mut Command,
    log_dir: &Path,
    addrs: &[SocketAddr],
    config: &str,
) -> ChildProcess {
    let mut process = ChildProcess::spawn(name, cmd, log_dir);
    let what = format!("{name} to accept connections on {addrs:?}");
    until(&what, START_LIMIT, || {
        if let Some(status) = process.exited() {
            panic!(
                "{name} exited at start ({status}):\n{}\nconfig:\n{config}",
                process.logs()
            );
        }
        let addrs = addrs.to_vec();
        async move {
            for addr in addrs {
                if !accepts(addr).await {
                    return false;
                }
            }
            true
        }
    })
    .await;
    process
}

/// The directory of an [`EdgeFiles`] setup (where its `edge.yaml` goes).
pub fn dir_of(files: &EdgeFiles) -> PathBuf {
    files
        .config_path()
        .parent()
        .expect("edge.yaml lies in a directory")
        .to_path_buf()
}

/// The edge running a config file of its own directory, with
/// `--admin 127.0.0.1:PORT`; killed when dropped.
#[derive(Debug)]
pub struct ConfEdge {
    // Declared before `files`: the process goes first, then its directory.
    process: ChildProcess,
    files: EdgeFiles,
    config: PathBuf,
}

impl ConfEdge {
    /// Writes `text` to the file `name` (`seed.conf`, `edge.yaml`...) in the
    /// directory of `files`, runs `openclaw-edge -c FILE --admin ADMIN`
    /// (ADMIN being `files.admin`) and waits until `files.listen` and the
    /// admin listener accept connections.
    pub async fn start(files: EdgeFiles, name: &str, text: &str) -> ConfEdge {
        let config = dir_of(&files).join(name);
        std::fs::write(&config, text).unwrap_or_else(|e| panic!("{}: {e}", config.display()));
        let addrs = [files.listen, files.admin];
        let mut cmd = Command::new(binary());
        cmd.arg("-c")
            .arg(&config)
            .arg("--admin")
            .arg(files.admin.to_string());
        let process =
            spawn_listening("openclaw-edge", &mut cmd, &dir_of(&files), &addrs, text).await;
        ConfEdge {
            process,
            files,
            config,
        }
    }

    /// Runs the edge on the same whole `nginx.conf` that
    /// [`crate::Nginx::start_http_on`] gives nginx: [`main_conf`] around
    /// `http`, with the pid file and temp paths in the directory of
    /// `files`; the text should listen on `files.listen`.
    pub async fn start_main(files: EdgeFiles, http: &str) -> ConfEdge {
        let text = main_conf(&dir_of(&files), http);
        ConfEdge::start(files, "nginx.conf", &text).await
    }

    /// Stops the edge (killed, like on drop) and gives its files back, for
    /// another run from the same directory.
    pub fn stop(self) -> EdgeFiles {
        let ConfEdge { process, files, .. } = self;
        drop(process);
        files
    }

    /// The (first) proxy listener.
    pub fn addr(&self) -> SocketAddr {
        self.files.listen
    }

    /// Its files and admin queries (`/api/status`, server states).
    pub fn files(&self) -> &EdgeFiles {
        &self.files
    }

    /// The config file it runs.
    pub fn config(&self) -> &Path {
        &self.config
    }
}

/// Runs `openclaw-edge ARGS` to its end, its output logged in a temp dir;
/// panics if it is still running after 15 s. `config` is the file the
/// arguments name ([`Finished::config_file`]).
async fn run_to_exit(args: &[&std::ffi::OsStr], config: &Path) -> Finished {
    let mut cmd = Command::new(binary());
    cmd.args(args);
    let logs = tempfile::Builder::new()
        .prefix("openclaw-edge-run-")
        .tempdir()
        .expect("temp dir");
    let mut process = ChildProcess::spawn("openclaw-edge", &mut cmd, logs.path());
    let Some(status) = process.wait_exit(RUN_LIMIT).await else {
        panic!("openclaw-edge {args:?} still runs after {RUN_LIMIT:?}; expected it to exit");
    };
    Finished {
        status,
        stdout: process.stdout(),
        stderr: process.stderr(),
        config_file: config.display().to_string(),
    }
}

/// `openclaw-edge -t EXTRA... -c CONFIG`, run to its end.
pub async fn check(config: &Path, extra: &[&str]) -> Finished {
    let mut args: Vec<&std::ffi::OsStr> = vec!["-t".as_ref()];
    args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
    args.extend(["-c".as_ref(), config.as_os_str()]);
    run_to_exit(&args, config).await
}

/// The non-empty lines of a run's stderr (its warnings); panics if one
/// naming the config file is not of the form `FILE:LINE: warning: message`
/// (an error).
fn warnings(run: &Finished) -> Vec<String> {
    let prefix = format!("{}:", run.config_file);
    let mut out = Vec::new();
    for line in run.stderr.lines().filter(|l| !l.trim().is_empty()) {
        let located = line.strip_prefix(&prefix).and_then(|rest| {
            let (number, message) = rest.split_once(": ")?;
            number.parse::<usize>().ok()?;
            message.strip_prefix("warning: ")
        });
        assert!(
            located.is_some() || !line.starts_with(&prefix),
            "`{line}` is not of the form `{}:LINE: warning: message`; stderr:\n{}",
            run.config_file,
            run.stderr
        );
        out.push(line.to_string());
    }
    out
}

/// `openclaw-edge -t -c CONFIG` must exit 0 saying `configuration OK:
/// CONFIG`, with only `FILE:LINE: warning: ...` lines on stderr; returns
/// those lines (also printed, for the test's output).
pub async fn check_ok(config: &Path) -> Vec<String> {
    let run = check(config, &[]).await;
    let report = format!(
        "openclaw-edge -t -c {}\nexit: {}\nstdout:\n{}\nstderr:\n{}\nconfig:\n{}",
        run.config_file,
        run.status,
        run.stdout,
        run.stderr,
        std::fs::read_to_string(config).unwrap_or_default()
    );
    assert_eq!(run.status.code(), Some(0), "{report}");
    assert!(
        run.stdout
            .lines()
            .any(|l| l.trim() == format!("configuration OK: {}", run.config_file)),
        "stdout must say `configuration OK: {}`; {report}",
        run.config_file
    );
    let found = warnings(&run);
    for w in &found {
        println!("-t warning: {w}");
    }
    found
}

/// `openclaw-edge convert CONFIG`: must exit 0 with only warnings on
/// stderr; returns the YAML it printed.
pub async fn convert_ok(config: &Path) -> String {
    let run = run_to_exit(&["convert".as_ref(), config.as_os_str()], config).await;
    assert_eq!(
        run.status.code(),
        Some(0),
        "openclaw-edge convert {}\nstdout:\n{}\nstderr:\n{}",
        run.config_file,
        run.stdout,
        run.stderr
    );
    for w in warnings(&run) {
        println!("convert warning: {w}");
    }
    assert!(
        !run.stdout.trim().is_empty(),
        "convert printed no YAML; stderr:\n{}",
        run.stderr
    );
    run.stdout
}

/// One request of a table: `GET path` with `Host: host`, extra header
/// lines, optionally from a chosen client address.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The `Host` header.
    pub host: String,
    /// The request target, sent as is (query, dots and escapes included).
    pub path: String,
    /// Further header lines.
    pub headers: Vec<(String, String)>,
    /// The client address (127.x.y.z), if not the default.
    pub from: Option<IpAddr>,
}

impl Probe {
    /// `GET path` with `Host: host`.
    pub fn new(host: &str, path: &str) -> Probe {
        Probe {
            host: host.to_string(),
            path: path.to_string(),
            headers: Vec::new(),
            from: None,
        }
    }

    /// Adds a header line.
    pub fn header(mut self, name: &str, value: &str) -> Probe {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sends from `ip`.
    pub fn from_ip(mut self, ip: IpAddr) -> Probe {
        self.from = Some(ip);
        self
    }

    /// The probe as a table row's label.
    pub fn label(&self) -> String {
        let mut out = format!("GET {} Host: {}", self.path, self.host);
        for (k, v) in &self.headers {
            out.push_str(&format!(", {k}: {v}"));
        }
        if let Some(ip) = self.from {
            out.push_str(&format!(" (from {ip})"));
        }
        out
    }

    /// The request to `target`.
    fn request(&self, target: SocketAddr) -> Request {
        let mut req = Request::get(target, &self.path).header("Host", &self.host);
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        match self.from {
            Some(ip) => req.from_ip(ip),
            None => req,
        }
    }
}

/// Labels of `probes`, for [`assert_same`].
pub fn labels(probes: &[Probe]) -> Vec<String> {
    probes.iter().map(Probe::label).collect()
}

/// Sends every probe to `target`, one at a time, and summarises each answer
/// with `summary`; a failed request is an answer too (`error: ...`).
pub async fn answers(
    target: SocketAddr,
    probes: &[Probe],
    summary: fn(&Response) -> String,
) -> Vec<String> {
    let mut out = Vec::with_capacity(probes.len());
    for probe in probes {
        let answer = match tokio::time::timeout(PROBE_LIMIT, probe.request(target).send()).await {
            Ok(Ok(resp)) => summary(&resp),
            Ok(Err(e)) => format!("error: {e}"),
            Err(_) => format!("error: no answer within {PROBE_LIMIT:?}"),
        };
        out.push(answer);
    }
    out
}

/// The JSON report of a test backend, if `resp` is one.
fn backend_report(resp: &Response) -> Option<Value> {
    let json: Value = serde_json::from_slice(&resp.body).ok()?;
    json.get("name")?.as_str()?;
    Some(json)
}

/// Where a request ended: the backend (by name) and the method and target
/// it received; or a redirect and its `Location`; or a 200 body (a
/// `return`); or, for other statuses, the status alone (nginx's and the
/// edge's error pages differ by design).
pub fn route_answer(resp: &Response) -> String {
    if let Some(json) = backend_report(resp) {
        return format!(
            "{} from backend {} which got {} {}",
            resp.status,
            json["name"].as_str().unwrap_or_default(),
            json["method"].as_str().unwrap_or_default(),
            json["path"].as_str().unwrap_or_default()
        );
    }
    match resp.status {
        300..=399 => format!(
            "{} Location: {}",
            resp.status,
            resp.header("location").unwrap_or("(none)")
        ),
        200 => format!("200 body {:?}", resp.text()),
        status => format!("{status} (not from a backend)"),
    }
}

/// What the backend received: the request line's HTTP version, the target,
/// and every header line as `name: value`, sorted (the order of header
/// lines carries no meaning). Not a backend's answer: the status.
pub fn headers_answer(resp: &Response) -> String {
    let Some(json) = backend_report(resp) else {
        return format!("{} (not from a backend): {}", resp.status, resp.text());
    };
    let mut headers: Vec<String> = json["headers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|pair| {
            format!(
                "{}: {}",
                pair[0].as_str().unwrap_or_default(),
                pair[1].as_str().unwrap_or_default()
            )
        })
        .collect();
    headers.sort();
    format!(
        "{} {} [{}]",
        json["version"].as_str().unwrap_or("(version not reported)"),
        json["path"].as_str().unwrap_or_default(),
        headers.join(" | ")
    )
}

/// The rows where `left` and `right` differ, each as
/// `label\n    LEFT_NAME:  answer\n    RIGHT_NAME: answer`.
pub fn differences(
    labels: &[String],
    (left_name, left): (&str, &[String]),
    (right_name, right): (&str, &[String]),
) -> Vec<String> {
    assert_eq!(labels.len(), left.len(), "one {left_name} answer per row");
    assert_eq!(labels.len(), right.len(), "one {right_name} answer per row");
    labels
        .iter()
        .zip(left.iter().zip(right))
        .filter(|(_, (l, r))| l != r)
        .map(|(label, (l, r))| {
            format!("{label}\n    {left_name:<6}: {l}\n    {right_name:<6}: {r}")
        })
        .collect()
}

/// Panics, listing every differing row, unless `left` and `right` agree
/// on every row; `what` names the table.
pub fn assert_same(
    what: &str,
    labels: &[String],
    left: (&str, &[String]),
    right: (&str, &[String]),
) {
    let (left_name, right_name) = (left.0, right.0);
    let differing = differences(labels, left, right);
    assert!(
        differing.is_empty(),
        "{what}: {} of {} rows differ between {left_name} and {right_name}:\n{}",
        differing.len(),
        labels.len(),
        differing.join("\n")
    );
}

/// [`EdgeFiles`] whose proxy listener is `listen`.
fn files_on(listen: SocketAddr) -> EdgeFiles {
    let mut files = EdgeFiles::new();
    files.listen = listen;
    files
}

/// Runs the http-context text `http(ADDR)` (ADDR a fresh loopback address)
/// as a whole nginx.conf under nginx, then under the edge on the same
/// address, so that the two get the very same text; sends each the
/// `probes` and asserts that every answer, as `summary` puts it, is the
/// same; then checks that `-t` accepts the edge's file. Returns nginx's
/// answers.
pub async fn assert_as_nginx(
    what: &str,
    http: impl FnOnce(SocketAddr) -> String,
    probes: &[Probe],
    summary: fn(&Response) -> String,
) -> Vec<String> {
    let listen = free_addr();
    let text = http(listen);
    let via_nginx = {
        let nginx = crate::Nginx::start_http_on(listen, &text).await;
        answers(nginx.addr(), probes, summary).await
    };
    let edge = ConfEdge::start_main(files_on(listen), &text).await;
    let via_edge = answers(edge.addr(), probes, summary).await;
    assert_same(
        what,
        &labels(probes),
        ("nginx", &via_nginx),
        ("edge", &via_edge),
    );
    check_ok(edge.config()).await;
    via_nginx
}

/// Runs the http-context text `http(ADDR)` as a whole nginx.conf under the
/// edge, then, on the same address, the YAML that `openclaw-edge convert`
/// makes of that file; asserts that both answer every probe the same.
pub async fn assert_convert_equivalent(
    what: &str,
    http: impl FnOnce(SocketAddr) -> String,
    probes: &[Probe],
    summary: fn(&Response) -> String,
) {
    let listen = free_addr();
    let from_conf = ConfEdge::start_main(files_on(listen), &http(listen)).await;
    let via_conf = answers(from_conf.addr(), probes, summary).await;
    let conf = from_conf.config().to_path_buf();
    let files = from_conf.stop();
    let yaml = convert_ok(&conf).await;
    println!("convert {}:\n{yaml}", conf.display());
    let from_yaml = ConfEdge::start(files, "edge.yaml", &yaml).await;
    let via_yaml = answers(from_yaml.addr(), probes, summary).await;
    assert_same(
        &format!("{what}, the .conf run against its converted YAML (printed above)"),
        &labels(probes),
        (".conf", &via_conf),
        ("yaml", &via_yaml),
    );
}
