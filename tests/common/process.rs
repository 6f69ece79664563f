//! The real `portcullis` binary as a child process: a `serve --dev` gateway on a free loopback
//! port, and client commands run against it.

use std::path::Path;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use portcullis::cli::ChildGateway;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

/// The repository root (certs-dev/ and tests/data/ are relative to it).
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A `serve --dev` child on a free port (the library's [`ChildGateway`], as `portcullis bench`
/// starts its gateway); killed (SIGKILL) if dropped without `stop`.
pub struct ServerProcess {
    child: ChildGateway,
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
        let mut serve = Command::new(BIN);
        serve.current_dir(repo()).arg("serve").args(args);
        let child =
            ChildGateway::spawn(serve, Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"));
        let port = child.addr().port();
        ServerProcess { child, port }
    }

    /// `https://localhost:<port>`.
    pub fn server(&self) -> String {
        self.child.server()
    }

    /// Sends the signal `name` (`HUP`, `INT`, …) to the server.
    pub fn signal(&self, name: &str) {
        assert!(self.child.signal(name), "kill -{name} failed");
    }

    /// SIGTERM, then wait (at most 20 s) for the exit status.
    pub fn stop(self) -> ExitStatus {
        self.stop_within(Duration::from_secs(20))
    }

    /// SIGTERM, then wait at most `limit` for the exit status.
    pub fn stop_within(mut self, limit: Duration) -> ExitStatus {
        self.signal("TERM");
        match self.child.wait_within(limit) {
            Some(status) => status,
            None => panic!("serve did not stop after SIGTERM"),
        }
    }

    /// SIGKILL, as a crash would, and reap it.
    pub fn kill(mut self) {
        self.child.kill();
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
