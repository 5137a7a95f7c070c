//! Every thing the documents name exists: in the Markdown files, the comments of `Cargo.toml`
//! and the descriptions and comments of `template.yaml`, each `make` target, file path,
//! `conversions-admin` subcommand and flag, and every other name in backticks (an environment
//! variable, a template parameter, resource or output, an `openapi.yaml` operation, a type or
//! constant of the code) is found where it lives. A rename that leaves a stale sentence fails
//! here, with the file and line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Names of other systems the documents quote (AWS's metrics, states and fields, a crate's
/// type the code does not use), which no file here holds.
const AWS_NAMES: &[&str] = &[
    "EnvFilter",
    "INSUFFICIENT_DATA",
    "InvokeFunctionUrl",
    "ItemCount",
    "KeyRangeThroughput",
    "PendingConfirmation",
    "ReadAccountLimitThrottleEvents",
    "ReadKeyRangeThroughputThrottleEvents",
    "WriteAccountLimitThrottleEvents",
    "WriteKeyRangeThroughputThrottleEvents",
    "approximateArrivalOfFirstRecord",
];

/// The lines that name things: each with its file and number.
fn named_lines() -> Vec<(String, usize, String)> {
    let mut files: Vec<PathBuf> = ["README.md", "CHANGELOG.md"]
        .iter()
        .map(|f| root().join(f))
        .filter(|p| p.exists())
        .collect();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut lines = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.strip_prefix(root()).unwrap().display().to_string();
        lines.extend(
            (text.lines().enumerate()).map(|(n, line)| (name.clone(), n + 1, line.to_owned())),
        );
    }
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    for (n, line) in cargo.lines().enumerate() {
        if let Some(comment) = line.trim_start().strip_prefix('#') {
            lines.push(("Cargo.toml".into(), n + 1, comment.to_owned()));
        }
    }
    let template = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    lines.extend(template_lines(&template).map(|(n, l)| ("template.yaml".to_owned(), n, l)));
    lines
}

/// The template's comments, and its descriptions (their first line and the lines under it).
fn template_lines(template: &str) -> impl Iterator<Item = (usize, String)> {
    let mut in_description: Option<usize> = None;
    let mut lines = Vec::new();
    for (n, line) in template.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        if in_description.is_some_and(|at| indent <= at && !trimmed.is_empty()) {
            in_description = None;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            lines.push((n + 1, comment.to_owned()));
        } else if let Some(rest) = trimmed
            .strip_prefix("Description:")
            .or_else(|| trimmed.strip_prefix("AlarmDescription:"))
            .or_else(|| trimmed.strip_prefix("ConstraintDescription:"))
        {
            lines.push((n + 1, rest.to_owned()));
            in_description = Some(indent);
        } else if in_description.is_some() {
            lines.push((n + 1, trimmed.to_owned()));
        }
    }
    lines.into_iter()
}

/// The lines inside the Markdown files' code blocks, by file and number.
fn code_block_lines(lines: &[(String, usize, String)]) -> BTreeSet<(String, usize)> {
    let mut inside = BTreeSet::new();
    let mut open: Option<String> = None;
    for (file, n, line) in lines.iter().cloned() {
        if !file.ends_with(".md") {
            continue;
        }
        if line.trim_start().starts_with("```") {
            open = match open {
                Some(_) => None,
                None => Some(file.clone()),
            };
        } else if open.as_ref() == Some(&file) {
            inside.insert((file, n));
        }
    }
    inside
}

/// The spans a line puts in backticks.
fn quoted(line: &str) -> Vec<&str> {
    line.split('`').skip(1).step_by(2).collect()
}

/// Every text of the code and its configuration, where a name must be found.
fn code_text() -> String {
    let mut text = String::new();
    let mut folders = vec![
        root().join("src"),
        root().join("scripts"),
        root().join("tests"),
        root().join("benches"),
        root().join("fuzz/fuzz_targets"),
    ];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.ends_with("tests/offline/names.rs") {
                // Its own examples of stale names are not names.
            } else if let Ok(content) = std::fs::read_to_string(&path) {
                text.push_str(&content);
            }
        }
    }
    for file in [
        "Makefile",
        "template.yaml",
        "openapi.yaml",
        "Cargo.toml",
        "samconfig.toml",
        "schemathesis.toml",
        "fuzz/oracles.rs",
        ".ci/run",
    ] {
        text.push_str(&std::fs::read_to_string(root().join(file)).unwrap_or_default());
    }
    text
}

