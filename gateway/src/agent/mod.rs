//! Agents answer chat messages. `echo` (the default) streams the message back;
//! a configured command gets the message on stdin and its stdout is the reply.
//! Both stream text chunks into a channel; `run` turns them into chat events.

pub mod command;
pub mod echo;
pub mod run;

use crate::config::AgentSpec;
use std::path::Path;
use tokio::sync::mpsc;

/// Produces the reply to `message`, sending text chunks as they come.
/// `Err` is a message for the user (`state:"error"`).
pub async fn answer(
    spec: &AgentSpec,
    workspace: &Path,
    env: &[(&str, &str)],
    message: &str,
    chunks: mpsc::Sender<String>,
) -> Result<(), String> {
    match &spec.command {
        None => echo::answer(message, chunks).await,
        Some(argv) => command::answer(argv, spec.timeout, workspace, env, message, chunks).await,
    }
}
