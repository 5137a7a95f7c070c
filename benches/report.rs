//! Writes a benchmark's results into its own marked section of docs/BENCHMARKS.md, so that the file
//! always shows the figures of the last `make bench` run next to the prose that explains them.

use std::path::Path;

/// Replaces the text between `<!-- <name> -->` and `<!-- /<name> -->` in BENCHMARKS.md.
pub fn write_section(name: &str, text: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/BENCHMARKS.md");
    let document = std::fs::read_to_string(&path).expect("BENCHMARKS.md is readable");
    let (begin, end) = (format!("<!-- {name} -->\n"), format!("<!-- /{name} -->"));
    let start = document
        .find(&begin)
        .unwrap_or_else(|| panic!("BENCHMARKS.md has no {begin:?} marker"))
        + begin.len();
    let stop = start
        + document[start..]
            .find(&end)
            .unwrap_or_else(|| panic!("BENCHMARKS.md has no {end:?} marker"));
    let updated = format!("{}{text}{}", &document[..start], &document[stop..]);
    std::fs::write(&path, updated).expect("BENCHMARKS.md is writable");
}

/// The machine a run was made on, for the report: cores, memory, CPU model, kernel.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1_048_576.0);
    format!(
        "{cores} cores ({model}), {memory_gib:.0} GiB, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}
