//! What each fuzz target does with one input, and what it checks: oracles, not only "no panic".
//!
//! Shared by the fuzz targets (`fuzz/fuzz_targets/`, under `cargo fuzz`) and by the corpus
//! replay that `make test` runs on the stable toolchain (`tests/offline/fuzz_corpus.rs`), so a crash
//! the fuzzer found, once its input is in `fuzz/corpus/`, stays fixed.
//!
//! A broken oracle panics, which is what both libFuzzer and the replay report.

#![allow(dead_code)] // Each fuzz target uses one of these.

use std::collections::BTreeMap;
use std::str::FromStr;

use arbitrary::{Arbitrary, Unstructured};
use conversions::domain::{
    Amount, AmountError, Currency, MAX_AMOUNT_EXCLUSIVE, MAX_JSON_DEPTH, MAX_METADATA_BYTES,
    MAX_METADATA_KEY_CHARS, MAX_METADATA_KEYS, MAX_NOTES_CHARS, Metadata, MetadataError, Timestamp,
    nests_deeper_than,
};
use conversions::http::{App, Incoming};
use conversions::publish::{Bus, BusEntry, BusError, Publisher};
use conversions::seed::{
    DEMO_ACCOUNT_ID, DEMO_API_KEY, DEMO_CONVERSION_TYPE_ID, DEMO_INACTIVE_CONVERSION_TYPE_ID,
    DEMO_LEAD_ID, DEMO_WORKFLOW_RUN_ID, seed_demo,
};
use conversions::store::{is_stream_event, stream_records};
use rust_decimal::Decimal;
use serde_json::Value;
use serde_json::value::RawValue;

// Each includer declares `mod memory` (tests/support/memory.rs) beside this module.
use crate::memory::MemoryStore;

/// What an input came to: the status answered, or whether a parser accepted it (counted by the
/// corpus replay, to show what the corpus reaches).
pub type Outcome = String;

/// One target: an input in, what it came to out; a broken oracle panics.
pub type Target = fn(&[u8]) -> Outcome;

const NOT_INPUT: &str = "not the parser's input";

/// Every target, by the name of its corpus folder.
pub const TARGETS: &[(&str, Target)] = &[
    ("event_bytes", event_bytes),
    ("http_request", http_request),
    ("amount", amount),
    ("timestamp", timestamp),
    ("metadata", metadata),
    ("import_rows", import_rows),
    ("stream_event", stream_event),
];

// ---------------------------------------------------------------------------------------------
// The table's stream, as the publishing function is sent it

/// A bus that takes every entry, and counts them.
#[derive(Default)]
struct CountingBus(std::sync::atomic::AtomicUsize);

impl Bus for &CountingBus {
    async fn put(&self, entries: &[BusEntry]) -> Result<Vec<Option<String>>, BusError> {
        self.0
            .fetch_add(entries.len(), std::sync::atomic::Ordering::Relaxed);
        Ok(vec![None; entries.len()])
    }
}

/// Bytes as Lambda would deliver a DynamoDB stream's batch, published on the demo data to a bus
/// that takes everything: never a panic; the answer names no record, or the first that cannot
/// be read, by its sequence number; every change of the records before it is published once,
/// but those of events of a type the store lacks (an erased account's).
pub fn stream_event(data: &[u8]) -> Outcome {
    let Ok(event) = serde_json::from_slice::<Value>(data) else {
        return "not JSON".to_owned();
    };
    if !is_stream_event(&event) {
        return "not a stream event".to_owned();
    }
    let records = stream_records(&event);
    assert_eq!(
        records.len(),
        event["Records"].as_array().map_or(0, Vec::len)
    );
    let raw = event["Records"]
        .as_array()
        .expect("a stream event's records");
    // Every record read announces what its JSON says, by a count of its own.
    for (record, read) in raw.iter().zip(&records) {
        if let Ok(changes) = &read.changes {
            assert_eq!(changes.len(), announced(record, |_| true), "{record}");
        }
    }
    // The store holds the demo account and its types, and no event: a change of an event of a
    // type it lacks is of an erased account's, and goes unpublished.
    let account = format!("ACCOUNT#{DEMO_ACCOUNT_ID}");
    let known = [DEMO_CONVERSION_TYPE_ID, DEMO_INACTIVE_CONVERSION_TYPE_ID];
    let published = |image: &Value| {
        image["pk"]["S"] == account.as_str()
            && (image["conversion_type_id"]["S"].as_str()).is_some_and(|t| known.contains(&t))
    };
    let stop = records.iter().position(|r| r.changes.is_err());
    let changes: usize = (raw[..stop.unwrap_or(raw.len())].iter())
        .map(|record| announced(record, published))
        .sum();
    let bus = CountingBus::default();
    let answer =
        on_demo_store(async |store| Publisher::new(store, Some(&bus)).publish(&event).await);
    let named: Vec<&str> = (answer.failures.iter())
        .map(|f| f.item_identifier.as_str())
        .collect();
    let expected: Vec<&str> = stop
        .map(|at| records[at].sequence.as_str())
        .into_iter()
        .collect();
    assert_eq!(
        named, expected,
        "the first record that cannot go, and no other"
    );
    assert_eq!(
        bus.0.into_inner(),
        changes,
        "each change before it published once"
    );
    match stop {
        None => format!("accepted: {} records, {changes} changes", records.len()),
        Some(_) => "refused at a record".to_owned(),
    }
}

