//! The `local` lease: a file lock (`flock`) for nodes on one machine. The
//! kernel drops the lock when its holder dies, so there is no expiry to renew
//! and no stale lease after a crash. The lock file holds the holder's record;
//! `<file>.epoch` the fencing counter; `<file>.jobs.json` the last tick of
//! each leader-only job and `<file>.runs.jsonl` every recorded run.

use super::{Claim, Fenced, Lease, LeaseError, LeaseRecord, LeaseView};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// A lease on one lock file.
pub struct LocalLease {
    path: PathBuf,
    /// The locked file while this process holds the lease.
    held: Mutex<Option<File>>,
}

fn err(what: &str, path: &Path, e: std::io::Error) -> LeaseError {
    LeaseError(format!("{what} {}: {e}", path.display()))
}

fn try_flock(file: &File, kind: libc::c_int) -> bool {
    // SAFETY: flock on an fd we own.
    unsafe { libc::flock(file.as_raw_fd(), kind | libc::LOCK_NB) == 0 }
}

impl LocalLease {
    /// A lease on `path` (created, with its directory, when first taken).
    pub fn new(path: &Path) -> Self {
        LocalLease {
            path: path.to_path_buf(),
            held: Mutex::new(None),
        }
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    }

    fn open(&self) -> Result<File, LeaseError> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err("cannot create", dir, e))?;
        }
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.path)
            .map_err(|e| err("cannot open", &self.path, e))
    }

    fn epoch(&self) -> u64 {
        std::fs::read_to_string(self.sibling(".epoch"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    fn write_epoch(&self, epoch: u64) -> Result<(), LeaseError> {
        let path = self.sibling(".epoch");
        std::fs::write(&path, format!("{epoch}\n")).map_err(|e| err("cannot write", &path, e))
    }

    fn holds(&self, held: &LeaseRecord) -> bool {
        let guard = self.held.lock().unwrap_or_else(|p| p.into_inner());
        guard.is_some() && self.epoch() == held.epoch
    }
}

fn read_record(file: &mut File) -> Option<LeaseRecord> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    LeaseRecord::parse(text.trim()).ok()
}

#[async_trait]
impl Lease for LocalLease {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn location(&self) -> String {
        format!("file {}", self.path.display())
    }

    async fn acquire(
        &self,
        claim: &Claim,
        _ttl: Duration,
    ) -> Result<Option<LeaseRecord>, LeaseError> {
        let mut guard = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_some() {
            return Ok(None);
        }
        let mut file = self.open()?;
        if !try_flock(&file, libc::LOCK_EX) {
            return Ok(None);
        }
        let epoch = self.epoch() + 1;
        self.write_epoch(epoch)?;
        let mut record = LeaseRecord {
            node: claim.node.clone(),
            role: claim.role.clone(),
            priority: claim.priority,
            epoch,
            address: claim.address.clone(),
            since: crate::clock::now_ms(),
            raw: String::new(),
        };
        record.raw = serde_json::to_string(&record).expect("a record serialises");
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(record.raw.as_bytes()))
            .map_err(|e| err("cannot write", &self.path, e))?;
        *guard = Some(file);
        Ok(Some(record))
    }

    async fn renew(&self, held: &LeaseRecord, _ttl: Duration) -> Result<bool, LeaseError> {
        Ok(self.holds(held))
    }

    async fn release(&self, held: &LeaseRecord) -> Result<bool, LeaseError> {
        if !self.holds(held) {
            return Ok(false);
        }
        let mut guard = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(file) = guard.take() {
            let _ = file.set_len(0);
            // Closing the file drops the lock.
        }
        Ok(true)
    }

    async fn read(&self) -> Result<LeaseView, LeaseError> {
        let now_ms = crate::clock::now_ms();
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(LeaseView {
                    now_ms,
                    ..Default::default()
                })
            }
            Err(e) => return Err(err("cannot open", &self.path, e)),
        };
        let ours = self
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        let held = ours || !try_flock(&file, libc::LOCK_SH);
        if !held {
            // SAFETY: unlocking the shared lock taken just above.
            unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
        }
        Ok(LeaseView {
            holder: if held { read_record(&mut file) } else { None },
            ttl_left: None,
            epoch: self.epoch(),
            now_ms,
        })
    }

    async fn force_clear(&self, seen: &LeaseRecord) -> Result<bool, LeaseError> {
        // A live holder keeps its flock; only a lock nobody holds can be cleared.
        let mut file = self.open()?;
        if !try_flock(&file, libc::LOCK_EX) {
            return Ok(false);
        }
        if read_record(&mut file).is_some_and(|r| r.raw == seen.raw) {
            self.write_epoch(self.epoch() + 1)?;
            let _ = file.set_len(0);
            return Ok(true);
        }
        Ok(false)
    }

    async fn record_run(
        &self,
        held: &LeaseRecord,
        job: &str,
        tick: u64,
    ) -> Result<Fenced, LeaseError> {
        let guard = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() || self.epoch() != held.epoch {
            return Ok(Fenced::Stale);
        }
        let jobs_path = self.sibling(".jobs.json");
        let mut jobs: BTreeMap<String, u64> = std::fs::read(&jobs_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        if jobs.get(job).is_some_and(|last| *last >= tick) {
            return Ok(Fenced::Duplicate);
        }
        jobs.insert(job.to_string(), tick);
        std::fs::write(
            &jobs_path,
            serde_json::to_vec(&jobs).expect("a map serialises"),
        )
        .map_err(|e| err("cannot write", &jobs_path, e))?;
        let runs_path = self.sibling(".runs.jsonl");
        let line = serde_json::json!({"job": job, "tick": tick, "epoch": held.epoch,
            "node": held.node, "at": crate::clock::now_ms()});
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&runs_path)
            .and_then(|mut f| writeln!(f, "{line}"))
            .map_err(|e| err("cannot write", &runs_path, e))?;
        Ok(Fenced::Done)
    }
}
