//! An agent that is a program: run in the workspace, message on stdin, stdout
//! streamed as the reply. A non-zero exit or the timeout is an error whose
//! message carries the end of stderr.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::sync::mpsc;

/// How much of stderr an error message quotes.
const STDERR_TAIL: usize = 2048;

/// Runs `argv` and streams its stdout.
pub async fn answer(
    argv: &[String],
    timeout: Duration,
    workspace: &Path,
    env: &[(&str, &str)],
    message: &str,
    chunks: mpsc::Sender<String>,
) -> Result<(), String> {
    std::fs::create_dir_all(workspace)
        .map_err(|e| format!("cannot create the workspace {}: {e}", workspace.display()))?;
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(workspace)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start agent command `{}`: {e}", argv[0]))?;
    let mut stdin = child.stdin.take().expect("piped");
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let input = message.to_string();
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(input.as_bytes()).await;
    });
    let errors = tokio::spawn(async move {
        let mut all = Vec::new();
        let _ = stderr.read_to_end(&mut all).await;
        let start = all.len().saturating_sub(STDERR_TAIL);
        String::from_utf8_lossy(&all[start..]).trim().to_string()
    });
    let work = async {
        let mut buf = vec![0u8; 4096];
        let mut pending = Vec::new();
        loop {
            let n = stdout.read(&mut buf).await.map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            pending.extend_from_slice(&buf[..n]);
            // Send whole UTF-8 characters only; keep a split one for the next read.
            let valid = match std::str::from_utf8(&pending) {
                Ok(_) => pending.len(),
                Err(e) if e.error_len().is_none() => e.valid_up_to(),
                Err(_) => pending.len(),
            };
            let text = String::from_utf8_lossy(&pending[..valid]).into_owned();
            pending.drain(..valid);
            if !text.is_empty() && chunks.send(text).await.is_err() {
                break;
            }
        }
        child.wait().await.map_err(|e| e.to_string())
    };
    let status = match tokio::time::timeout(timeout, work).await {
        Ok(status) => status?,
        Err(_) => {
            let _ = child.kill().await;
            writer.abort();
            return Err(format!(
                "agent command timed out after {}s",
                timeout.as_secs_f64()
            ));
        }
    };
    writer.abort();
    let stderr = errors.await.unwrap_or_default();
    if status.success() {
        Ok(())
    } else {
        let code = status
            .code()
            .map(|c| format!("status {c}"))
            .unwrap_or_else(|| "a signal".to_string());
        Err(if stderr.is_empty() {
            format!("agent command exited with {code}")
        } else {
            format!("agent command exited with {code}: {stderr}")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(script: &str, timeout_ms: u64) -> (Result<(), String>, String) {
        let dir = tempfile::tempdir().unwrap();
        let argv = vec!["sh".to_string(), "-c".to_string(), script.to_string()];
        let (tx, mut rx) = mpsc::channel(64);
        let result = answer(
            &argv,
            Duration::from_millis(timeout_ms),
            dir.path(),
            &[("X", "1")],
            "hi",
            tx,
        )
        .await;
        let mut out = String::new();
        while let Ok(p) = rx.try_recv() {
            out.push_str(&p);
        }
        (result, out)
    }

    #[tokio::test]
    async fn stdin_in_stdout_out_in_the_workspace() {
        let (r, out) = run(
            "read m; echo \"got $m X=$X in $(basename $PWD | cut -c1-3)\"",
            5000,
        )
        .await;
        r.unwrap();
        assert_eq!(out, "got hi X=1 in .tm\n");
    }

    #[tokio::test]
    async fn failures_and_timeouts_are_errors() {
        let (r, _) = run("echo boom >&2; exit 3", 5000).await;
        assert_eq!(r.unwrap_err(), "agent command exited with status 3: boom");
        let (r, out) = run("echo partial; sleep 5", 300).await;
        assert!(r.unwrap_err().contains("timed out"));
        assert_eq!(out, "partial\n");
    }
}
