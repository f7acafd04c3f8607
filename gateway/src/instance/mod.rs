//! One node per state dir and per port. The state dir is claimed with a file
//! lock that dies with the process (no stale locks after a crash), and each
//! claim records who holds it so a second instance can say whom it collided with.

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Who holds a state dir or a port, as written in the lock file and the port registry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Holder {
    pub pid: u32,
    pub port: u16,
    /// Where this machine reaches the node (loopback for a wildcard bind).
    pub addr: SocketAddr,
    pub state_dir: PathBuf,
    pub node: String,
    pub started_at_ms: u64,
}

impl Holder {
    fn describe(&self) -> String {
        format!(
            "the gateway pid {} on port {} (state dir {})",
            self.pid,
            self.port,
            self.state_dir.display()
        )
    }
}

/// A running node's claims; dropping it releases them and removes its records.
pub struct Instance {
    _lock: File,
    pid_path: PathBuf,
    registry_path: PathBuf,
    /// The listening socket, bound before anything else starts.
    pub listener: Option<TcpListener>,
}

/// The lock file inside a state dir.
pub fn lock_path(state_dir: &Path) -> PathBuf {
    state_dir.join("gateway.lock")
}

/// The pid file inside a state dir (a bare pid, for operators' scripts).
pub fn pid_path(state_dir: &Path) -> PathBuf {
    state_dir.join("gateway.pid")
}

fn registry_path(port: u16) -> PathBuf {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    base.join(format!("openclaw-{uid}"))
        .join(format!("port-{port}.json"))
}

impl Instance {
    /// Claims the state dir, then the port. Either failing names the holder.
    pub fn claim(state_dir: &Path, addr: SocketAddr, node: &str) -> Result<Instance, String> {
        std::fs::create_dir_all(state_dir)
            .map_err(|e| format!("cannot create state dir {}: {e}", state_dir.display()))?;
        let path = lock_path(state_dir);
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        if !try_flock(&lock, libc::LOCK_EX) {
            let who = read_holder(&mut lock)
                .map(|h| h.describe())
                .unwrap_or_else(|| "another gateway".to_string());
            return Err(format!(
                "state dir {} is in use by {who}; stop it (`openclaw gateway stop` with the same \
                 profile) or use another --profile / OPENCLAW_STATE_DIR",
                state_dir.display()
            ));
        }
        let listener = bind(addr)?;
        let holder = Holder {
            pid: std::process::id(),
            port: addr.port(),
            addr: local_addr(addr),
            state_dir: state_dir
                .canonicalize()
                .unwrap_or_else(|_| state_dir.to_path_buf()),
            node: node.to_string(),
            started_at_ms: crate::clock::now_ms(),
        };
        let record = serde_json::to_vec_pretty(&holder).expect("holder serialises");
        lock.set_len(0)
            .and_then(|_| lock.rewind())
            .and_then(|_| lock.write_all(&record))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let pid_path = pid_path(state_dir);
        std::fs::write(&pid_path, format!("{}\n", holder.pid))
            .map_err(|e| format!("cannot write {}: {e}", pid_path.display()))?;
        let registry_path = registry_path(addr.port());
        if let Some(dir) = registry_path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&registry_path, &record);
        Ok(Instance {
            _lock: lock,
            pid_path,
            registry_path,
            listener: Some(listener),
        })
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pid_path);
        if let Some(h) = std::fs::read(&self.registry_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Holder>(&b).ok())
        {
            if h.pid == std::process::id() {
                let _ = std::fs::remove_file(&self.registry_path);
            }
        }
    }
}

/// The address a client on this machine uses for a listener on `addr`.
pub fn local_addr(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from(([127, 0, 0, 1], addr.port()))
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port()))
        }
        _ => addr,
    }
}

fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    match TcpListener::bind(addr) {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            let holder = std::fs::read(registry_path(addr.port()))
                .ok()
                .and_then(|b| serde_json::from_slice::<Holder>(&b).ok())
                .filter(|h| process_alive(h.pid));
            Err(match holder {
                Some(h) => format!(
                    "port {} is in use by {}; stop it or choose another port with --port / \
                     OPENCLAW_GATEWAY_PORT / gateway.port",
                    addr.port(),
                    h.describe()
                ),
                None => format!(
                    "port {} is in use by another program (not a gateway this user runs); find it \
                     with `ss -ltnp 'sport = :{}'` or choose another port with --port",
                    addr.port(),
                    addr.port()
                ),
            })
        }
        Err(e) => Err(format!("cannot listen on {addr}: {e}")),
    }
}

/// The node holding a state dir, if one is running there now.
pub fn running_holder(state_dir: &Path) -> Option<Holder> {
    let mut file = File::open(lock_path(state_dir)).ok()?;
    if try_flock(&file, libc::LOCK_SH) {
        // Nobody holds it; the record, if any, is from a node that has stopped.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
        return None;
    }
    read_holder(&mut file)
}

fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

fn try_flock(file: &File, kind: libc::c_int) -> bool {
    // SAFETY: flock on an fd we own.
    unsafe { libc::flock(file.as_raw_fd(), kind | libc::LOCK_NB) == 0 }
}

/// Whether a process with this pid exists.
pub fn process_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}