/// The changes a stream record announces, counted from its JSON: an event's insert, the
/// adjustments an event's update adds (of an event whose image is `publishable`), a
/// `lead.erased` change's insert.
fn announced(record: &Value, publishable: impl Fn(&Value) -> bool) -> usize {
    let new = &record["dynamodb"]["NewImage"];
    let text = |v: &Value| v["S"].as_str().map(str::to_owned);
    let listed = |image: &Value| image["adjustments"]["L"].as_array().map_or(0, Vec::len);
    let inserted = record["eventName"] == "INSERT";
    match text(&new["entity"]).as_deref() {
        Some("conversion_event") if !publishable(new) => 0,
        Some("conversion_event") if inserted => 1,
        Some("conversion_event") => {
            listed(new).saturating_sub(listed(&record["dynamodb"]["OldImage"]))
        }
        Some("change") if inserted && text(&new["type"]).as_deref() == Some("lead.erased") => 1,
        _ => 0,
    }
}

/// The request id the runtime would give an invocation.
const LAMBDA_REQUEST_ID: &str = "fuzz-lambda-request";

// ---------------------------------------------------------------------------------------------
// The whole request path

/// Raw bytes as the Lambda runtime hands them over: JSON bytes are read the way
/// `lambda_runtime` reads them (`serde_json::from_slice`) and answered on the in-memory store.
pub fn event_bytes(data: &[u8]) -> Outcome {
    // Lambda's payloads are UTF-8 JSON.
    let is_json = std::str::from_utf8(data)
        .is_ok_and(|text| serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok());
    let incoming = serde_json::from_slice::<Incoming>(data);
    // Any JSON is an event the function answers (as unsupported at worst); anything else never
    // reaches it.
    if std::str::from_utf8(data).is_ok() {
        assert_eq!(
            incoming.is_ok(),
            is_json,
            "JSON read as an event iff it is JSON"
        );
    }
    let Ok(incoming) = incoming else {
        return "not JSON".to_owned();
    };
    let answer = answer(incoming);
    // API Gateway's id where the function can read it; the invocation's where there is none or
    // the event is unreadable (`requestContext` written twice, say); no header for an id that
    // cannot be one (rather than a mangled one).
    let header = answer["headers"]["x-request-id"].as_str();
    match sent_request_id(data) {
        None => assert_eq!(header, Some(LAMBDA_REQUEST_ID), "{answer}"),
        Some(Ok(id)) if printable(&id) => assert!(
            header == Some(id.as_str()) || header == Some(LAMBDA_REQUEST_ID),
            "{answer}"
        ),
        Some(_) => assert!(
            header.is_none() || header == Some(LAMBDA_REQUEST_ID),
            "{answer}"
        ),
    }
    status(&answer).to_string()
}

/// The event's `requestContext.requestId`: `None` where the event has none (or cannot have one
/// read: its context written twice), `Some(Err)` where it is not a string of Unicode.
fn sent_request_id(event: &[u8]) -> Option<Result<String, ()>> {
    #[derive(serde::Deserialize)]
    struct Event {
        #[serde(rename = "requestContext")]
        context: Option<Context>,
    }
    #[derive(serde::Deserialize)]
    struct Context {
        #[serde(rename = "requestId")]
        request_id: Option<Box<RawValue>>,
    }
    let raw = serde_json::from_slice::<Event>(event)
        .ok()?
        .context?
        .request_id?;
    Some(serde_json::from_str::<String>(raw.get()).map_err(|_| ()))
}

fn printable(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic())
}

/// An API Gateway HTTP API (payload 2.0) event built from structured input: a method, a route,
/// a query, headers and a body that is usually a JSON object near a valid one, so that the
/// fuzzer spends its time past the first parse.
pub fn http_request(data: &[u8]) -> Outcome {
    let Ok(sent) = Sent::arbitrary_take_rest(Unstructured::new(data)) else {
        return NOT_INPUT.to_owned();
    };
    let (event, body) = sent.event();
    let request_id = event["requestContext"]["requestId"]
        .as_str()
        .map(str::to_owned);
    let answer = answer(Incoming::from_json(&event.to_string()));
    let header = answer["headers"]["x-request-id"].as_str();
    assert_eq!(
        header,
        Some(request_id.as_deref().unwrap_or(LAMBDA_REQUEST_ID)),
        "{answer}"
    );
    let status = status(&answer);
    if sent.method == Method::Post && matches!(sent.route, Route::Conversions) && status < 300 {
        check_created(&answer, &body);
        return format!("{status}, the event checked");
    }
    status.to_string()
}

/// The function's answer to an event, as it returns it to Lambda (a fresh demo store each time,
/// so that every input is reproduced alone), checked against `openapi.yaml` for the route and
/// method the function read from it: a status the operation lists, its schema, its headers
/// (`Allow` on a 405), its messages.
fn answer(incoming: Incoming) -> Value {
    let (method, path) = match &incoming {
        // The route API Gateway matched, if it named one, else the path.
        Incoming::Http(request) => (request.method().to_owned(), request.route_path().to_owned()),
        // Not an HTTP API event: the error schema, on no documented path.
        Incoming::Unsupported { .. } => (String::new(), String::new()),
    };
    let outgoing = on_demo_store(async |store| {
        // The feed serves the store's event at once.
        let app = App::new(store).with_changes_lag(std::time::Duration::ZERO);
        // One event to adjust.
        let body = format!(
            r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":10.00}}"#
        );
        let create = conversions::http::Request::new("POST", "/conversions")
            .with_header("x-api-key", DEMO_API_KEY)
            .with_header("idempotency-key", FUZZ_EVENT_KEY)
            .with_body(conversions::http::Body::Text(body));
        assert_eq!(app.handle(create).await.status(), 201);
        app.invoke(incoming, LAMBDA_REQUEST_ID).await
    });
    crate::openapi::assert_documented("fuzz", &method, &path, &outgoing);
    serde_json::to_value(&outgoing).expect("every answer serialises")
}

