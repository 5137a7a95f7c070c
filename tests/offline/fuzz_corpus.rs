//! Replays the fuzz corpus (`fuzz/corpus/<target>/`, and `fuzz/regressions/<target>/`) through the fuzz targets' own oracles on
//! the stable toolchain, so every input the fuzzer kept, and every crash it found once it is
//! added there, is checked by `make test` without nightly or libFuzzer (`make fuzz` explores).

use crate::oracles;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Inputs per target at most: what keeps the replay to seconds (`make fuzz-cmin` keeps the
/// corpus near a thousand or two).
const MAX_CORPUS: usize = 4000;

#[test]
fn every_corpus_input_meets_its_targets_oracle() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for (target, check) in oracles::TARGETS {
        let corpus = inputs(&fuzz.join("corpus").join(target));
        assert!(!corpus.is_empty(), "{target}: an empty corpus");
        assert!(corpus.len() <= MAX_CORPUS, "{target}: run make fuzz-cmin");
        // Inputs that once broke an oracle, kept by name (cmin would rename or drop them).
        let regressions = inputs(&fuzz.join("regressions").join(target));
        let started = Instant::now();
        let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
        for input in corpus.iter().chain(&regressions) {
            let data = std::fs::read(input).expect("a corpus file");
            let outcome = std::panic::catch_unwind(|| check(&data)).unwrap_or_else(|_| {
                panic!(
                    "{target}: {} breaks the oracle (the panic above says how)",
                    input.display()
                )
            });
            *outcomes.entry(outcome).or_default() += 1;
        }
        println!(
            "{target}: {} inputs and {} regressions in {:.2} s",
            corpus.len(),
            regressions.len(),
            started.elapsed().as_secs_f64()
        );
        for (outcome, count) in &outcomes {
            println!("  {count:>5}  {outcome}");
        }
        // A corpus that never gets past the first refusal proves little.
        let accepted = outcomes
            .keys()
            .any(|o| o.starts_with("accepted") || o.starts_with("20"));
        assert!(accepted, "{target}: no input in the corpus is accepted");
    }
}

/// The files of a folder, sorted; none when it does not exist.
fn inputs(folder: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a corpus entry").path())
        .collect();
    files.sort();
    files
}

/// The timestamp oracle's own reading of RFC 3339, on instants whose seconds are known (worked
/// out by another implementation), and on texts that are not RFC 3339.
#[test]
fn the_timestamp_oracle_reads_known_instants() {
    for (text, seconds, nanos) in [
        ("1970-01-01T00:00:00Z", 0, 0),
        ("1969-12-31T23:59:59Z", -1, 0),
        ("2000-02-29T23:59:59z", 951_868_799, 0),
        ("2026-01-28T07:00:00-03:00", 1_769_594_400, 0),
        ("2026-01-28 13:30:00.5+03:30", 1_769_594_400, 500_000_000),
        (
            "2026-01-28t10:00:00.1234567891Z",
            1_769_594_400,
            123_456_789,
        ),
        ("0001-01-01T00:00:00Z", -62_135_596_800, 0),
        ("0000-12-31T23:00:00-01:00", -62_135_596_800, 0),
        ("9999-12-31T23:59:59Z", 253_402_300_799, 0),
    ] {
        assert_eq!(
            oracles::rfc3339_instant(text.as_bytes()),
            Ok((seconds, nanos)),
            "{text}"
        );
    }
    for text in [
        "2026-02-29T00:00:00Z",
        "2026-01-28T24:00:00Z",
        "2026-01-28T10:00:60Z",
        "2026-01-28T10:00:00",
        "2026-01-28T10:00:00+24:00",
        "2026-01-28T10:00:00.Z",
        "2026-01-28T10:00:00Z ",
        "0000-12-31T23:59:59Z",
        "10000-01-01T00:00:00Z",
    ] {
        assert!(oracles::rfc3339_instant(text.as_bytes()).is_err(), "{text}");
    }
}
