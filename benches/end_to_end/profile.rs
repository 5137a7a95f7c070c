//! Where the function's instructions go in a warm invocation: the unstripped bench build under
//! `valgrind --tool=callgrind` (which counts instructions, repeatably on a noisy machine), its
//! counters zeroed after a warm-up and dumped after a fixed number of invocations, and the
//! instructions of each function (self cost) summed per component.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use crate::WARM_UP;
use crate::emulator::{Killed, Launch, spawn};
use crate::runtime_api::Emulator;

pub const INVOCATIONS: usize = 200;

/// A process run under callgrind, its counters zeroed after a warm-up and dumped after the
/// measured work.
struct Callgrind {
    dir: PathBuf,
    out_arg: String,
}

impl Callgrind {
    /// `None` when valgrind is not installed.
    fn new() -> Option<Self> {
        Command::new("valgrind").arg("--version").output().ok()?;
        let dir = std::env::temp_dir().join(format!("callgrind-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).ok()?;
        let out_arg = format!(
            "--callgrind-out-file={}",
            dir.join("callgrind.out").display()
        );
        Some(Self { dir, out_arg })
    }

    /// The command to put before the program.
    fn wrapper(&self) -> [&str; 4] {
        ["valgrind", "--tool=callgrind", "--quiet", &self.out_arg]
    }

    fn control(pid: u32, option: &str) {
        let status = Command::new("callgrind_control")
            .args([option, &pid.to_string()])
            .output()
            .expect("callgrind_control runs");
        assert!(status.status.success(), "callgrind_control {option}");
    }

    /// `callgrind_annotate`'s table of the dump (each function's own instructions).
    fn annotated(self) -> Option<String> {
        // The dump is the file with the highest part number (`callgrind.out.1`, ...).
        let dump = std::fs::read_dir(&self.dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x != "out"))
            .max_by_key(|p| {
                p.extension()
                    .and_then(|x| x.to_str())
                    .and_then(|x| x.parse::<u32>().ok())
            })?;
        let annotated = Command::new("callgrind_annotate")
            .args(["--inclusive=no", "--auto=no", "--threshold=100"])
            .arg(&dump)
            .output()
            .ok()?;
        std::fs::remove_dir_all(&self.dir).ok();
        Some(String::from_utf8_lossy(&annotated.stdout).into_owned())
    }
}

/// The instructions of the whole dump.
fn program_total(text: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.contains("PROGRAM TOTALS"))
        .and_then(parse_line_count)
}

