//! Lambda's structured JSON logs, one flat object a line (for short Logs Insights queries):
//! `timestamp` (RFC 3339, UTC), `level`, `message`, this crate's span fields (outermost first), the
//! line's own; a repeated key keeps the innermost value. Other crates' spans add nothing (the
//! runtime's carries request and trace ids; ours, the request id). Lambda filters by `level`,
//! reading none as INFO (`ApplicationLogLevel`), so INFO lines omit it, as message-less lines omit
//! `message`: CloudWatch bills every byte. Span fields are encoded once; one buffer a line.

use std::fmt::{self, Write as _};
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

pub struct JsonLines<W> {
    writer: W,
}

impl<W> JsonLines<W> {
    pub fn new(writer: W) -> Self {
        Self { writer }
    }
}

#[derive(Default)]
struct Fields(Vec<(&'static str, String)>);

impl Fields {
    fn set(&mut self, field: &Field, json: String) {
        let name = field.name();
        match self.0.iter_mut().find(|(known, _)| *known == name) {
            Some((_, value)) => *value = json,
            None => self.0.push((name, json)),
        }
    }
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity.
        let json = serde_json::Number::from_f64(value).map_or("null".into(), |n| n.to_string());
        self.set(field, json);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field, value.to_string());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(field, value.to_string());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field, value.to_string());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, quoted(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.set(field, quoted(&super::error_chain(value)));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.set(field, quoted(&format!("{value:?}")));
    }
}

impl<S, W> tracing_subscriber::Layer<S> for JsonLines<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut fields = Fields::default();
            attrs.record(&mut fields);
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<Fields>()
        {
            values.record(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut own = Fields::default();
        event.record(&mut own);
        let spans: Vec<_> = ctx
            .event_scope(event)
            .map(|scope| scope.from_root().collect())
            .unwrap_or_default();
        let this_crate = env!("CARGO_CRATE_NAME");
        let extensions: Vec<_> = spans
            .iter()
            .filter(|span| span.metadata().target().starts_with(this_crate))
            .map(|span| span.extensions())
            .collect();
        // Outermost first, the line's own last: a later value of a key wins.
        let pairs: Vec<(&str, &str)> = extensions
            .iter()
            .filter_map(|extensions| extensions.get::<Fields>())
            .chain([&own])
            .flat_map(|fields| fields.0.iter().map(|(k, v)| (*k, v.as_str())))
            .collect();

        let mut line = String::with_capacity(256);
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let _ = write!(line, r#"{{"timestamp":"{now}""#);
        let level = *event.metadata().level();
        if level != tracing::Level::INFO {
            let _ = write!(line, r#","level":"{}""#, level.as_str());
        }
        if let Some((_, message)) = pairs.iter().rev().find(|(k, _)| *k == "message") {
            let _ = write!(line, r#","message":{message}"#);
        }
        for (i, (key, value)) in pairs.iter().enumerate() {
            let written_later = pairs[i + 1..].iter().any(|(later, _)| later == key);
            if *key == "message" || written_later {
                continue;
            }
            // Field names are identifiers in the code: nothing to escape.
            let _ = write!(line, r#","{key}":{value}"#);
        }
        line.push_str("}\n");
        // One write a line, so concurrent lines never interleave; logging never fails a request.
        let _ = self
            .writer
            .make_writer_for(event.metadata())
            .write_all(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_key_of_several_spans_is_written_once_with_the_innermost_value() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber =
            tracing_subscriber::registry().with(JsonLines::new(move || writer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("Lambda runtime invoke", requestId = "outer", a = 1);
            let _outer = outer.enter();
            let inner =
                tracing::info_span!("request", requestId = "inner", b = tracing::field::Empty);
            let _inner = inner.enter();
            inner.record("b", "later \"quoted\"");
            tracing::warn!(status = 503, ratio = 0.5, ok = false, "said \"so\"\n");
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"timestamp":"#,
                "TIMESTAMP",
                r#","level":"WARN","message":"said \"so\"\n","a":1,"requestId":"inner","#,
                r#""b":"later \"quoted\"","status":503,"ratio":0.5,"ok":false}"#,
                "\n"
            )
            .replace(
                "TIMESTAMP",
                &text[r#"{"timestamp":"#.len()..text.find(r#","level""#).unwrap()]
            )
        );
        let object: serde_json::Value = serde_json::from_str(&text).unwrap();
        chrono::DateTime::parse_from_rfc3339(object["timestamp"].as_str().unwrap()).unwrap();
    }
}
