//! The built-in agent: replies with the message, a word at a time, so clients
//! see real `delta` events without a model behind the node.

use tokio::sync::mpsc;

/// Streams `message` back word by word.
pub async fn answer(message: &str, chunks: mpsc::Sender<String>) -> Result<(), String> {
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