fn make_targets() -> BTreeSet<String> {
    let makefile = std::fs::read_to_string(root().join("Makefile")).unwrap();
    (makefile.lines())
        .filter_map(|line| line.split_once(':').map(|(name, _)| name))
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .map(str::to_owned)
        .collect()
}

/// The admin CLI's subcommands with the flags each takes (its options and the CLI's own), and
/// every flag any of them names, from its own `--help`.
fn admin_cli() -> (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>) {
    let help = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_conversions-admin"))
            .args(args)
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    let top = help(&["--help"]);
    let subcommands: BTreeSet<String> = top
        .split("Commands:")
        .nth(1)
        .unwrap_or_default()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .map(str::to_owned)
        .collect();
    let options = |text: &str| -> BTreeSet<String> {
        (text.lines())
            .filter(|l| l.trim_start().starts_with('-'))
            .filter_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("--")))
            .map(|f| f.trim_end_matches(',').to_owned())
            .collect()
    };
    let own = options(&top);
    let by_subcommand = (subcommands.iter())
        .map(|sub| {
            let mut flags = options(&help(&[sub, "--help"]));
            flags.extend(own.iter().cloned());
            (sub.clone(), flags)
        })
        .collect();
    let mut flags = BTreeSet::new();
    for command in subcommands.iter().map(String::as_str).chain([""]) {
        let text = match command {
            "" => top.clone(),
            _ => help(&[command, "--help"]),
        };
        for word in text.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == '=') {
            if let Some(flag) = word.strip_prefix("--") {
                let flag: String = flag
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                flags.insert(flag);
            }
        }
    }
    (by_subcommand, flags)
}