/// The `Idempotency-Key` of the event every fuzzed store holds.
const FUZZ_EVENT_KEY: &str = "fuzz-event";

fn fuzz_event_id() -> String {
    let account = conversions::domain::AccountId::parse(DEMO_ACCOUNT_ID).expect("the demo account");
    (conversions::domain::IdempotencyKey::parse(FUZZ_EVENT_KEY.as_bytes()).expect("a key"))
        .event_id(account)
        .to_string()
}

/// The answer's status.
fn status(answer: &Value) -> u64 {
    answer["statusCode"].as_u64().expect("a status")
}

/// An accepted body's event: the amount sent, with the same digits; every documented limit.
fn check_created(answer: &Value, body: &str) {
    let members = object_members(body).expect("an accepted body is an object");
    let event_text = object_members(answer["body"].as_str().unwrap())
        .and_then(|m| m.get("conversion_event").map(|raw| raw.get().to_owned()))
        .expect("conversion_event");
    let event = object_members(&event_text).expect("conversion_event is an object");
    let event_value: Value = serde_json::from_str(&event_text).unwrap();

    // The amount: the digits sent (a plain decimal keeps its text), within the limits, and
    // within the currency's minor unit.
    let sent_amount = members["amount"].get();
    let stored = Amount::parse_json_number(event["amount"].get()).expect("an amount");
    assert_eq!(
        Amount::parse_json_number(sent_amount).expect("the amount sent was accepted"),
        stored
    );
    if !sent_amount.contains(['e', 'E']) && !sent_amount.starts_with('-') {
        assert_eq!(event["amount"].get(), sent_amount, "the amount's digits");
    }
    check_amount_limits(stored);
    let currency = Currency::parse(event_value["currency"].as_str().expect("a currency"))
        .expect("an ISO 4217 currency");
    stored
        .check_minor_unit(currency)
        .expect("within the currency's minor unit");

    // Metadata: the limits, and what was sent, unchanged.
    let metadata_text = event["metadata"].get();
    let metadata = Metadata::from_json(metadata_text).expect("metadata");
    check_metadata_limits(&metadata, metadata_text);
    match members.get("metadata").map(|raw| raw.get()) {
        None | Some("null") => assert_eq!(metadata_text, "{}"),
        Some(sent) => assert_eq!(
            serde_json::from_str::<Value>(sent).unwrap(),
            event_value["metadata"],
            "metadata as sent"
        ),
    }

    // Notes, the time of the conversion, the ids.
    if let Some(notes) = event_value["notes"].as_str() {
        assert!(notes.chars().count() <= MAX_NOTES_CHARS);
    }
    let converted_at = event_value["converted_at"].as_str().expect("converted_at");
    let created_at = event_value["created_at"].as_str().expect("created_at");
    let converted_at = Timestamp::parse(converted_at).expect("converted_at prints readably");
    let created_at = Timestamp::parse(created_at).expect("created_at prints readably");
    assert!(
        converted_at.not_in_future(created_at).is_ok(),
        "converted_at at most the allowed skew after created_at"
    );
    for id in ["conversion_type_id", "lead_id"] {
        let id = event_value[id].as_str().expect("an id");
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    }
}

/// The members of a JSON object as raw text, or `None` when the text is not one (or repeats a
/// member: this map keeps one of them).
fn object_members(text: &str) -> Option<BTreeMap<String, Box<RawValue>>> {
    serde_json::from_str(text.trim_start_matches('\u{feff}')).ok()
}

// ---------------------------------------------------------------------------------------------
// The parsers

/// The text of a JSON number as an amount: an accepted amount means exactly the number sent
/// and prints back to the same digits; a refused one breaks the rule its error names.
pub fn amount(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return NOT_INPUT.to_owned();
    };
    // The parser's contract: text the JSON parser accepted as a number.
    if !matches!(serde_json::from_str::<Box<RawValue>>(text), Ok(raw) if raw.get() == text)
        || !text.starts_with(|c: char| c == '-' || c.is_ascii_digit())
    {
        return NOT_INPUT.to_owned();
    }
    let approx: f64 = text.parse().expect("a JSON number is a float's text");
    let amount = match Amount::parse_json_number(text) {
        Ok(amount) => amount,
        Err(error) => {
            check_amount_refusal(text, approx, &error);
            return format!("refused: {error}");
        }
    };
    check_amount_limits(amount);
    let printed = amount.to_string();
    assert_eq!(
        Amount::parse_json_number(&printed).map(|a| a.to_string()),
        Ok(printed.clone()),
        "prints back to itself"
    );
    let exponent_form = text.contains(['e', 'E']);
    if !exponent_form && !text.starts_with('-') {
        assert_eq!(printed, text, "a plain decimal keeps its digits");
    }
    if exponent_form {
        if let Some(exact) = scientific(text) {
            assert_eq!(amount.as_decimal(), exact, "{text} means {exact}");
        }
    } else {
        assert_eq!(
            amount.as_decimal(),
            Decimal::from_str_exact(text)
                .unwrap_or_else(|_| {
                    // More digits than a decimal holds are refused, so this is only reached
                    // for text `Decimal` itself reads.
                    panic!("{text} accepted but not a decimal")
                })
                .abs()
        );
    }
    let relative = (amount.as_decimal().to_string().parse::<f64>().unwrap() - approx).abs();
    assert!(relative <= approx.abs() * 1e-12, "{text} is not {amount}");
    // Each currency's minor unit: accepted iff the significant decimals fit.
    for code in ["USD", "JPY", "BHD", "CLF"] {
        let currency = Currency::parse(code).unwrap();
        let places = currency.minor_unit().map_or(u32::MAX, u32::from);
        assert_eq!(
            amount.check_minor_unit(currency).is_ok(),
            amount.as_decimal().normalize().scale() <= places,
            "{text} in {code}"
        );
    }
    "accepted".to_owned()
}

