//! The real `portcullis` binary as a child process: a `serve --dev` gateway on a free loopback
//! port, and client commands run against it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

/// The repository root (certs-dev/ and tests/data/ are relative to it).
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A `serve --dev` child on a free port; killed (SIGKILL) if dropped without `stop`.
pub struct ServerProcess {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl ServerProcess {
    /// Starts `serve --dev --listen 127.0.0.1:0 --data <data> [extra…]` and waits (at most
    /// 30 s) for the logged address. The log keeps being drained so the server never blocks.
    pub fn start(data: &Path, extra: &[&str]) -> ServerProcess {
        let data = data.to_string_lossy();
        let mut args = vec!["--dev", "--listen", "127.0.0.1:0", "--data", &data];
        args.extend_from_slice(extra);
        Self::serve(&args)
    }

    /// Starts `serve <args…>` (which must log a free port's address, e.g. with `--listen
    /// 127.0.0.1:0`) and waits for the logged address, as [`ServerProcess::start`].
    pub fn serve(args: &[&str]) -> ServerProcess {
        let mut child = Command::new(BIN)
            .current_dir(repo())
            .arg("serve")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let (Some(sender), Some(addr)) = (&tx, line.split("addr=").nth(1)) {
                    let _ = sender.send(addr.trim().to_owned());
                    tx = None;
                }
            }
        });
        let Ok(addr) = rx.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            let status = child.wait().unwrap();
            panic!("the gateway did not start ({status})");
        };
        let port = addr.rsplit(':').next().unwrap().parse().unwrap();
        ServerProcess { child, port }
    }

    /// `https://localhost:<port>`.
    pub fn server(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    /// Sends the signal `name` (`HUP`, `INT`, …) to the server.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGTERM, then wait (at most 20 s) for the exit status.
    pub fn stop(self) -> ExitStatus {
        self.stop_within(Duration::from_secs(20))
    }

    /// SIGTERM, then wait at most `limit` for the exit status.
    pub fn stop_within(mut self, limit: Duration) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, as a crash would, and reap it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs the binary with `args` (plus `--server` for `port`, if given): success, stdout, stderr.
pub fn run(port: Option<u16>, args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(repo()).args(args);
    if let Some(port) = port {
        cmd.args(["--server", &format!("https://localhost:{port}")]);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Parses one JSON document, showing the text on failure.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}
