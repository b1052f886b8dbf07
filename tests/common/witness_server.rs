//! An `idledger witness serve` process for tests, on a free port of 127.0.0.1, killed when
//! dropped, and its `POST /add-checkpoint` over a new connection.

use super::{first_line_after, idledger, ok, path};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

/// A running witness.
pub struct Witness {
    child: Child,
    pub addr: SocketAddr,
}

/// A witness's answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
}

impl Witness {
    /// Starts a witness named `name` with its key in `keys` and its state in `state`,
    /// witnessing each `ORIGIN=VKEY` of `logs`.
    pub fn start(keys: &Path, state: &Path, name: &str, logs: &[String]) -> Witness {
        Witness::start_on(keys, state, name, logs, "127.0.0.1:0")
    }

    /// As `start`, listening on `listen`.
    pub fn start_on(
        keys: &Path,
        state: &Path,
        name: &str,
        logs: &[String],
        listen: &str,
    ) -> Witness {
        let mut args = vec![
            "witness".to_owned(),
            "serve".to_owned(),
            "--key-dir".to_owned(),
            path(keys).to_owned(),
            "--state".to_owned(),
            path(state).to_owned(),
            "--listen".to_owned(),
            listen.to_owned(),
            "--name".to_owned(),
            name.to_owned(),
        ];
        for l in logs {
            args.extend(["--log".to_owned(), l.clone()]);
        }
        let mut child = idledger(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("witness");
        let addr = first_line_after(&mut child, "listening on http://")
            .parse()
            .expect("an address");
        Witness { child, addr }
    }

    /// `POST /add-checkpoint` with `body`.
    pub fn post(&self, body: &[u8]) -> Reply {
        post_to(self.addr, body).expect("the witness answers")
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("wait");
    }
}

/// `POST /add-checkpoint` with `body` to `addr`, or `None` when the connection fails or closes
/// before a whole answer (the witness was killed).
pub fn post_to(addr: SocketAddr, body: &[u8]) -> Option<Reply> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(
        s,
        "POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .ok()?;
    s.write_all(body).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let status = head.get(9..12).and_then(|s| s.parse().ok())?;
    let content_type = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.trim().to_owned());
    Some(Reply {
        status,
        content_type,
        body: String::from_utf8_lossy(&raw[end + 4..]).into_owned(),
    })
}

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The ledger's latest checkpoint note (as `idledger checkpoint` prints it) and its size.
pub fn checkpoint(dir: &Path) -> (String, u64) {
    let note = ok(&["checkpoint", "--data", path(dir)], None);
    let size = note
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .expect("a size line");
    (note, size)
}

/// An add-checkpoint body from `old` to the ledger's latest checkpoint, with the ledger's
/// consistency proof, and the note it carries.
pub fn request(dir: &Path, old: u64) -> (String, String) {
    let (note, _) = checkpoint(dir);
    let proof = if old == 0 {
        String::new()
    } else {
        ok(
            &[
                "consistency",
                "--data",
                path(dir),
                "--from",
                &old.to_string(),
            ],
            None,
        )
    };
    (format!("old {old}\n{proof}\n{note}"), note)
}