/// A refused amount breaks the rule its error names.
fn check_amount_refusal(text: &str, approx: f64, error: &AmountError) {
    match error {
        AmountError::Negative => assert!(
            text.starts_with('-') && approx != 0.0 || {
                // A value too small for a float (`-1e-400`) is still below zero.
                text.starts_with('-') && text.bytes().any(|b| (b'1'..=b'9').contains(&b))
            }
        ),
        AmountError::TooLarge => assert!(approx >= 1e15 * (1.0 - 1e-15), "{text}"),
        AmountError::TooPrecise => {
            // Exact only with more digits than a decimal holds: if `Decimal` reads the text
            // exactly, it has more places than the 28 it keeps.
            let places = text
                .split_once('.')
                .map_or(0, |(_, fraction)| fraction.len());
            let plain = !text.contains(['e', 'E']);
            if plain && places > 28 {
                return; // Its digits cannot be kept: refused, as documented.
            }
            let exact = if plain {
                Decimal::from_str_exact(text).ok()
            } else {
                scientific(text)
            };
            if let Some(exact) = exact {
                panic!("{text} refused as too precise, but it is exactly {exact}");
            }
        }
        other => panic!("{text}: {other} without a currency"),
    }
}

/// The exact value of `<decimal>e<exponent>` where `Decimal` holds it (its own
/// `from_scientific` rounds): the mantissa's digits with the exponent moved into the scale.
fn scientific(text: &str) -> Option<Decimal> {
    let (mantissa, exponent) = text.split_once(['e', 'E'])?;
    let mantissa = Decimal::from_str_exact(mantissa).ok()?;
    let exponent: i64 = exponent.parse().ok()?;
    let scale = i64::from(mantissa.scale()).checked_sub(exponent)?;
    if scale >= 0 {
        Decimal::try_from_i128_with_scale(mantissa.mantissa(), u32::try_from(scale).ok()?).ok()
    } else {
        let power = 10i128.checked_pow(u32::try_from(-scale).ok()?)?;
        let power = Decimal::try_from_i128_with_scale(power, 0).ok()?;
        Decimal::try_from_i128_with_scale(mantissa.mantissa(), 0)
            .ok()?
            .checked_mul(power)
    }
    .map(|d| d.abs())
}

fn check_amount_limits(amount: Amount) {
    let decimal = amount.as_decimal();
    assert!(!decimal.is_sign_negative() || decimal.is_zero(), "{amount}");
    assert!(
        decimal < Decimal::from_str(MAX_AMOUNT_EXCLUSIVE).unwrap(),
        "{amount}"
    );
}

/// `converted_at`: accepted exactly when the text is RFC 3339 (section 5.6, read here by hand,
/// not by chrono) naming an instant in the years 1 to 9999 UTC that is no leap second, and then
/// it is that instant; it prints in UTC and reads back to itself.
pub fn timestamp(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return NOT_INPUT.to_owned();
    };
    let expected = rfc3339_instant(text.as_bytes());
    match Timestamp::parse(text) {
        Ok(at) => {
            let (seconds, nanos) = expected.unwrap_or_else(|why| panic!("{text} accepted: {why}"));
            let got = at.as_datetime();
            assert_eq!(
                (got.timestamp(), got.timestamp_subsec_nanos()),
                (seconds, nanos),
                "{text}: the instant it names"
            );
            let printed = at.to_string();
            assert!(printed.ends_with('Z'), "{printed}");
            assert_eq!(
                Timestamp::parse(&printed),
                Ok(at),
                "{text} printed as {printed}"
            );
            assert_eq!(Timestamp::parse(&at.sortable()), Ok(at));
            assert_eq!(at.sortable().len(), "2026-02-01T15:30:00.000000000Z".len());
            "accepted".to_owned()
        }
        Err(error) => {
            if let Ok(instant) = expected {
                panic!("{text} names {instant:?} within the rules, but was refused: {error}");
            }
            format!("refused: {error}")
        }
    }
}

