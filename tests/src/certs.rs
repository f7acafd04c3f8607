//! Certificates for TLS tests, made with the `openssl` command line (the
//! tool operators use): a test CA, leaf certificates for DNS names signed
//! by it (re-issued with a new serial on demand), an expired one, and what
//! a TLS server presents, read with `openssl s_client`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A CA in a directory; leaf files are `NAME.pem` and `NAME.key` beside it.
pub struct TestCa {
    dir: PathBuf,
}

/// Runs `openssl ARGS` in `dir` (bounded by `timeout 20`), panicking with
/// its stderr on failure; returns stdout.
pub fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .arg("20")
        .arg("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl TestCa {
    /// A new CA (`ca.pem`, `ca.key`, EC P-256) in `dir`.
    pub fn new(dir: &Path) -> TestCa {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=openclaw test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        );
        TestCa {
            dir: dir.to_path_buf(),
        }
    }

    /// The CA certificate, for clients to trust.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// `NAME.pem` and `NAME.key` for DNS name `name`, valid for a day; a
    /// second call keeps the key and issues a new certificate (new serial).
    pub fn issue(&self, name: &str) -> (PathBuf, PathBuf) {
        if !self.dir.join(format!("{name}.key")).exists() {
            self.new_key(name);
        }
        self.sign(name, &["x509", "-req", "-days", "1"])
    }

    /// `NAME.pem` and `NAME.key` for `name`, valid only in January 2020.
    pub fn expired(&self, name: &str) -> (PathBuf, PathBuf) {
        self.new_key(name);
        let db = self.dir.join(format!("{name}.db"));
        std::fs::create_dir_all(&db).expect("ca db dir");
        std::fs::write(db.join("index.txt"), "").expect("index.txt");
        std::fs::write(db.join("serial"), "01\n").expect("serial");
        let d = db.display();
        let conf = format!(
            "[ca]\ndefault_ca = d\n[d]\ndatabase = {d}/index.txt\nnew_certs_dir = {d}\n\
             serial = {d}/serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n"
        );
        std::fs::write(db.join("ca.cnf"), conf).expect("ca.cnf");
        let csr = format!("{name}.csr");
        openssl(
            &self.dir,
            &[
                "req",
                "-new",
                "-key",
                &format!("{name}.key"),
                "-subj",
                &format!("/CN={name}"),
                "-out",
                &csr,
            ],
        );
        openssl(
            &self.dir,
            &[
                "ca",
                "-batch",
                "-config",
                &format!("{d}/ca.cnf"),
                "-cert",
                "ca.pem",
                "-keyfile",
                "ca.key",
                "-in",
                &csr,
                "-out",
                &format!("{name}.pem"),
                "-startdate",
                "20200101000000Z",
                "-enddate",
                "20200201000000Z",
                "-notext",
            ],
        );
        (
            self.dir.join(format!("{name}.pem")),
            self.dir.join(format!("{name}.key")),
        )
    }

    /// A new EC P-256 key in `NAME.key`.
    fn new_key(&self, name: &str) {
        let out = format!("{name}.key");
        openssl(
            &self.dir,
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                &out,
            ],
        );
    }

    /// Signs a request for `name` with `how` (`x509 -req ...`) into `NAME.pem`.
    fn sign(&self, name: &str, how: &[&str]) -> (PathBuf, PathBuf) {
        let (key, csr, ext, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.ext"),
            format!("{name}.pem"),
        );
        openssl(
            &self.dir,
            &[
                "req",
                "-new",
                "-key",
                &key,
                "-subj",
                &format!("/CN={name}"),
                "-out",
                &csr,
            ],
        );
        std::fs::write(self.dir.join(&ext), format!("subjectAltName=DNS:{name}\n")).expect("ext");
        let mut args: Vec<&str> = how.to_vec();
        args.extend([
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-extfile",
            &ext,
            "-out",
            &pem,
        ]);
        openssl(&self.dir, &args);
        (self.dir.join(pem), self.dir.join(key))
    }
}

/// What a TLS server presents at `addr` for SNI `name` (none: no SNI):
/// the leaf's `CN` and serial, or `None` when the handshake fails.
pub fn presented(addr: SocketAddr, name: Option<&str>) -> Option<(String, String)> {
    let mut args = vec!["s_client".to_string(), "-connect".into(), addr.to_string()];
    match name {
        Some(n) => args.extend(["-servername".to_string(), n.to_string()]),
        None => args.push("-noservername".into()),
    }
    let out = Command::new("timeout")
        .arg("20")
        .arg("openssl")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let start = text.find("-----BEGIN CERTIFICATE-----")?;
    let end = text.find("-----END CERTIFICATE-----")? + "-----END CERTIFICATE-----".len();
    let mut x509 = Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-subject",
            "-serial",
            "-nameopt",
            "multiline",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    use std::io::Write;
    x509.stdin
        .take()?
        .write_all(text[start..end].as_bytes())
        .ok()?;
    let info = String::from_utf8_lossy(&x509.wait_with_output().ok()?.stdout).into_owned();
    let cn = info
        .lines()
        .find_map(|l| l.trim().strip_prefix("commonName"))
        .map(|v| v.trim().trim_start_matches('=').trim().to_string())?;
    let serial = info
        .lines()
        .find_map(|l| l.strip_prefix("serial="))?
        .to_string();
    Some((cn, serial))
}

/// The serial of the certificate in `pem`.
pub fn serial_of(pem: &Path) -> String {
    let dir = pem.parent().unwrap_or(Path::new("."));
    openssl(
        dir,
        &[
            "x509",
            "-noout",
            "-serial",
            "-in",
            &pem.display().to_string(),
        ],
    )
    .trim()
    .trim_start_matches("serial=")
    .to_string()
}
