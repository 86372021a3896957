//! Shared harness of the end-to-end tests: start the real `saturn standalone` process on free
//! ports in a temp dir, learn its addresses from the ready line, run `saturn` client commands,
//! stop it with SIGTERM, and clean up in `Drop`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The `saturn` binary under test.
pub const SATURN: &str = env!("CARGO_BIN_EXE_saturn");

/// How long a standalone may take to print its ready line.
pub const START_DEADLINE: Duration = Duration::from_secs(30);

/// A running `saturn standalone` process.
pub struct Standalone {
    child: Option<Child>,
    /// Name server address from the ready line.
    pub namesrv: SocketAddr,
    /// Broker address from the ready line.
    pub broker: SocketAddr,
    /// Data directory it runs on.
    pub data_dir: PathBuf,
}

fn child_log_env(cmd: &mut Command) {
    // Quiet children unless the person running the tests asks for logs.
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "warn");
    }
}

impl Standalone {
    /// Starts a standalone on 127.0.0.1 port 0 (both servers) using `data_dir`, and waits for
    /// its ready line.
    pub fn start(data_dir: &Path) -> Standalone {
        Standalone::start_on(data_dir, "127.0.0.1:0", "127.0.0.1:0")
    }

    /// Starts a standalone on the given addresses (e.g. the ports of a previous run, so
    /// offset message ids, which embed the broker address, stay valid).
    pub fn start_on(data_dir: &Path, namesrv: &str, broker: &str) -> Standalone {
        let mut cmd = Command::new(SATURN);
        cmd.args(["standalone", "--namesrv-listen", namesrv])
            .args(["--broker-listen", broker, "--data-dir"])
            .arg(data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        child_log_env(&mut cmd);
        let mut child = cmd.spawn().expect("spawn saturn standalone");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel::<String>();
        // Keep draining stdout for the life of the process so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + START_DEADLINE;
        let mut standalone = Standalone {
            child: Some(child),
            namesrv: "127.0.0.1:1".parse().unwrap(),
            broker: "127.0.0.1:1".parse().unwrap(),
            data_dir: data_dir.to_path_buf(),
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(line) => line,
                Err(e) => {
                    panic!("no ready line from saturn standalone within {START_DEADLINE:?}: {e}")
                }
            };
            if !line.starts_with("saturn standalone ready") {
                continue;
            }
            standalone.namesrv = field(&line, "namesrv").parse().expect("namesrv addr");
            standalone.broker = field(&line, "broker").parse().expect("broker addr");
            return standalone;
        }
    }

    /// `host:port` of the name server, as the CLI's --namesrv takes it.
    pub fn namesrv_arg(&self) -> String {
        self.namesrv.to_string()
    }

    /// OS process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends SIGTERM and waits (up to `deadline`) for the process to exit; returns its status.
    pub fn terminate(&mut self, deadline: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        send_signal(child.id(), "TERM");
        wait_with_deadline(&mut child, deadline).unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            panic!("saturn standalone did not exit within {deadline:?} after SIGTERM")
        })
    }
}

impl Drop for Standalone {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Value of `name=value` in a space-separated line.
pub fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
}

/// Sends `signal` (a name such as `TERM`) to `pid` with the `kill` command (libc::kill would
/// need `unsafe`, denied workspace-wide).
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// Polls `child` until it exits or `deadline` passes.
pub fn wait_with_deadline(child: &mut Child, deadline: Duration) -> Option<ExitStatus> {
    let end = Instant::now() + deadline;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `saturn <args>` to completion (killed after `deadline`) and returns its output.
pub fn run_saturn(args: &[&str], deadline: Duration) -> Output {
    let mut cmd = Command::new(SATURN);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    child_log_env(&mut cmd);
    let mut child = cmd.spawn().expect("spawn saturn");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let status = match wait_with_deadline(&mut child, deadline) {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("saturn {args:?} did not finish within {deadline:?}");
        }
    };
    Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// Like [`run_saturn`] but fails the test unless the command exits 0; returns stdout.
pub fn saturn_ok(args: &[&str], deadline: Duration) -> String {
    let out = run_saturn(args, deadline);
    assert!(
        out.status.success(),
        "saturn {args:?} failed with {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Parses every non-empty stdout line as JSON.
pub fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// Awaits `cond` (checked every 20 ms) until it holds or `deadline` passes; returns whether
/// it held.
pub async fn eventually<F, Fut>(deadline: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + deadline;
    loop {
        if cond().await {
            return true;
        }
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