/// Seconds since 1970 UTC (and nanoseconds, digits past the ninth dropped) of an RFC 3339
/// date-time, or why it is not one that `converted_at` takes.
pub fn rfc3339_instant(text: &[u8]) -> Result<(i64, u32), &'static str> {
    let digits = |from: usize, len: usize| -> Result<i64, &'static str> {
        let part = text.get(from..from + len).ok_or("too short")?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err("a digit expected");
        }
        Ok(part.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let at = |i: usize, allowed: &[u8]| text.get(i).is_some_and(|b| allowed.contains(b));
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    let separators = at(4, b"-") && at(7, b"-") && at(10, b"Tt ") && at(13, b":") && at(16, b":");
    if !separators {
        return Err("not the date-time's shape");
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) || day < 1 || day > month_days[month as usize - 1] {
        return Err("no such day");
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err("no such time");
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if at(i, b".") {
        let count = text[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if count == 0 {
            return Err("a fraction without digits");
        }
        for k in 0..9 {
            let digit = text
                .get(i + 1 + k)
                .filter(|_| k < count)
                .map_or(0, |d| d - b'0');
            nanos = nanos * 10 + u32::from(digit);
        }
        i += 1 + count;
    }
    let offset = match text.get(i) {
        Some(b'Z' | b'z') if text.len() == i + 1 => 0,
        Some(sign @ (b'+' | b'-')) if text.len() == i + 6 && at(i + 3, b":") => {
            let (h, m) = (digits(i + 1, 2)?, digits(i + 4, 2)?);
            if h > 23 || m > 59 {
                return Err("no such offset");
            }
            (h * 60 + m) * if *sign == b'+' { 1 } else { -1 }
        }
        _ => return Err("no zone, or something after it"),
    };
    if second == 60 {
        return Err("a leap second");
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset * 60;
    // Years 1 to 9999 in UTC: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
    if !(-62_135_596_800..=253_402_300_799).contains(&seconds) {
        return Err("outside the years 1 to 9999 UTC");
    }
    Ok((seconds, nanos))
}

/// `metadata` from the text of a JSON value: an accepted object satisfies every limit and keeps
/// what was sent; a refused one breaks the rule its error names.
pub fn metadata(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return NOT_INPUT.to_owned();
    };
    let Ok(raw) = serde_json::from_str::<Box<RawValue>>(text) else {
        return NOT_INPUT.to_owned();
    };
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let error = match Metadata::from_raw(&raw) {
        Ok(metadata) => {
            let stored = metadata.to_json();
            check_metadata_limits(&metadata, &stored);
            assert_eq!(
                Metadata::from_json(&stored),
                Ok(metadata.clone()),
                "round trip"
            );
            if let Some(parsed) = parsed {
                assert_eq!(
                    serde_json::from_str::<Value>(&stored).unwrap(),
                    parsed,
                    "kept as sent"
                );
            }
            return "accepted".to_owned();
        }
        Err(error) => error,
    };
    // By kind: the messages of some name a key.
    let kind = format!("{error:?}");
    let refused = format!("refused: {}", kind.split('(').next().unwrap_or_default());
    // The members as written, repeats kept (serde_json's reading of the text, not ours).
    let members = serde_json::from_str::<Written>(text).map(|w| w.0);
    let member = |key: &str| {
        let members = members.as_ref().expect("members read where a value was");
        let values: Vec<&str> = (members.iter().filter(|(k, _)| k == key))
            .map(|(_, v)| v.get())
            .collect();
        assert!(!values.is_empty(), "{text}: no member {key:?}");
        values
    };
    match &error {
        // What is stored is at most the text without its white space.
        MetadataError::TooLarge => assert!(minified_len(text) > MAX_METADATA_BYTES, "{text}"),
        MetadataError::RepeatedKey(key) => assert!(member(key).len() > 1, "{text}: {key}"),
        MetadataError::RepeatedKeyWithin(key) => assert!(
            member(key).iter().any(|v| repeats_within(v)),
            "{text}: {key}"
        ),
        MetadataError::NotFinite(key) => assert!(
            member(key)
                .iter()
                .any(|v| numbers(v).any(|n| n.parse::<f64>().is_ok_and(f64::is_infinite))),
            "{text}: {key}"
        ),
        MetadataError::InvalidUnicode(key) => assert!(
            member(key).iter().any(|v| unpaired_surrogate(v)),
            "{text}: {key}"
        ),
        MetadataError::InvalidUnicodeKey => {
            assert!(members.is_err() && unpaired_surrogate(text), "{text}")
        }
        _ => {}
    }
    let Some(Value::Object(object)) = parsed else {
        // Not an object serde_json reads whole (too deep, a number out of range, an unpaired
        // surrogate): what is left to compare needs one.
        return refused;
    };
    let too_many = || object.len() > MAX_METADATA_KEYS;
    match &error {
        MetadataError::NotAnObject => panic!("{text} is an object"),
        MetadataError::TooManyKeys => assert!(too_many(), "{text}"),
        MetadataError::KeyTooLong => assert!(
            object
                .keys()
                .any(|k| k.chars().count() > MAX_METADATA_KEY_CHARS),
            "{text}"
        ),
        MetadataError::EmptyKey => assert!(object.contains_key(""), "{text}"),
        MetadataError::TooDeep => assert!(depth(&Value::Object(object.clone())) > MAX_JSON_DEPTH),
        // serde_json reads no unpaired surrogate nor infinite number into a map.
        MetadataError::InvalidUnicode(_)
        | MetadataError::InvalidUnicodeKey
        | MetadataError::NotFinite(_) => panic!("{text} was read whole: {error}"),
        _ => {}
    }
    refused
}

/// Whether a string of the JSON text escapes half of a surrogate pair without the other.
fn unpaired_surrogate(text: &str) -> bool {
    let bytes = text.as_bytes();
    let unit = |at: usize| {
        let hex = bytes.get(at..at + 6)?.strip_prefix(b"\\u")?;
        u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
    };
    let (mut i, mut in_string) = (0, false);
    while i < bytes.len() {
        match (in_string, bytes[i]) {
            (false, b'"') => in_string = true,
            (true, b'"') => in_string = false,
            (true, b'\\') => match unit(i) {
                Some(0xD800..=0xDBFF) => match unit(i + 6) {
                    Some(0xDC00..=0xDFFF) => i += 6,
                    _ => return true,
                },
                Some(0xDC00..=0xDFFF) => return true,
                _ => i += 1,
            },
            _ => {}
        }
        i += 1;
    }
    false
}

/// An object's members as written: each key and the text of its value, repeats kept.
struct Written(Vec<(String, Box<RawValue>)>);

impl<'de> serde::Deserialize<'de> for Written {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = Written;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Written, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Written(members))
            }
        }
        d.deserialize_map(Members)
    }
}

/// Whether an object anywhere in the value repeats a key.
fn repeats_within(value: &str) -> bool {
    if let Ok(Written(members)) = serde_json::from_str::<Written>(value) {
        let mut keys: Vec<&String> = members.iter().map(|(k, _)| k).collect();
        keys.sort();
        return keys.windows(2).any(|w| w[0] == w[1])
            || members.iter().any(|(_, v)| repeats_within(v.get()));
    }
    serde_json::from_str::<Vec<Box<RawValue>>>(value)
        .is_ok_and(|items| items.iter().any(|item| repeats_within(item.get())))
}

