//! The log lines a test thread writes through the function's own subscriber (Lambda's JSON
//! lines, at INFO), for the tests of what is logged and of what the metric filters count.

use std::cell::RefCell;
use std::io::Write;
use std::sync::Once;

use conversions::config::{LogFormat, LogSettings};
use conversions::telemetry::subscriber;

thread_local! {
    /// What this thread's log lines wrote, while a test captures them.
    static CAPTURED: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// The production subscriber, installed once as this test binary's global one, writing each
/// line to the capture of the thread that logged it (and nowhere else). A scoped subscriber
/// (`set_default`) races with the other tests' threads, which register callsites while no
/// subscriber is interested in them.
pub struct Captured;

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        CAPTURED.with_borrow_mut(|captured| {
            if let Some(captured) = captured {
                captured.extend_from_slice(bytes);
            }
        });
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Starts capturing this thread's lines.
    pub fn start() -> Self {
        static INSTALLED: Once = Once::new();
        INSTALLED.call_once(|| {
            let settings = LogSettings {
                format: LogFormat::Json,
                filter: "info".into(),
            };
            tracing::subscriber::set_global_default(subscriber(&settings, || Captured))
                .expect("no other test installs a global subscriber");
        });
        CAPTURED.with_borrow_mut(|captured| *captured = Some(Vec::new()));
        Self
    }

    /// What this thread logged since the last take.
    pub fn take(&self) -> String {
        let bytes = CAPTURED
            .with_borrow_mut(|captured| std::mem::take(captured.as_mut().expect("capturing")));
        String::from_utf8(bytes).unwrap()
    }
}

/// The lines of a capture, each parsed: one JSON object a line.
pub fn objects(logs: &str) -> Vec<serde_json::Value> {
    logs.lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("one JSON object a line: {e}: {line}"))
        })
        .collect()
}
