//! Child processes that cannot outlive their test.
//!
//! A [`ChildProcess`] is killed when dropped: at the end of a test, on a
//! failed assertion, and on a timeout from [`crate::bounded`]. Its stdout and
//! stderr go to files (not pipes, which would block a chatty child nobody
//! reads), and when it is dropped during a panic those files are printed, so
//! a failing test shows what the edge or nginx said. Should the test binary
//! itself be killed (a CI timeout), the kernel ends the children too
//! (`PR_SET_PDEATHSIG`), so no stray edge keeps a port. [`filter`] runs a
//! short command on some input, for what the harness asks of system tools.

use std::fs::File;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// A running child with its output captured to files.
#[derive(Debug)]
pub struct ChildProcess {
    name: String,
    child: std::process::Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl ChildProcess {
    /// Spawns `cmd` with stdout and stderr written to `NAME.stdout` and
    /// `NAME.stderr` in `log_dir`. Panics with the command line if it
    /// cannot be started.
    pub fn spawn(name: &str, cmd: &mut Command, log_dir: &Path) -> ChildProcess {
        let stdout = log_dir.join(format!("{name}.stdout"));
        let stderr = log_dir.join(format!("{name}.stderr"));
        let create = |p: &Path| File::create(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(create(&stdout))
            .stderr(create(&stderr))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        ChildProcess {
            name: name.to_string(),
            child,
            stdout,
            stderr,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the child has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits up to `limit` for the child to exit by itself.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Everything the child wrote to stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Everything the child wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Both outputs, labelled, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "----- {name} stdout -----\n{}\n----- {name} stderr -----\n{}\n----- end of {name} -----",
            tail(&self.stdout()),
            tail(&self.stderr()),
            name = self.name
        )
    }
}

/// The last 200 lines of `text`: enough to diagnose, short enough to read.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(200);
    let mut out = if skip > 0 {
        format!("[... {skip} earlier lines ...]\n")
    } else {
        String::new()
    };
    out.push_str(&lines[skip..].join("\n"));
    out
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
    }
}

/// Runs a short filter (`md5sum`, `promtool check metrics`) to its end with
/// `input` on its stdin; its output. It must read all of its input before
/// writing much, as such filters do.
pub fn filter(cmd: &mut Command, input: &[u8]) -> std::io::Result<Output> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().expect("piped stdin").write_all(input)?;
    child.wait_with_output()
}

/// `name` on the PATH; panics with one line saying which Debian package
/// provides it.
pub fn on_path(name: &str, package: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} not found: install the Debian package `{package}` (apt-get install {package}; CI installs it)")
        })
}