/// The number tokens of a JSON text, outside its strings.
fn numbers(text: &str) -> impl Iterator<Item = &str> {
    let mut in_string = false;
    let mut escaped = false;
    let mut start = None;
    let mut found = Vec::new();
    for (i, c) in text.char_indices() {
        let number_char = c.is_ascii_digit() || "-+.eE".contains(c);
        if in_string {
            (escaped, in_string) = (!escaped && c == '\\', escaped || c != '"');
        } else if number_char {
            start.get_or_insert(i);
            continue;
        } else if c == '"' {
            in_string = true;
        }
        if let Some(from) = start.take() {
            found.push(&text[from..i]);
        }
    }
    found.extend(start.map(|from| &text[from..]));
    found.into_iter()
}

/// The length of a JSON text without the white space between its tokens.
fn minified_len(text: &str) -> usize {
    let (mut in_string, mut escaped, mut len) = (false, false, 0);
    for c in text.chars() {
        if in_string {
            (escaped, in_string) = (!escaped && c == '\\', escaped || c != '"');
        } else if c == '"' {
            in_string = true;
        } else if c.is_ascii_whitespace() {
            continue;
        }
        len += c.len_utf8();
    }
    len
}

fn check_metadata_limits(metadata: &Metadata, stored: &str) {
    assert!(metadata.len() <= MAX_METADATA_KEYS);
    assert!(stored.len() <= MAX_METADATA_BYTES, "{} bytes", stored.len());
    assert!(!nests_deeper_than(stored, MAX_JSON_DEPTH));
    let mut previous: Option<&String> = None;
    for (key, _) in metadata.iter() {
        assert!(!key.is_empty() && key.chars().count() <= MAX_METADATA_KEY_CHARS);
        assert!(previous < Some(key), "keys sorted, each once");
        previous = Some(key);
    }
}