/// The repository's files, as a clone has them (not what a local run left beside them).
fn repository_files() -> Vec<String> {
    let output = Command::new("git")
        .args(["ls-files", "--cached", "--others", "--exclude-standard"])
        .current_dir(root())
        .output()
        .expect("git");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Whether the path is a file of the repository, or a folder holding some.
fn tracked(files: &[String], path: &str) -> bool {
    let folder = format!("{}/", path.trim_end_matches('/'));
    files.iter().any(|f| f == path || f.starts_with(&folder))
}

/// Whether git ignores the path: output a tool makes (`fuzz/.found/`, `build/`), not a file of
/// the repository.
fn ignored(path: &str) -> bool {
    Command::new("git")
        .args(["check-ignore", "-q", path])
        .current_dir(root())
        .status()
        .is_ok_and(|status| status.success())
}

/// A path of the repository a document may name (not a URL, not a pattern, not a placeholder).
fn as_path(word: &str) -> Option<&str> {
    let word = word.trim_end_matches(['.', ',', ':', ';', ')']);
    let word = word.split('#').next()?;
    let known_root = [
        "src/", "docs/", "scripts/", "tests/", "events/", "benches/", "fuzz/", ".ci/",
    ];
    let rooted = known_root.iter().any(|r| word.starts_with(r));
    let top = [
        "template.yaml",
        "openapi.yaml",
        "Cargo.toml",
        "Cargo.lock",
        "Makefile",
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
        "samconfig.toml",
        "schemathesis.toml",
        "package.json",
        "package-lock.json",
        "requirements-dev.txt",
        "redocly.yaml",
    ];
    let placeholder = ['<', '>', '{', '}', '*', '$', '?', '['];
    (rooted || top.contains(&word))
        .then_some(word)
        .filter(|w| !w.contains(placeholder) && !w.contains("..."))
}

#[test]
fn every_named_thing_exists() {
    let lines = named_lines();
    let problems = problems(&lines, &code_block_lines(&lines));
    assert!(
        problems.is_empty(),
        "{} names that do not exist:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn a_stale_name_of_each_kind_is_found() {
    let mut lines: Vec<(String, usize, String)> = [
        "run `make profile` first",
        "timeouts live in `src/config.rs` and `src/nowhere.rs`",
        "set `NOT_A_SETTING=1` or `NoSuchParameter`",
        "`conversions-admin frobnicate --account A` or `conversions-admin import --nope`",
        "make ready, `make test`, `conversions-admin erase-lead --lead L` and `TABLE_NAME`",
        "[guide](docs/nowhere.md), [start](README.md#no-such-heading), [ok](README.md#quick-start)",
        "then `conversions-admin import --replace` (a flag of another), `no_such_field`",
        "```sh",
        "make profile && conversions-admin frobnicate2",
        "$admin erase-lead --nope2",
        "```",
    ]
    .iter()
    .enumerate()
    .map(|(n, l)| ("x.md".to_owned(), n + 1, (*l).to_owned()))
    .collect();
    let template = "Resources:\n  Fn:\n    Properties:\n      Description: >-\n        reads \
                    `NO_SUCH_VARIABLE`\n      Timeout: `NOT_A_DESCRIPTION`\n    # `NoSuchResource`, \
                    tests/gone.rs\n";
    lines.extend(template_lines(template).map(|(n, l)| ("template.yaml".to_owned(), n, l)));
    let found = problems(&lines, &code_block_lines(&lines));
    assert_eq!(
        found,
        [
            "x.md:1: `make profile`: no such target",
            "x.md:2: src/nowhere.rs: no such file",
            "x.md:3: `NOT_A_SETTING`: named nowhere in the code or its configuration",
            "x.md:3: `NoSuchParameter`: named nowhere in the code or its configuration",
            "x.md:4: conversions-admin frobnicate: no such subcommand",
            "x.md:4: --nope: not a flag of conversions-admin import",
            "x.md:6: docs/nowhere.md: no such file",
            "x.md:6: README.md#no-such-heading: no such heading in README.md",
            "x.md:7: --replace: not a flag of conversions-admin import",
            "x.md:7: `no_such_field`: named nowhere in the code or its configuration",
            "x.md:9: `make profile`: no such target",
            "x.md:9: conversions-admin frobnicate2: no such subcommand",
            "x.md:10: --nope2: no such flag",
            "template.yaml:5: `NO_SUCH_VARIABLE`: named nowhere in the code or its configuration",
            "template.yaml:7: tests/gone.rs: no such file",
            "template.yaml:7: `NoSuchResource`: named nowhere in the code or its configuration",
        ]
    );
}

/// What is wrong with the names of these lines (`code_lines`: those in code blocks).
fn problems(
    lines: &[(String, usize, String)],
    code_lines: &BTreeSet<(String, usize)>,
) -> Vec<String> {
    let code = code_text();
    let targets = make_targets();
    let (subcommands, flags) = admin_cli();
    let files = repository_files();
    let mut problems = Vec::new();
    for (file, n, line) in lines.iter().cloned() {
        let mut problem = |what: String| problems.push(format!("{file}:{n}: {what}"));
        // Commands, paths and the admin CLI: in backticks, or on a line of a code block.
        let code_line = code_lines.contains(&(file.clone(), n));
        let spans: Vec<&str> = match code_line {
            // (without a shell comment)
            true => vec![line.split(" # ").next().unwrap_or_default()],
            false => quoted(&line),
        };
        for span in spans {
            for (i, _) in span.match_indices("make ") {
                if span[..i].ends_with(|c: char| c.is_alphanumeric() || c == '-') {
                    continue;
                }
                let target: String = span[i + 5..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '-')
                    .collect();
                if !target.is_empty() && !targets.contains(&target) {
                    problem(format!("`make {target}`: no such target"));
                }
            }
            // `conversions-admin subcommand --flag ...`, wherever in the span.
            for (i, _) in span.match_indices("conversions-admin ") {
                let command = span[i + "conversions-admin ".len()..]
                    .split(['|', ';', '&', ')', '`'])
                    .next()
                    .unwrap_or_default();
                let mut words = command.split_whitespace();
                let Some(sub) = words.next().filter(|w| !w.starts_with('-')) else {
                    continue;
                };
                let Some(allowed) = subcommands.get(sub) else {
                    if sub != "help" && !sub.starts_with(['<', '$', '.']) {
                        problem(format!("conversions-admin {sub}: no such subcommand"));
                    }
                    continue;
                };
                for flag in words.filter_map(|w| w.strip_prefix("--")) {
                    let flag = flag.split('=').next().unwrap_or_default();
                    if !flag.is_empty() && !allowed.contains(flag) {
                        problem(format!("--{flag}: not a flag of conversions-admin {sub}"));
                    }
                }
            }
            // A script's `$admin --flag`: a flag of any subcommand.
            for word in span.split(|c: char| c.is_whitespace() || c == '=' || c == ',') {
                if let Some(flag) = word.strip_prefix("--") {
                    let flag: String = flag
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                        .collect();
                    let admin = span.contains("$admin") && !span.contains("conversions-admin");
                    if admin
                        && !flag.is_empty()
                        && !flags.contains(&flag)
                        && !code.contains(&format!("--{flag}"))
                    {
                        problem(format!("--{flag}: no such flag"));
                    }
                }
            }
        }
        // Paths: also anywhere in a comment or description of the code's own files.
        let prose = code_line || !file.ends_with(".md");
        let path_spans = if prose {
            vec![line.as_str()]
        } else {
            quoted(&line)
        };
        for word in path_spans.iter().flat_map(|s| s.split_whitespace()) {
            if let Some(path) = as_path(word)
                && !tracked(&files, path)
                && !ignored(path)
            {
                problem(format!("{path}: no such file"));
            }
        }
        if file.ends_with(".md") && !code_line {
            for target in links(&line) {
                if let Some(what) = broken_link(&files, &file, target) {
                    problem(what);
                }
            }
        }
        for span in quoted(&line) {
            // An identifier: a variable, a template name, an operation, a type, a constant, a
            // field.
            // (A file a document makes, `copy_back.py`, is not one.)
            let words = span.split_whitespace().filter(|w| {
                let file = w.rsplit_once('.').is_some_and(|(_, ext)| {
                    ext.len() <= 4 && ext.chars().all(|c| c.is_ascii_lowercase())
                });
                !file
            });
            for name in
                words.flat_map(|w| w.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
            {
                let identifier =
                    name.len() > 3 && name.starts_with(|c: char| c.is_ascii_alphabetic());
                let upper_snake =
                    name.contains('_') && !name.chars().any(|c| c.is_ascii_lowercase());
                let snake = name.contains('_') && !name.chars().any(|c| c.is_ascii_uppercase());
                let camel = name.chars().skip(1).any(|c| c.is_ascii_uppercase())
                    && name.chars().any(|c| c.is_ascii_lowercase())
                    && !name.contains('_');
                if identifier
                    && (upper_snake || snake || camel)
                    && !code.contains(name)
                    && !AWS_NAMES.contains(&name)
                {
                    problem(format!(
                        "`{name}`: named nowhere in the code or its configuration"
                    ));
                }
            }
        }
    }
    problems
}

/// The targets of a Markdown line's links, `[text](target)`.
fn links(line: &str) -> Vec<&str> {
    (line.match_indices("](").filter_map(|(i, _)| {
        let rest = &line[i + 2..];
        rest.find(')').map(|end| &rest[..end])
    }))
    .collect()
}

/// What is wrong with a link of `file` to `target`: a file of the repository (relative to the
/// document), and the heading its `#anchor` names, as GitHub makes anchors of headings.
fn broken_link(files: &[String], file: &str, target: &str) -> Option<String> {
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
    let mut parts: Vec<&str> = file.split('/').collect();
    parts.pop();
    if path.is_empty() {
        parts.push(file.rsplit('/').next().unwrap());
    }
    for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if part == ".." {
            parts.pop();
        } else {
            parts.push(part);
        }
    }
    let resolved = parts.join("/");
    if !tracked(files, &resolved) && !ignored(&resolved) {
        return Some(format!("{target}: no such file"));
    }
    if anchor.is_empty() || !resolved.ends_with(".md") {
        return None;
    }
    let text = std::fs::read_to_string(root().join(&resolved)).unwrap_or_default();
    let found = (text.lines())
        .filter_map(|l| l.strip_prefix('#'))
        .map(|h| slug(h.trim_start_matches('#')))
        .any(|s| s == anchor);
    (!found).then(|| format!("{target}: no such heading in {resolved}"))
}

/// A heading's anchor as GitHub makes it: lower case, spaces to hyphens, other punctuation gone.
fn slug(heading: &str) -> String {
    (heading.trim().chars())
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| {
            if c == ' ' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

#[test]
fn the_path_reader_takes_paths_and_leaves_the_rest() {
    assert_eq!(as_path("src/sdk.rs"), Some("src/sdk.rs"));
    assert_eq!(
        as_path("docs/OPERATIONS.md#alarms"),
        Some("docs/OPERATIONS.md")
    );
    assert_eq!(as_path("template.yaml,"), Some("template.yaml"));
    assert_eq!(as_path("events/<fixture>.json"), None);
    assert_eq!(as_path("https://example.com/src/x"), None);
    let files = repository_files();
    assert!(tracked(&files, "src/sdk.rs") && tracked(&files, "docs") && tracked(&files, "events/"));
    assert!(!tracked(&files, "src/sd") && !tracked(&files, "src/nowhere.rs"));
}

#[test]
fn the_crate_the_contract_and_the_changelog_have_one_version() {
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let crate_version = (cargo.lines())
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .unwrap();
    let openapi = std::fs::read_to_string(root().join("openapi.yaml")).unwrap();
    let contract = (openapi.lines())
        .find_map(|l| l.strip_prefix("  version: "))
        .unwrap();
    let changelog = std::fs::read_to_string(root().join("CHANGELOG.md")).unwrap();
    let latest = (changelog.lines())
        .find_map(|l| {
            l.strip_prefix("## ")
                .filter(|v| v.starts_with(char::is_numeric))
        })
        .and_then(|v| v.split_whitespace().next())
        .unwrap();
    assert_eq!((crate_version, contract), (latest, latest));
    let license = std::fs::read_to_string(root().join("LICENSE")).unwrap();
    assert!(cargo.contains("license = \"MIT\"") && license.starts_with("MIT License"));
}

/// All the prose together (the README, the changelog, docs/) stays within 1,400 lines: a fact
/// has one home, and the contract, the parameters and the CLI's reference are their own files.
#[test]
fn the_documents_stay_short() {
    let lines: Vec<_> = named_lines()
        .into_iter()
        .filter(|(file, ..)| file.ends_with(".md"))
        .collect();
    assert!(lines.len() <= 1400, "{} lines of Markdown", lines.len());
}

/// scripts/: at most 12 files, named alike (lower case, hyphens), each saying in its opening
/// lines what it is for; the sourced library not executable, every other file executable with
/// an interpreter line, and each listed by `make help`.
#[test]
fn the_scripts_are_few_alike_and_found_from_make_help() {
    use std::os::unix::fs::PermissionsExt;
    let files = repository_files();
    let scripts: Vec<&String> = files.iter().filter(|f| f.starts_with("scripts/")).collect();
    assert!(scripts.len() <= 12, "{} scripts", scripts.len());
    let help = Command::new("make")
        .args(["--no-print-directory", "help"])
        .current_dir(root())
        .output()
        .expect("make");
    let help = String::from_utf8(help.stdout).unwrap();
    for script in scripts {
        let name = script.trim_start_matches("scripts/");
        let (stem, ext) = name.rsplit_once('.').unwrap();
        assert!(
            ["sh", "py"].contains(&ext) && stem.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
            "{script}: lower case and hyphens, .sh or .py"
        );
        let text = std::fs::read_to_string(root().join(script)).unwrap();
        let executable = std::fs::metadata(root().join(script))
            .unwrap()
            .permissions()
            .mode()
            & 0o111
            != 0;
        let mut lines = text.lines();
        if name == "lib.sh" {
            assert!(
                !executable && !text.starts_with("#!"),
                "{script}: sourced only"
            );
            assert!(
                lines.next().unwrap().starts_with("# "),
                "{script}: its purpose first"
            );
            continue;
        }
        assert!(
            executable && text.starts_with("#!/usr/bin/env "),
            "{script}: a program"
        );
        let purpose = lines.nth(1).unwrap();
        assert!(
            (purpose.starts_with("# ") || purpose.starts_with("\"\"\"")) && purpose.len() > 20,
            "{script}: its second line says what it is for"
        );
        assert!(help.contains(script.as_str()), "{script}: not in make help");
    }
}
