//! The cluster beside a local lock file `<file>`: one record per node in
//! `<file>.nodes/<node>.json` and the promote marker in `<file>.preferred`
//! (`node expires_ms`). There is no message channel: every node is on this
//! machine, so commands signal a node's pid, and the elector polls the marker.

use super::{Cluster, Control, NodeRecord};
use crate::clock::now_ms;
use crate::ha::lease::LeaseError;
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The cluster beside one lock file.
pub struct LocalCluster {
    nodes_dir: PathBuf,
    marker: PathBuf,
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn io(what: &str, path: &Path, e: std::io::Error) -> LeaseError {
    LeaseError(format!("{what} {}: {e}", path.display()))
}

impl LocalCluster {
    /// The cluster beside the lock file `lock`.
    pub fn new(lock: &Path) -> Self {
        LocalCluster {
            nodes_dir: suffixed(lock, ".nodes"),
            marker: suffixed(lock, ".preferred"),
        }
    }
}

#[async_trait]
impl Cluster for LocalCluster {
    async fn beat(&self, record: &NodeRecord) -> Result<(), LeaseError> {
        std::fs::create_dir_all(&self.nodes_dir)
            .map_err(|e| io("cannot create", &self.nodes_dir, e))?;
        let mut record = record.clone();
        record.last_seen = now_ms();
        let path = self.nodes_dir.join(format!("{}.json", record.node));
        let tmp = path.with_extension("json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec(&record).expect("a record serialises"),
        )
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| io("cannot write", &path, e))
    }

    async fn nodes(&self) -> Result<(Vec<NodeRecord>, u64), LeaseError> {
        let mut nodes = Vec::new();
        if let Ok(dir) = std::fs::read_dir(&self.nodes_dir) {
            for entry in dir.flatten() {
                if entry.path().extension().is_some_and(|e| e == "json") {
                    if let Some(r) = std::fs::read(entry.path())
                        .ok()
                        .and_then(|b| serde_json::from_slice::<NodeRecord>(&b).ok())
                    {
                        nodes.push(r);
                    }
                }
            }
        }
        nodes.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.node.cmp(&b.node)));
        Ok((nodes, now_ms()))
    }

    async fn preferred(&self) -> Result<Option<String>, LeaseError> {
        let Ok(text) = std::fs::read_to_string(&self.marker) else {
            return Ok(None);
        };
        let mut parts = text.split_whitespace();
        let (Some(node), Some(until)) = (parts.next(), parts.next()) else {
            return Ok(None);
        };
        Ok((until.parse::<u64>().unwrap_or(0) > now_ms()).then(|| node.to_string()))
    }

    async fn set_preferred(&self, node: &str, ttl: Duration) -> Result<(), LeaseError> {
        let until = now_ms() + ttl.as_millis() as u64;
        std::fs::write(&self.marker, format!("{node} {until}\n"))
            .map_err(|e| io("cannot write", &self.marker, e))
    }

    async fn clear_preferred(&self, node: &str) -> Result<(), LeaseError> {
        if self.preferred().await?.as_deref() == Some(node) {
            let _ = std::fs::remove_file(&self.marker);
        }
        Ok(())
    }

    async fn send(&self, _message: &Control) -> Result<Option<usize>, LeaseError> {
        Ok(None)
    }
}