/// Levels of nesting: a scalar is 0, `{}` is 1.
fn depth(value: &Value) -> usize {
    match value {
        Value::Object(members) => 1 + members.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

// ---------------------------------------------------------------------------------------------
// The structured request

#[derive(Arbitrary, Debug, PartialEq)]
enum Method {
    Post,
    Get,
    Put,
    Options,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Route {
    Conversions,
    Conversion(String),
    /// `None`: the event every fuzzed store holds ([`FUZZ_EVENT_KEY`]).
    Adjustments(Option<String>),
    Changes,
    ConversionTypes,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Key {
    Demo,
    Missing,
    /// The demo key with one byte changed.
    Changed(u8, u8),
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Field {
    ConversionTypeId,
    LeadId,
    Amount,
    WorkflowRunId,
    Currency,
    ConvertedAt,
    Metadata,
    Notes,
    /// An adjustment's members.
    Type,
    Reason,
    AdjustedAt,
    Other(String),
}

impl Field {
    fn name(&self) -> &str {
        match self {
            Self::ConversionTypeId => "conversion_type_id",
            Self::LeadId => "lead_id",
            Self::Amount => "amount",
            Self::WorkflowRunId => "workflow_run_id",
            Self::Currency => "currency",
            Self::ConvertedAt => "converted_at",
            Self::Metadata => "metadata",
            Self::Notes => "notes",
            Self::Type => "type",
            Self::Reason => "reason",
            Self::AdjustedAt => "adjusted_at",
            Self::Other(name) => name,
        }
    }
}

/// A member's value, as JSON text.
#[derive(Arbitrary, Debug)]
enum Json {
    /// A value the field accepts in the demo data.
    Valid,
    /// One of the demo data's ids (of any kind), or the demo account's.
    DemoId(u8),
    Null,
    Bool(bool),
    /// A number from digits, a point and an exponent.
    Number {
        digits: u64,
        places: u8,
        exponent: Option<i16>,
        negative: bool,
    },
    Text(String),
    Object(Vec<(String, Json)>),
    Array(Vec<Json>),
    /// Anything at all, valid JSON or not.
    Raw(String),
}

impl Json {
    fn text(&self, field: &Field, depth: usize) -> String {
        let quoted = |s: &str| Value::from(s).to_string();
        match self {
            Self::Valid => match field {
                Field::ConversionTypeId => quoted(DEMO_CONVERSION_TYPE_ID),
                Field::LeadId => quoted(DEMO_LEAD_ID),
                Field::WorkflowRunId => quoted(DEMO_WORKFLOW_RUN_ID),
                Field::Currency => quoted("USD"),
                Field::ConvertedAt => quoted("2026-02-01T15:30:00.123+02:00"),
                Field::Metadata => r#"{"channel":"web","rooms":2,"vip":true}"#.to_owned(),
                Field::Notes => quoted("Booked by phone"),
                Field::Type => quoted("restatement"),
                Field::Reason => quoted("closed at a lower price"),
                Field::AdjustedAt => quoted("2026-02-01T15:30:00Z"),
                Field::Amount | Field::Other(_) => "85000.00".to_owned(),
            },
            Self::DemoId(which) => {
                let ids = [
                    DEMO_CONVERSION_TYPE_ID,
                    DEMO_INACTIVE_CONVERSION_TYPE_ID,
                    DEMO_LEAD_ID,
                    DEMO_WORKFLOW_RUN_ID,
                    DEMO_ACCOUNT_ID,
                ];
                quoted(ids[usize::from(*which) % ids.len()])
            }
            Self::Null => "null".to_owned(),
            Self::Bool(b) => b.to_string(),
            Self::Number {
                digits,
                places,
                exponent,
                negative,
            } => {
                let digits = digits.to_string();
                let places = usize::from(*places % 24).min(digits.len().saturating_sub(1));
                let (whole, fraction) = digits.split_at(digits.len() - places);
                let mut text = format!("{}{whole}", if *negative { "-" } else { "" });
                if !fraction.is_empty() {
                    text = format!("{text}.{fraction}");
                }
                if let Some(exponent) = exponent {
                    text = format!("{text}e{exponent}");
                }
                text
            }
            Self::Text(s) => quoted(s),
            Self::Object(members) if depth < 40 => {
                let members: Vec<String> = members
                    .iter()
                    .map(|(k, v)| format!("{}:{}", quoted(k), v.text(field, depth + 1)))
                    .collect();
                format!("{{{}}}", members.join(","))
            }
            Self::Array(items) if depth < 40 => {
                let items: Vec<String> = items.iter().map(|v| v.text(field, depth + 1)).collect();
                format!("[{}]", items.join(","))
            }
            Self::Object(_) | Self::Array(_) => "{}".to_owned(),
            Self::Raw(raw) => raw.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum SentBody {
    Missing,
    /// The reference page's minimal body, then these members: each replaces the one of its
    /// name, or is added (written twice when `repeat`).
    Members {
        base: bool,
        members: Vec<(Field, Json, bool)>,
    },
    Raw(String),
    Base64(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Sent {
    method: Method,
    route: Route,
    /// `$default` rather than the route's key, as under a catch-all route.
    default_route: bool,
    stage: Option<String>,
    dry_run: Option<String>,
    query: String,
    key: Key,
    idempotency_key: Option<String>,
    headers: Vec<(String, String)>,
    body: SentBody,
    request_id: Option<String>,
}

impl Sent {
    /// The event, and the body as text (empty when there is none or it is not UTF-8).
    fn event(&self) -> (Value, String) {
        let method = match &self.method {
            Method::Post => "POST",
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Options => "OPTIONS",
            Method::Other(m) => m,
        };
        let (route_key, path) = match &self.route {
            Route::Conversions => ("/conversions", "/conversions".to_owned()),
            Route::Conversion(id) => ("/conversions/{id}", format!("/conversions/{id}")),
            Route::Adjustments(id) => {
                let id = id.clone().unwrap_or_else(fuzz_event_id);
                (
                    "/conversions/{id}/adjustments",
                    format!("/conversions/{id}/adjustments"),
                )
            }
            Route::Changes => ("/conversions/changes", "/conversions/changes".to_owned()),
            Route::ConversionTypes => ("/conversion-types", "/conversion-types".to_owned()),
            Route::Other(path) => ("$default", path.clone()),
        };
        let route_key = if self.default_route || route_key == "$default" {
            "$default".to_owned()
        } else {
            format!("{method} {route_key}")
        };
        let stage = self.stage.clone().unwrap_or_else(|| "$default".to_owned());
        let raw_path = if stage == "$default" {
            path.clone()
        } else {
            format!("/{stage}{path}")
        };
        let mut query = self.query.clone();
        if let Some(dry_run) = &self.dry_run {
            query = format!("dry_run={dry_run}&{query}");
        }
        let mut headers = serde_json::Map::new();
        for (name, value) in &self.headers {
            headers.insert(name.to_ascii_lowercase(), value.clone().into());
        }
        match &self.key {
            Key::Demo => {
                headers.insert("x-api-key".into(), DEMO_API_KEY.into());
            }
            Key::Missing => {
                headers.remove("x-api-key");
            }
            Key::Changed(at, to) => {
                let mut key = DEMO_API_KEY.as_bytes().to_vec();
                let at = usize::from(*at) % key.len();
                key[at] = *to;
                let key = String::from_utf8_lossy(&key).into_owned();
                headers.insert("x-api-key".into(), key.into());
            }
            Key::Other(key) => {
                headers.insert("x-api-key".into(), key.clone().into());
            }
        }
        if let Some(key) = &self.idempotency_key {
            headers.insert("idempotency-key".into(), key.clone().into());
        }
        let (body, text, base64) = match &self.body {
            SentBody::Missing => (Value::Null, String::new(), false),
            SentBody::Members { base, members } => {
                let mut fields: Vec<(String, String)> = Vec::new();
                if *base {
                    for field in [Field::ConversionTypeId, Field::LeadId, Field::Amount] {
                        fields.push((field.name().to_owned(), Json::Valid.text(&field, 0)));
                    }
                }
                for (field, value, repeat) in members {
                    let member = (field.name().to_owned(), value.text(field, 0));
                    match fields.iter_mut().find(|(name, _)| *name == member.0) {
                        Some(existing) if !repeat => *existing = member,
                        _ => fields.push(member),
                    }
                }
                let members: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{}:{value}", Value::from(name.as_str())))
                    .collect();
                let text = format!("{{{}}}", members.join(","));
                (text.clone().into(), text, false)
            }
            SentBody::Raw(text) => (text.clone().into(), text.clone(), false),
            SentBody::Base64(bytes) => {
                use base64::Engine;
                let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
                let text = String::from_utf8(bytes.clone()).unwrap_or_default();
                (encoded.into(), text, true)
            }
        };
        // API Gateway's ids are printable; the event-bytes target tries the others.
        let request_id = self
            .request_id
            .as_ref()
            .map(|id| {
                id.chars()
                    .filter(char::is_ascii_graphic)
                    .collect::<String>()
            })
            .filter(|id| !id.is_empty());
        let mut context = serde_json::json!({
            "http": {"method": method, "path": raw_path},
            "stage": stage,
            "routeKey": route_key,
        });
        if let Some(id) = request_id {
            context["requestId"] = id.into();
        }
        let event = serde_json::json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": raw_path,
            "rawQueryString": query,
            "headers": headers,
            "requestContext": context,
            "body": body,
            "isBase64Encoded": base64,
        });
        (event, text)
    }
}

/// `conversions-admin import`'s reader on any bytes, as CSV and as JSON Lines: every row is the
/// file's own bytes, in order, at the line its first byte is on; between rows (and after the
/// last) there is nothing but line ends (and, in JSON Lines, white space): no byte of a row is
/// lost, shifted or read twice. A reader resumed at any row's end reads the same rows after it.
/// A CSV row of another length than the header, or not UTF-8, never stands for a JSON object.
pub fn import_rows(data: &[u8]) -> Outcome {
    use conversions::admin::import::Reader;
    let mut outcomes = Vec::new();
    for csv in [true, false] {
        let Ok(mut reader) = Reader::new(data, csv) else {
            assert!(csv, "a JSON Lines file has no header to refuse");
            outcomes.push("refused header".to_owned());
            continue;
        };
        let mut rows = Vec::new();
        while let Some(row) = reader.next_row().expect("bytes in memory read") {
            rows.push(row);
        }
        // Where the first row may start: past the header's record (CSV).
        let mut at = match csv {
            true => header_end(data, &reader.header_raw),
            false => usize::from(data.starts_with(b"\xEF\xBB\xBF")) * 3,
        };
        let blank = |b: &u8| matches!(b, b'\r' | b'\n') || (!csv && matches!(b, b' ' | b'\t'));
        for row in &rows {
            assert!(!row.raw.is_empty(), "a row has bytes");
            let found = find(&data[at..], &row.raw).expect("a row is the file's own bytes");
            assert!(
                data[at..at + found].iter().all(blank),
                "only line ends between rows: {:?}",
                &data[at..at + found]
            );
            let start = at + found;
            let line = 1 + data[..start].iter().filter(|b| **b == b'\n').count() as u64;
            assert_eq!(row.line, line, "the line its first byte is on");
            at = start + row.raw.len();
            let end = usize::try_from(row.end.byte).unwrap();
            assert!(
                end >= at && data[at..end].iter().all(blank),
                "the end is past the row's line end"
            );
            assert_eq!(
                row.end.line,
                1 + data[..end].iter().filter(|b| **b == b'\n').count() as u64
            );
            if std::str::from_utf8(&row.raw).is_err() {
                assert!(row.json.is_err(), "a row not UTF-8 stands for nothing");
            }
            if let Ok(json) = &row.json {
                let object: serde_json::Map<String, Value> = match csv {
                    true => serde_json::from_str(json).expect("a CSV row stands for an object"),
                    false => {
                        let space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
                        let first = row.raw.iter().position(|b| !space(b)).unwrap();
                        let last = row.raw.iter().rposition(|b| !space(b)).unwrap();
                        assert_eq!(
                            json.as_bytes(),
                            &row.raw[first..=last],
                            "a JSON line as written"
                        );
                        continue;
                    }
                };
                let cells = csv_cells(&row.raw);
                if let Some(cells) = cells {
                    assert_eq!(cells, reader.header.len(), "a row of the header's length");
                }
                assert!(object.len() <= reader.header.len());
            }
        }
        assert!(
            data[at.min(data.len())..].iter().all(blank),
            "nothing after the last row"
        );
        // Resumed at a few rows' ends: the same rows after it.
        for k in [0, rows.len() / 2, rows.len().saturating_sub(1)] {
            let Some(row) = rows.get(k) else { break };
            let mut resumed = Reader::new(data, csv).expect("read once already");
            resumed
                .skip_to(row.end)
                .expect("a row's end is a place to resume");
            for later in &rows[k + 1..] {
                let again = resumed.next_row().unwrap().expect("the same rows");
                assert_eq!(
                    (again.line, &again.raw, &again.json),
                    (later.line, &later.raw, &later.json)
                );
            }
            assert!(resumed.next_row().unwrap().is_none());
        }
        let valid = rows.iter().filter(|r| r.json.is_ok()).count();
        outcomes.push(format!("{} rows, {valid} JSON", rows.len().min(3)));
    }
    let accepted = if outcomes
        .iter()
        .any(|o| o.contains("JSON") && !o.contains(" 0 JSON"))
    {
        "accepted"
    } else {
        "refused"
    };
    format!("{accepted}: {}", outcomes.join("; "))
}

/// Where the header's record ends in the file: past its bytes and its line end.
fn header_end(data: &[u8], header: &[u8]) -> usize {
    let start = usize::from(data.starts_with(b"\xEF\xBB\xBF")) * 3;
    let start = start
        + data[start..]
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
    if header.is_empty() {
        return start;
    }
    let found = find(&data[start..], header).expect("the header is the file's own bytes");
    start + found + header.len()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The cells of one CSV record, counted by a plain reading of RFC 4180 (quotes paired, commas
/// outside them); `None` where quotes are not paired the RFC's way.
fn csv_cells(record: &[u8]) -> Option<usize> {
    let (mut cells, mut quoted, mut at_start) = (1, false, true);
    let mut bytes = record.iter().peekable();
    while let Some(&b) = bytes.next() {
        match (b, quoted) {
            (b'"', false) if at_start => quoted = true,
            (b'"', false) => return None,
            (b'"', true) if bytes.peek() == Some(&&b'"') => {
                bytes.next();
            }
            (b'"', true) => {
                quoted = false;
                if !matches!(bytes.peek(), None | Some(b',')) {
                    return None;
                }
            }
            (b',', false) => {
                cells += 1;
                at_start = true;
                continue;
            }
            _ => {}
        }
        at_start = false;
    }
    (!quoted).then_some(cells)
}

/// `run` on a fresh in-memory store with the demo data, to its end, on a runtime of its own.
fn on_demo_store<T>(run: impl AsyncFnOnce(MemoryStore) -> T) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let store = MemoryStore::new();
        seed_demo(&store).await.expect("the demo data");
        run(store).await
    })
}
