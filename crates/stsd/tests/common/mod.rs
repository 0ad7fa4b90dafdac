//! What the integration tests share: the `stsd` binary started on a free loopback port with a temporary data
//! dir and known root keys, killed when dropped.

// `allow`, not `expect`: each test crate uses a different part of this module, so in some of them nothing is dead.
#![allow(dead_code, reason = "each test crate uses a different part")]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ACCOUNT: &str = "111122223333";
pub const KEY: &str = "AKIABTX3GSDSQBHCDE22";
pub const SECRET: &str = "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";

pub struct Server {
    child: Child,
    pub endpoint: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `stsd serve` with `extra` flags; returns once it accepts connections.
pub fn start_stsd(extra: &[&str]) -> Server {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_stsd"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .arg("--data-dir")
        .arg(dir.path())
        .env("STSD_ACCOUNT_ID", ACCOUNT)
        .env("STSD_ROOT_ACCESS_KEY_ID", KEY)
        .env("STSD_ROOT_SECRET_ACCESS_KEY", SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "stsd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}
