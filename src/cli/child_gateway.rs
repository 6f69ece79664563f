//! A gateway (`portcullis serve …`) or a key service (`portcullis keyservice …`) running as a
//! child process on a free loopback port: the one helper with which `portcullis bench` and the
//! integration tests start, signal and stop a real serving process.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::Error;

/// A gateway (or a key service) running as a child process of ours.
///
/// [`ChildGateway::spawn`] starts it and waits for the address it logs (a key service:
/// [`ChildGateway::spawn_until`] with the line it prints); the output read is drained for the
/// child's whole life, so that it never blocks on a full pipe. When dropped
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
    pub fn spawn(serve: Command, wait: Duration) -> Result<ChildGateway, Error> {
        Self::spawn_until(serve, Ready::LoggedAddr, wait)
    }

    /// As [`ChildGateway::spawn`], with the address taken where `ready` says; the other
    /// output stream is closed.
    pub fn spawn_until(
        mut serve: Command,
        ready: Ready,
        wait: Duration,
    ) -> Result<ChildGateway, Error> {
        let started = Instant::now();
        let (stdout, stderr) = match ready {
            Ready::LoggedAddr => (Stdio::null(), Stdio::piped()),
            Ready::StdoutLine(_) => (Stdio::piped(), Stdio::null()),
        };
        let mut child = serve
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| Error::io(serve.get_program(), e))?;
        let output: Option<Box<dyn std::io::Read + Send>> = match ready {
            Ready::LoggedAddr => child.stderr.take().map(|e| Box::new(e) as _),
            Ready::StdoutLine(_) => child.stdout.take().map(|o| Box::new(o) as _),
        };
        let pid = child.id();
        // From here on, dropping `gateway` stops the child, whatever goes wrong.
        let mut gateway = ChildGateway {
            child,
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            startup: Duration::ZERO,
            graceful: None,
        };
        let Some(output) = output else {
            return Err(Error::Usage("the child's output was not captured".into()));
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(output).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = started + wait;
        let mut log = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = ready.addr(&line) {
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
                        "{} did not start ({status}):\n{}",
                        command_name(&serve),
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
        self.wait_within(limit)
    }

    /// Waits at most `limit` for it to exit (after a signal sent with [`ChildGateway::signal`]):
    /// its exit status, or None if it is still running then (or cannot be waited for).
    pub fn wait_within(&mut self, limit: Duration) -> Option<ExitStatus> {
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

/// `portcullis serve` (the program's file name and the subcommand), for messages.
fn command_name(command: &Command) -> String {
    let program = std::path::Path::new(command.get_program());
    let name = program
        .file_name()
        .unwrap_or(program.as_os_str())
        .to_string_lossy();
    match command.get_args().next() {
        Some(sub) => format!("{name} {}", sub.to_string_lossy()),
        None => name.into_owned(),
    }
}

/// Where a child says it is ready, with its address.
#[derive(Debug, Clone, Copy)]
pub enum Ready {
    /// A log line on stderr with `addr=HOST:PORT`, as `serve` and `keyservice` log when they
    /// listen (at the default log level).
    LoggedAddr,
    /// A line on stdout that starts with this text, followed by `HOST:PORT` (`keyservice`
    /// prints `keyservice listening on HOST:PORT`, whatever the log level).
    StdoutLine(&'static str),
}

impl Ready {
    /// The address `line` reports, if it is the line this waits for.
    fn addr(self, line: &str) -> Option<SocketAddr> {
        match self {
            Ready::LoggedAddr => logged_addr(line),
            Ready::StdoutLine(prefix) => line.strip_prefix(prefix)?.trim().parse().ok(),
        }
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
        let printed = Ready::StdoutLine("keyservice listening on ");
        assert_eq!(
            printed.addr("keyservice listening on 127.0.0.1:50061"),
            Some(SocketAddr::from(([127, 0, 0, 1], 50061)))
        );
        assert_eq!(printed.addr("addr=127.0.0.1:50061"), None);
    }
}
