//! A gateway (`portcullis serve …`) running as a child process on a free loopback port: the one
//! helper with which `portcullis bench` and the integration tests start, signal and stop a
//! real gateway process.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::Error;

/// A gateway running as a child process of ours.
///
/// [`ChildGateway::spawn`] starts it and waits for the address it logs; its log (stderr) is
/// drained for the child's whole life, so that it never blocks on a full pipe. When dropped
/// while still running, it is stopped as [`ChildGateway::stop_on_drop`] says: killed
/// (SIGKILL) by default, or first asked to stop (SIGTERM).
///
/// ```no_run
/// # fn main() -> Result<(), portcullis::Error> {
/// use std::process::Command;
/// use std::time::Duration;
///
/// let mut serve = Command::new("portcullis");
/// serve.args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data", "/tmp/gateway-data"]);
/// let mut gateway = portcullis::cli::ChildGateway::spawn(serve, Duration::from_secs(30))?;
/// println!("listening on {}", gateway.server());
/// gateway.stop_within(Duration::from_secs(20));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ChildGateway {
    child: Child,
    pid: u32,
    addr: SocketAddr,
    /// From spawning the process to its logging the bound address.
    startup: Duration,
    /// When dropped while running: how long SIGTERM is given before SIGKILL (None: SIGKILL).
    graceful: Option<Duration>,
}

impl ChildGateway {
    /// Starts `serve`, a command that runs `portcullis serve …` listening on a free loopback
    /// port (e.g. with `--listen 127.0.0.1:0`), with stdin and stdout closed and stderr
    /// captured, and waits at most `wait` for the gateway to log its bound address (`addr=`).
    /// Blocks the calling thread meanwhile. A gateway that exits or stays silent is killed,
    /// and the error carries its exit status and what it logged.
    pub fn spawn(mut serve: Command, wait: Duration) -> Result<ChildGateway, Error> {
        let started = Instant::now();
        let mut child = serve
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io(serve.get_program(), e))?;
        let stderr = child.stderr.take();
        let pid = child.id();
        // From here on, dropping `gateway` stops the child, whatever goes wrong.
        let mut gateway = ChildGateway {
            child,
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            startup: Duration::ZERO,
            graceful: None,
        };
        let Some(stderr) = stderr else {
            return Err(Error::Usage("the gateway's stderr was not captured".into()));
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = started + wait;
        let mut log = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = logged_addr(&line) {
                        gateway.startup = started.elapsed();
                        gateway.addr = addr;
                        return Ok(gateway);
                    }
                    log.push(line);
                }
                Err(_) => {
                    let _ = gateway.child.kill();
                    let status = gateway
                        .child
                        .wait()
                        .map_or_else(|e| e.to_string(), |s| s.to_string());
                    return Err(Error::Usage(format!(
                        "the gateway did not start ({status}):\n{}",
                        log.join("\n")
                    )));
                }
            }
        }
    }

    /// When dropped while still running, send SIGTERM (a clean shutdown that flushes the
    /// log) and SIGKILL only if it has not exited within `limit`.
    pub fn stop_on_drop(mut self, limit: Duration) -> ChildGateway {
        self.graceful = Some(limit);
        self
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://localhost:<port>`, the address its development certificate is valid for.
    pub fn server(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// From spawning the process to its logging the bound address.
    pub fn startup(&self) -> Duration {
        self.startup
    }

    /// Sends the signal `name` (`HUP`, `INT`, `TERM`, …) with `kill(1)`; whether `kill` ran
    /// and succeeded.
    pub fn signal(&self, name: &str) -> bool {
        Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Sends SIGTERM (unless it has already exited) and waits at most `limit` for it to exit:
    /// its exit status, or None if it is still running then (or cannot be waited for).
    pub fn stop_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        self.signal("TERM");
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Err(_) => return None,
                Ok(None) if Instant::now() >= deadline => return None,
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// Kills it (SIGKILL), as a crash would, and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildGateway {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        if let Some(limit) = self.graceful {
            if self.stop_within(limit).is_some() {
                return;
            }
        }
        self.kill();
    }
}

/// The address in a gateway log line that reports it (`… addr=127.0.0.1:PORT …`).
fn logged_addr(line: &str) -> Option<SocketAddr> {
    line.split("addr=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logged_address_is_found() {
        assert_eq!(
            logged_addr("INFO portcullis: listening addr=127.0.0.1:4242"),
            Some(SocketAddr::from(([127, 0, 0, 1], 4242)))
        );
        assert_eq!(
            logged_addr("listening addr=127.0.0.1:1 tls=mtls"),
            Some(SocketAddr::from(([127, 0, 0, 1], 1)))
        );
        assert_eq!(logged_addr("starting"), None);
        assert_eq!(logged_addr("addr=nowhere"), None);
    }
}
