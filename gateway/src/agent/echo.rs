//! The built-in agent: replies with the message, a word at a time, so clients
//! see real `delta` events without a model behind the node.

use std::time::Duration;
use tokio::sync::mpsc;

/// How long the echo agent "thinks" before its first word. The official
/// clients take a run as theirs once they have handled `chat.send`'s answer;
/// events that reach them in the same read as that answer are handled first
/// and taken for a foreign run, and `openclaw tui` then waits for a reply
/// that already came. A model never answers that fast; this pause puts the
/// reply in a later read, as a model's first token is.
const FIRST_WORD_AFTER: Duration = Duration::from_millis(50);

/// Streams `message` back word by word, after [`FIRST_WORD_AFTER`].
pub async fn answer(message: &str, chunks: mpsc::Sender<String>) -> Result<(), String> {
    tokio::time::sleep(FIRST_WORD_AFTER).await;
    let mut rest = message;
    while !rest.is_empty() {
        // A chunk is the leading spaces and the word after them.
        let word_start = rest.len() - rest.trim_start().len();
        let cut = rest[word_start..]
            .find(char::is_whitespace)
            .map(|i| i + word_start)
            .unwrap_or(rest.len());
        let (word, tail) = rest.split_at(cut);
        if chunks.send(word.to_string()).await.is_err() {
            break;
        }
        rest = tail;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn streams_the_message_back_in_words() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        super::answer("hello there  world", tx).await.unwrap();
        let mut parts = Vec::new();
        while let Some(p) = rx.recv().await {
            parts.push(p);
        }
        assert_eq!(parts, ["hello", " there", "  world"]);
    }
}