/// Instructions per warm invocation by component, largest first, and their total; `None` when
/// valgrind is not installed.
pub async fn profile(
    binary: &str,
    endpoint: &str,
    table: &str,
    event: &str,
    floor: Option<&str>,
) -> Option<(Vec<(&'static str, f64)>, f64)> {
    let callgrind = Callgrind::new()?;
    let emulator = Emulator::start().await;
    let mut command = callgrind.wrapper().to_vec();
    command.push(binary);
    let child = Killed(spawn(
        &emulator.address,
        &Launch {
            command: &command,
            endpoint,
            table,
            concurrency: 1,
            warm_up: true,
            telemetry: true,
            floor,
        },
    ));
    for _ in 0..WARM_UP {
        emulator.invoke(event.to_owned()).await;
    }
    Callgrind::control(child.0.id(), "--zero");
    for _ in 0..INVOCATIONS {
        emulator.invoke(event.to_owned()).await;
    }
    Callgrind::control(child.0.id(), "--dump");
    drop(child);
    let text = callgrind.annotated()?;
    let total = program_total(&text)?;
    let mut components: BTreeMap<&'static str, f64> = BTreeMap::new();
    // The table of functions follows its `file:function` heading. It also lists the frames
    // every call passes through (`main`, ...) with the whole count: no function's own cost
    // comes near half of it, so those lines are skipped.
    let table = text.split_once("file:function").map_or("", |(_, t)| t);
    for line in table.lines() {
        let Some((count, file, function)) = parse_line(line) else {
            continue;
        };
        if count > total / 2.0 {
            continue;
        }
        *components.entry(component(file, function)).or_default() += count;
    }
    let per_invocation = |n: f64| n / INVOCATIONS as f64;
    let mut ranked: Vec<(&'static str, f64)> = components
        .into_iter()
        .map(|(name, n)| (name, per_invocation(n)))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    Some((ranked, per_invocation(total)))
}

/// The count at the start of a line of callgrind_annotate's output.
fn parse_line_count(line: &str) -> Option<f64> {
    line.split_whitespace()
        .next()?
        .replace(',', "")
        .parse()
        .ok()
}

/// `  1,234,567 (12.3%)  file:function [object]` → (1234567, "file", "function [object]").
/// Callgrind splits a function's cost by the source file of each instruction, so code inlined
/// from a library (everywhere, with LTO) is counted under that library's file.
fn parse_line(line: &str) -> Option<(f64, &str, &str)> {
    let line = line.trim_start();
    let (count, rest) = line.split_once(' ')?;
    let count: f64 = count.replace(',', "").parse().ok()?;
    let rest = rest.trim_start();
    let rest = match rest.strip_prefix('(') {
        Some(r) => r.split_once(')')?.1.trim_start(),
        None => rest,
    };
    let (file, function) = rest.split_once(':')?;
    Some((count, file, function))
}

/// The crate of a symbol: `sha2` of `sha2::sha256::compress256`, `serde_json` of
/// `<&mut serde_json::ser::Serializer<W,F> as serde_core::ser::Serializer>::serialize_str`.
fn symbol_crate(function: &str) -> &str {
    let name = function
        .trim_start_matches(['<', '&'])
        .trim_start_matches("mut ")
        .trim_start_matches("dyn ");
    let end = name
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(name.len());
    &name[..end]
}

/// The component an instruction belongs to: the crate whose source it was compiled from (from
/// the line tables), or for C code its library and function.
fn component(file: &str, function: &str) -> &'static str {
    let krate = if let Some((_, rest)) = file.split_once("/index.crates.io-") {
        // `<hash>/serde_json-1.0.154/src/...` → `serde_json`
        let dir = rest.split('/').nth(1).unwrap_or("");
        let name = dir.rsplit_once('-').map_or(dir, |(name, _)| name);
        name.replace('-', "_")
    } else if file.starts_with("/rustc/") || file.starts_with("/rust/deps/") {
        // Code of the standard library inlined into a function of another crate (the rotations
        // and additions of SHA-256, say) counts for that crate.
        match symbol_crate(function) {
            "core" | "alloc" | "std" | "hashbrown" | "" => "std".to_owned(),
            other => other.to_owned(),
        }
    } else if file.starts_with(env!("CARGO_MANIFEST_DIR")) {
        "conversions".to_owned()
    } else {
        String::new()
    };
    match krate.as_str() {
        "aws_sigv4" | "sha2" | "hmac" | "digest" | "hex" | "block_buffer" | "crypto_common" => {
            "SigV4 signing (SHA-256, HMAC)"
        }
        k if k.starts_with("aws_") => "AWS SDK: building, serialising and reading calls",
        "hyper" | "hyper_util" | "http" | "http_body" | "http_body_util" | "httparse" | "tower"
        | "h2" | "bytes" | "httpdate" => "HTTP (hyper), both clients",
        "tokio" | "mio" | "futures_util" | "futures_core" | "futures_channel"
        | "pin_project_lite" | "parking_lot" | "parking_lot_core" => "async runtime (tokio)",
        "lambda_runtime" | "lambda_runtime_api_client" => "Lambda runtime client",
        "conversions" => "the function's own code",
        "serde_json" | "serde" | "serde_core" | "itoa" | "ryu" => "JSON (serde_json)",
        "tracing" | "tracing_core" | "tracing_subscriber" | "sharded_slab" => "logging (tracing)",
        "std" | "hashbrown" => "Rust standard library (collections, formatting, ...)",
        "" => {
            let in_libc = function.contains("libc.so") || function.contains("ld-linux");
            if in_libc && (file.contains("/malloc/") || function.contains("malloc")) {
                "allocator (glibc malloc, free)"
            } else if in_libc
                && ["mem", "str"]
                    .iter()
                    .any(|f| file.contains("/string/") || function.contains(f))
            {
                "memory copies and compares (glibc)"
            } else if in_libc {
                "glibc, other (system call wrappers, ...)"
            } else {
                "other"
            }
        }
        _ => "other libraries (uuid, chrono, decimals, ...)",
    }
}
