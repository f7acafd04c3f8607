//! `start`, `stop` and `status`: a node in the background, found through the
//! lock record in its state dir.

use super::{probe, Global};
use crate::config::{Locations, Settings};
use crate::instance::{self, Holder};
use serde_json::json;
use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn log_path(state_dir: &Path) -> PathBuf {
    state_dir.join("logs").join("gateway.log")
}

/// Starts `openclaw gateway run` detached, logging to the state dir, and waits
/// for `/health`.
pub fn start(g: &Global, s: &Settings, wait: u64) -> Result<i32, String> {
    s.check_exposure()?;
    let state_dir = &s.locations.state_dir.value;
    if let Some(h) = instance::running_holder(state_dir) {
        return Err(format!(
            "already running: pid {} on port {} (state dir {}); `openclaw gateway restart` to restart it",
            h.pid,
            h.port,
            h.state_dir.display()
        ));
    }
    let log = log_path(state_dir);
    std::fs::create_dir_all(log.parent().expect("log has a dir"))
        .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find my own binary: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.args(g.passthrough())
        .args(["gateway", "run"])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    // SAFETY: setsid is async-signal-safe; it detaches the node from our terminal.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start the node: {e}"))?;
    let addr = instance::local_addr(SocketAddr::new(s.bind.value, s.port.value));
    let deadline = Instant::now() + Duration::from_secs(wait);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "the node exited during start ({status}); last lines of {}:\n{}",
                log.display(),
                tail(&log, 10)
            ));
        }
        if matches!(probe::get(addr, "/health"), Ok((200, _))) {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "no answer from http://{addr}/health within {wait}s (pid {} still running); see {}",
                child.id(),
                log.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let facts = json!({
        "pid": child.id(), "port": s.port.value, "stateDir": state_dir,
        "log": log, "node": s.node, "url": format!("ws://{addr}"),
    });
    if g.json {
        println!("{facts:#}");
    } else {
        println!(
            "gateway started: pid {}, port {}, state dir {}, log {}",
            child.id(),
            s.port.value,
            state_dir.display(),
            log.display()
        );
    }
    Ok(0)
}

/// Sends SIGTERM to the node of this state dir and waits until it has exited.
pub fn stop(g: &Global, l: &Locations, wait: u64) -> Result<i32, String> {
    let state_dir = &l.state_dir.value;
    let Some(h) = instance::running_holder(state_dir) else {
        if g.json {
            println!(
                "{}",
                json!({"stopped": false, "running": false, "stateDir": state_dir})
            );
        } else {
            println!("gateway not running (state dir {})", state_dir.display());
        }
        return Ok(0);
    };
    // SAFETY: sending a signal to a pid read from our own lock record.
    if unsafe { libc::kill(h.pid as libc::pid_t, libc::SIGTERM) } != 0 {
        return Err(format!(
            "cannot signal pid {}: {}",
            h.pid,
            std::io::Error::last_os_error()
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(wait);
    while instance::running_holder(state_dir).is_some() || instance::process_alive(h.pid) {
        if Instant::now() > deadline {
            return Err(format!(
                "pid {} did not stop within {wait}s; `kill -9 {}` forces it",
                h.pid, h.pid
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if g.json {
        println!(
            "{}",
            json!({"stopped": true, "pid": h.pid, "port": h.port, "stateDir": h.state_dir})
        );
    } else {
        println!("gateway stopped (pid {}, port {})", h.pid, h.port);
    }
    Ok(0)
}

/// Prints whether the node runs and is ready; exit code 3 when it does not run.
pub fn status(g: &Global, l: &Locations) -> Result<i32, String> {
    let state_dir = &l.state_dir.value;
    let log = log_path(state_dir);
    let Some(h) = instance::running_holder(state_dir) else {
        if g.json {
            println!(
                "{:#}",
                json!({"running": false, "stateDir": state_dir, "config": l.config_path.value, "profile": l.profile})
            );
        } else {
            println!("gateway not running");
            println!(
                "  state dir  {} ({})",
                state_dir.display(),
                l.state_dir.source
            );
            println!("  config     {}", l.config_path.value.display());
        }
        return Ok(3);
    };
    let (ready, reasons) = readiness(&h);
    let uptime_s = crate::clock::now_ms().saturating_sub(h.started_at_ms) / 1000;
    if g.json {
        println!(
            "{:#}",
            json!({
                "running": true, "pid": h.pid, "port": h.port, "node": h.node, "url": format!("ws://{}", h.addr),
                "stateDir": h.state_dir, "config": l.config_path.value, "log": log, "profile": l.profile,
                "uptimeSeconds": uptime_s, "ready": ready, "reasons": reasons,
            })
        );
    } else {
        println!(
            "gateway running: pid {}, port {}, node {}",
            h.pid, h.port, h.node
        );
        println!("  url        ws://{}", h.addr);
        println!("  state dir  {}", h.state_dir.display());
        println!("  config     {}", l.config_path.value.display());
        println!("  log        {}", log.display());
        println!("  uptime     {uptime_s}s");
        if ready {
            println!("  ready      yes");
        } else {
            println!("  ready      no: {}", reasons.join("; "));
        }
    }
    Ok(0)
}

fn readiness(h: &Holder) -> (bool, Vec<String>) {
    match probe::get(h.addr, "/ready") {
        Ok((200, _)) => (true, Vec::new()),
        Ok((_, body)) => {
            let reasons = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("reasons").cloned())
                .and_then(|r| serde_json::from_value(r).ok())
                .unwrap_or_else(|| vec![body.trim().to_string()]);
            (false, reasons)
        }
        Err(e) => (false, vec![format!("no answer from /ready: {e}")]),
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
