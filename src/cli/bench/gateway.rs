//! The gateway under load: a child process on a temporary configuration and data directory,
//! or a remote one named by `--server`.

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Duration;

use super::proc_stats::{clk_tck, proc_cpu_seconds, proc_status_kib};
use super::report::Memory;
use crate::cli::ChildGateway;
use crate::config::Config;
use crate::Error;

/// A temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The gateway under load: a child process of ours, or a remote one.
pub(super) struct GatewayUnderTest {
    /// `https://localhost:PORT`.
    pub(super) server: String,
    /// The child process (dropped first: it is stopped before its directory is removed).
    pub(super) child: Option<ChildGateway>,
    /// The temporary directory with the configuration and the data.
    dir: Option<TempDir>,
    /// Clock ticks per second of the child's `/proc` times.
    clk_tck: f64,
}

impl GatewayUnderTest {
    /// A gateway we do not run: nothing of it is measured.
    pub(super) fn remote(server: String) -> GatewayUnderTest {
        GatewayUnderTest {
            server,
            child: None,
            dir: None,
            clk_tck: clk_tck(),
        }
    }

    /// Writes the benchmark configuration in a new temporary directory and starts a gateway on
    /// it.
    pub(super) fn start(run_id: &str, cache_mb: Option<u64>) -> Result<GatewayUnderTest, Error> {
        let path =
            std::env::temp_dir().join(format!("portcullis-bench-{}-{run_id}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        let dir = TempDir(path);
        let config = dir.0.join("bench.toml");
        std::fs::write(&config, bench_config(cache_mb)?).map_err(|e| Error::io(&config, e))?;
        let child = spawn(&config, &dir.0.join("data"))?;
        Ok(GatewayUnderTest {
            server: child.server(),
            child: Some(child),
            dir: Some(dir),
            clk_tck: clk_tck(),
        })
    }

    /// Stops the child and starts a new one on the same data directory.
    pub(super) fn restart(&mut self) -> Result<(), Error> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        // Dropping the old child stops it (see `spawn`) before the new one opens the data.
        self.child = None;
        let child = spawn(&dir.0.join("bench.toml"), &dir.0.join("data"))?;
        self.server = child.server();
        self.child = Some(child);
        Ok(())
    }

    /// Stops the child, if any: SIGTERM, and SIGKILL after [`STOP_LIMIT`].
    pub(super) fn stop(&mut self) {
        // Dropping the child stops it so (see `spawn`).
        self.child = None;
    }

    /// The child's CPU time so far, in seconds.
    pub(super) fn cpu_seconds(&self) -> Option<f64> {
        let child = self.child.as_ref()?;
        proc_cpu_seconds(child.pid(), self.clk_tck)
    }

    /// The child's peak and current resident memory, in KiB.
    pub(super) fn memory(&self) -> Option<Memory> {
        let child = self.child.as_ref()?;
        Some(Memory {
            peak_kib: proc_status_kib(child.pid(), "VmHWM:")?,
            current_kib: proc_status_kib(child.pid(), "VmRSS:")?,
        })
    }
}

/// How long a child gateway is given to stop cleanly (SIGTERM) before it is killed.
const STOP_LIMIT: Duration = Duration::from_secs(60);

/// Starts this executable as `serve --dev --config CONFIG --listen 127.0.0.1:0 --data DATA`
/// and waits for its address; blocks the calling thread for at most 120 seconds. The child is
/// stopped cleanly when dropped (a clean shutdown flushes the log).
fn spawn(config: &Path, data: &Path) -> Result<ChildGateway, Error> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::Usage(format!("cannot find this executable: {e}")))?;
    let mut serve = Process::new(&exe);
    serve
        .args(["serve", "--dev", "--config"])
        .arg(config)
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(data);
    Ok(ChildGateway::spawn(serve, Duration::from_secs(120))?.stop_on_drop(STOP_LIMIT))
}

/// The benchmark's gateway configuration: the development defaults, with rate limits out of
/// the way. Paths are absolute, since a configuration file's relative paths are resolved
/// against its own directory.
fn bench_config(cache_mb: Option<u64>) -> Result<String, Error> {
    let certs = Config::dev_certs_dir();
    let certs = std::fs::canonicalize(&certs).map_err(|e| Error::io(&certs, e))?;
    let path = |name: &str| toml::Value::String(certs.join(name).display().to_string());
    let text = |s: &str| toml::Value::String(s.to_owned());
    Ok(format!(
        r#"# Written by `portcullis bench`.
listen = "127.0.0.1:0"
data_dir = "data"
trust_domain = {trust_domain}
accredited_parties = ["alpha", "beta"]
matching_key_ids = [{key_id}]
{cache}

[tls]
ca = {ca}
cert = {cert}
key = {key}
crl = {crl}

[audit]
origin = {origin}
signing_key = {signing_key}

[limits]
vet_per_sec = 1e9
vet_burst = 1e9
publish_per_sec = 1e9
publish_burst = 1e9
audit_per_sec = 1e9
audit_burst = 1e9
"#,
        trust_domain = text(crate::pki::DEV_TRUST_DOMAIN),
        key_id = text(crate::pki::DEV_MATCHING_KEY_ID),
        ca = path("ca.crt"),
        cert = path("server.crt"),
        key = path("server.key"),
        crl = path("crl.pem"),
        origin = text(crate::pki::DEV_LOG_KEY_NAME),
        signing_key = path("log-signing.pk8"),
        cache = cache_mb.map_or(String::new(), |mb| format!("cache_mb = {mb}")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_config_is_a_valid_configuration() {
        let text = bench_config(Some(16)).unwrap();
        let config = Config::from_toml(&text, Path::new("/tmp")).unwrap();
        assert!(config.limits.vet.per_sec >= 1e9);
        assert_eq!(config.accredited_parties.len(), 2);
        assert_eq!(config.cache_bytes, 16 << 20);
        let text = bench_config(None).unwrap();
        let config = Config::from_toml(&text, Path::new("/tmp")).unwrap();
        assert_eq!(config.cache_bytes, crate::store::DEFAULT_CACHE_BYTES);
    }
}
