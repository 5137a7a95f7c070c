//! The function started under the Runtime API emulator (`runtime_api.rs`, shared with the tests)
//! as Lambda starts it, and what the process used (CPU, peak RSS) from `/proc`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How to start the function.
pub struct Launch<'a> {
    /// The executable, or a wrapper (valgrind) followed by it.
    pub command: &'a [&'a str],
    pub endpoint: &'a str,
    pub table: &'a str,
    pub concurrency: usize,
    pub warm_up: bool,
    /// The logging `template.yaml` deploys (a JSON line a request at INFO, which its metric
    /// filters count); else warnings only, to measure what the telemetry costs.
    pub telemetry: bool,
    /// The floor function (floor.rs) instead, reading the key of this hash.
    pub floor: Option<&'a str>,
}

/// A child process killed (and reaped) when this goes out of scope, on every path.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// The function, started as Lambda starts it.
pub fn spawn(runtime_api: &str, launch: &Launch<'_>) -> Child {
    let (program, args) = launch.command.split_first().expect("a command");
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "conversions")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("TABLE_NAME", launch.table)
        .env("DYNAMODB_WARM_UP", launch.warm_up.to_string());
    match launch.floor {
        Some(key_hash) => command
            .env(crate::floor::MODE, "1")
            .env(crate::floor::KEY_HASH, key_hash),
        None => command.env("AWS_LAMBDA_MAX_CONCURRENCY", launch.concurrency.to_string()),
    };
    if launch.telemetry {
        // As template.yaml deploys it: a JSON line a request at INFO.
        command.env("AWS_LAMBDA_LOG_LEVEL", "INFO");
    } else {
        command.env("AWS_LAMBDA_LOG_LEVEL", "WARN");
    }
    with_aws_environment(&mut command, launch.endpoint)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the function starts")
}

/// The SDK's environment of the function and of the direct loop: local DynamoDB, a region and
/// credentials.
pub fn with_aws_environment<'c>(command: &'c mut Command, endpoint: &str) -> &'c mut Command {
    command
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
}

/// CPU time used, in seconds: user and system (from `stat`, in clock ticks), and the total on
/// a CPU with nanosecond resolution (from `schedstat`), the figure ratios are taken from.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu {
    pub user: f64,
    pub system: f64,
    pub total: f64,
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;
    fn sub(self, before: Cpu) -> Cpu {
        Cpu {
            user: self.user - before.user,
            system: self.system - before.system,
            total: self.total - before.total,
        }
    }
}

impl Cpu {
    /// The mean of several measurements.
    pub fn mean(all: &[Cpu]) -> Cpu {
        let sum = all.iter().fold(Cpu::default(), |a, c| Cpu {
            user: a.user + c.user,
            system: a.system + c.system,
            total: a.total + c.total,
        });
        sum.per(all.len())
    }

    /// `1152 µs (user 833, system 320)`.
    pub fn micros(&self) -> String {
        format!(
            "{:.0} µs (user {:.0}, system {:.0})",
            self.total * 1e6,
            self.user * 1e6,
            self.system * 1e6
        )
    }

    pub fn per(self, n: usize) -> Cpu {
        let n = n as f64;
        Cpu {
            user: self.user / n,
            system: self.system / n,
            total: self.total / n,
        }
    }
}

/// A process's CPU time, all its threads.
pub fn process_cpu(pid: u32) -> Cpu {
    let (user, system) = stat_times(&format!("/proc/{pid}/stat"));
    let total = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("/proc is readable")
        .filter_map(|task| task.ok())
        .map(|task| schedstat_seconds(&task.path().join("schedstat").display().to_string()))
        .sum();
    Cpu {
        user,
        system,
        total,
    }
}

fn stat_times(path: &str) -> (f64, f64) {
    let stat = std::fs::read_to_string(path).expect("/proc is readable");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("a stat line")
        .1
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields[i].parse::<f64>().unwrap() / clock_ticks();
    (ticks(11), ticks(12))
}

fn schedstat_seconds(path: &str) -> f64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1e9
}

fn clock_ticks() -> f64 {
    let output = Command::new("getconf").arg("CLK_TCK").output();
    output
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The peak resident set of a process, in MB.
pub fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// A process's system calls and context switches while it does some work, counted by the
/// kernel (`perf stat` attached to it).
pub struct KernelCounts {
    perf: Child,
    out: PathBuf,
}

/// What [`KernelCounts`] counted.
#[derive(Clone, Copy, Debug)]
pub struct Counted {
    pub syscalls: f64,
    pub context_switches: f64,
}

impl Counted {
    pub fn per(self, n: usize) -> Counted {
        Counted {
            syscalls: self.syscalls / n as f64,
            context_switches: self.context_switches / n as f64,
        }
    }
}

impl KernelCounts {
    /// Starts counting; `None` where perf is not installed.
    pub fn attach(pid: u32) -> Option<Self> {
        let out = std::env::temp_dir().join(format!("perf-{}", uuid::Uuid::new_v4().simple()));
        let perf = Command::new("perf")
            .args([
                "stat",
                "-x",
                ",",
                "-e",
                "raw_syscalls:sys_enter,context-switches",
            ])
            .arg("-o")
            .arg(&out)
            .args(["-p", &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        // perf counts from the moment its events are open, a few milliseconds after it starts.
        std::thread::sleep(Duration::from_millis(500));
        Some(Self { perf, out })
    }

    /// Stops counting; `None` where the kernel would not count (no tracepoints, say).
    pub fn stop(mut self) -> Option<Counted> {
        Command::new("kill")
            .args(["-INT", &self.perf.id().to_string()])
            .status()
            .ok()?;
        self.perf.wait().ok()?;
        let text = std::fs::read_to_string(&self.out).ok()?;
        // `-x ,` lines: count, unit, event, ...
        let count = |event: &str| {
            text.lines()
                .map(|l| l.split(',').collect::<Vec<_>>())
                .find(|f| f.len() > 2 && f[2] == event)
                .and_then(|f| f[0].parse::<f64>().ok())
        };
        Some(Counted {
            syscalls: count("raw_syscalls:sys_enter")?,
            context_switches: count("context-switches")?,
        })
    }
}

impl Drop for KernelCounts {
    /// perf detached (if it still runs) and its output removed, whatever happened.
    fn drop(&mut self) {
        self.perf.kill().ok();
        self.perf.wait().ok();
        std::fs::remove_file(&self.out).ok();
    }
}
