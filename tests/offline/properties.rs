//! Properties over many generated inputs: exact amounts, a parser that answers every body
//! without panicking, and a function that answers every event Lambda can hand it with one of its
//! documented answers.

use crate::memory::MemoryStore;
use conversions::domain::Timestamp;
use conversions::http::{App, Incoming, NOT_AN_OBJECT, parse_new_conversion};
use conversions::seed::{DEMO_API_KEY, seed_demo};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

proptest! {
    #[test]
    fn any_decimal_below_the_bound_comes_back_with_the_exact_text_it_was_sent_with(
        whole in "(0|[1-9][0-9]{0,14})",
        fraction in proptest::option::of("[0-9]{1,10}"),
    ) {
        let text = match fraction {
            Some(f) => format!("{whole}.{f}"),
            None => whole,
        };
        let body = format!(
            r#"{{"conversion_type_id":"123e4567-e89b-12d3-a456-426614174100","lead_id":"123e4567-e89b-12d3-a456-426614174200","amount":{text}}}"#
        );
        let request = parse_new_conversion(body.as_bytes(), Timestamp::now()).unwrap();
        prop_assert_eq!(request.amount.to_string(), text);
    }

    #[test]
    fn an_exponent_form_means_exactly_its_value(digits in 1u64..1_000_000_000_000_000, shift in -28i32..=6) {
        let body = format!(
            r#"{{"conversion_type_id":"123e4567-e89b-12d3-a456-426614174100","lead_id":"123e4567-e89b-12d3-a456-426614174200","amount":{digits}e{shift}}}"#
        );
        let exact = if shift >= 0 {
            rust_decimal::Decimal::from_i128_with_scale(i128::from(digits) * 10i128.pow(shift.unsigned_abs()), 0)
        } else {
            rust_decimal::Decimal::from_i128_with_scale(i128::from(digits), shift.unsigned_abs())
        };
        match parse_new_conversion(body.as_bytes(), Timestamp::now()) {
            Ok(parsed) => prop_assert_eq!(parsed.amount.as_decimal(), exact),
            // Refused only at or above the bound.
            Err(errors) => {
                prop_assert!(exact >= rust_decimal::Decimal::from(1_000_000_000_000_000i64), "{exact}");
                prop_assert_eq!(errors[0].message.as_str(), "amount must be less than 1000000000000000");
            }
        }
    }

    /// Any bytes: what is no JSON object (read by serde_json, not the parser) is refused with the
    /// documented headline; an accepted body is an object with the three required members.
    #[test]
    fn any_body_gets_an_answer_and_never_a_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let unmarked = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&body);
        let object = serde_json::from_slice::<serde::de::IgnoredAny>(unmarked).is_ok()
            && unmarked.trim_ascii_start().starts_with(b"{");
        match parse_new_conversion(&body, Timestamp::now()) {
            Ok(_) => {
                let members: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(unmarked).unwrap();
                for required in ["conversion_type_id", "lead_id", "amount"] {
                    prop_assert!(members.get(required).is_some_and(|v| !v.is_null()), "{required}");
                }
            }
            Err(errors) if !object => prop_assert_eq!(errors[0].headline(), NOT_AN_OBJECT),
            Err(errors) => prop_assert!(errors.iter().all(|e| !e.field.is_empty() && !e.message.is_empty())),
        }
    }

    #[test]
    fn any_json_object_gets_an_answer_and_never_a_panic(
        members in proptest::collection::btree_map(
            prop_oneof![
                Just("conversion_type_id".to_owned()), Just("lead_id".to_owned()), Just("amount".to_owned()),
                Just("currency".to_owned()), Just("converted_at".to_owned()), Just("metadata".to_owned()),
                Just("notes".to_owned()), Just("workflow_run_id".to_owned()), "[a-z]{1,8}",
            ],
            prop_oneof![
                Just("null".to_owned()), Just("true".to_owned()), "-?[0-9]{1,40}(\\.[0-9]{1,40})?([eE][+-]?[0-9]{1,3})?",
                "\"[ -~]{0,40}\"", Just("{}".to_owned()), Just("[1,\"a\",{}]".to_owned()),
            ],
            0..10,
        )
    ) {
        let body = format!(
            "{{{}}}",
            members.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect::<Vec<_>>().join(",")
        );
        // Accepted: the three required members sent, the ids as UUIDs, the amount a number of
        // no sign written as it was (its digits kept), any other field's value of its kind.
        match parse_new_conversion(body.as_bytes(), Timestamp::now()) {
            Ok(request) => {
                for id in ["conversion_type_id", "lead_id"] {
                    let text: String = serde_json::from_str(&members[id]).unwrap();
                    prop_assert!(uuid::Uuid::parse_str(&text).is_ok(), "{text}");
                }
                let amount = &members["amount"];
                let zero = amount.trim_start_matches('-').bytes().all(|b| b"0.eE+-".contains(&b));
                prop_assert!(!amount.starts_with('"') && (zero || !amount.starts_with('-')), "{}", amount);
                if !amount.contains(['e', 'E']) {
                    prop_assert_eq!(request.amount.to_string(), amount.trim_start_matches('-'));
                }
                for (field, kind) in [("currency", '"'), ("converted_at", '"'), ("notes", '"'), ("metadata", '{')] {
                    prop_assert!(members.get(field).is_none_or(|v| v == "null" || v.starts_with(kind)), "{field}");
                }
            }
            // Refused: a text that is not JSON (a string generated with a quote), or each
            // problem names a field sent or required.
            Err(errors) if errors[0].headline() == NOT_AN_OBJECT => {
                prop_assert!(serde_json::from_str::<serde::de::IgnoredAny>(&body).is_err());
            }
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for e in &errors {
                    let field = e.field.split('.').next().unwrap();
                    prop_assert!(members.contains_key(field) || ["conversion_type_id", "lead_id", "amount"].contains(&field), "{}", e.field);
                }
            }
        }
    }
}

/// The answer to an event, as the function returns it to Lambda.
fn answer_to(incoming: Incoming) -> conversions::http::Response {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = MemoryStore::new();
        seed_demo(&store).await.unwrap();
        App::new(store).invoke(incoming, "lambda-request-id").await
    })
}

/// The answer is one `openapi.yaml` documents for the route and method the function read: a
/// status the operation lists, its schema, its headers (`Allow` on a 405), its messages.
fn assert_documented(event: &str) -> Result<(), TestCaseError> {
    let incoming = Incoming::from_json(event);
    let (method, path) = match &incoming {
        Incoming::Http(request) => (request.method().to_owned(), request.route_path().to_owned()),
        Incoming::Unsupported { .. } => (String::new(), String::new()),
    };
    crate::openapi::assert_documented(event, &method, &path, &answer_to(incoming));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_http_api_event_gets_one_of_the_documented_answers(
        method in prop_oneof![Just("POST".to_owned()), Just("GET".to_owned()), "\\PC{0,8}"],
        route_key in prop_oneof![Just("$default".to_owned()), Just("POST /conversions".to_owned()), "\\PC{0,20}"],
        path in prop_oneof![Just("/conversions".to_owned()), "/\\PC{0,30}"],
        stage in prop_oneof![Just("$default".to_owned()), "\\PC{0,8}"],
        query in "\\PC{0,60}",
        headers in proptest::collection::vec(("\\PC{1,16}", "\\PC{0,40}"), 0..6),
        api_key in prop_oneof![Just(DEMO_API_KEY.to_owned()), "\\PC{0,40}"],
        body in prop_oneof![
            Just(r#"{"conversion_type_id":"123e4567-e89b-12d3-a456-426614174100","lead_id":"123e4567-e89b-12d3-a456-426614174200","amount":1}"#.to_owned()),
            "\\PC{0,80}",
        ],
        base64 in any::<bool>(),
    ) {
        let mut header_map: serde_json::Map<String, serde_json::Value> = headers
            .into_iter()
            .map(|(name, value)| (name, value.into()))
            .collect();
        header_map.insert("x-api-key".into(), api_key.into());
        let event = serde_json::json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": path,
            "rawQueryString": query,
            "headers": header_map,
            "requestContext": {
                "http": {"method": method, "path": path},
                "requestId": "r-1",
                "stage": stage,
            },
            "body": body,
            "isBase64Encoded": base64,
        });
        assert_documented(&event.to_string())?;
    }

    #[test]
    fn any_json_value_sent_as_an_event_gets_an_answer(event in json_value()) {
        assert_documented(&event.to_string())?;
    }
}

/// Any JSON value, a few levels deep, with keys the events use.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "\\PC{0,20}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("version".to_owned()),
                    Just("rawPath".to_owned()),
                    Just("headers".to_owned()),
                    Just("requestContext".to_owned()),
                    Just("http".to_owned()),
                    Just("method".to_owned()),
                    Just("body".to_owned()),
                    Just("httpMethod".to_owned()),
                    Just("elb".to_owned()),
                    "[a-zA-Z]{1,8}",
                ],
                inner,
                0..5,
            )
            .prop_map(|members| serde_json::Value::Object(members.into_iter().collect())),
        ]
    })
}

/// A body every rule accepts: each field present with a value it allows.
fn valid_members() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    (
        "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        "[1-9][0-9]{0,12}(\\.[0-9]{1,2})?",
        // Currencies with two decimals, which every generated amount fits.
        prop_oneof![Just("USD"), Just("EUR"), Just("GBP"), Just("mxn")],
        (2000i32..2026, 1u32..=12, 1u32..=28, 0u32..24, 0u32..60),
        proptest::collection::btree_map("[a-z_]{1,20}", "[ -~&&[^\"\\\\]]{0,30}", 0..8),
        "[ -~&&[^\"\\\\]]{0,200}",
        "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
    )
        .prop_map(
            |(conversion_type, lead, amount, currency, (y, mo, d, h, mi), metadata, notes, run)| {
                let metadata = metadata
                    .iter()
                    .map(|(k, v)| format!("\"{k}\":\"{v}\""))
                    .collect::<Vec<_>>()
                    .join(",");
                vec![
                    ("conversion_type_id", format!("\"{conversion_type}\"")),
                    ("lead_id", format!("\"{lead}\"")),
                    ("amount", amount),
                    ("currency", format!("\"{currency}\"")),
                    (
                        "converted_at",
                        format!("\"{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:00Z\""),
                    ),
                    ("metadata", format!("{{{metadata}}}")),
                    ("notes", format!("\"{notes}\"")),
                    ("workflow_run_id", format!("\"{run}\"")),
                ]
            },
        )
}

/// Values each field's rule refuses.
fn invalid_value(field: &str) -> Vec<String> {
    let not_an_id = vec![
        "\"not-a-uuid\"".to_owned(),
        "42".to_owned(),
        "\"123e4567-e89b-12d3-a456-42661417410\"".to_owned(),
        "{}".to_owned(),
    ];
    match field {
        "conversion_type_id" | "lead_id" | "workflow_run_id" => not_an_id,
        "amount" => vec![
            "-5".into(),
            "\"100\"".into(),
            "1e400".into(),
            "1000000000000000".into(),
            "true".into(),
        ],
        "currency" => vec![
            "\"ZZZ\"".into(),
            "\"XXX\"".into(),
            "\"US\"".into(),
            "5".into(),
        ],
        "converted_at" => vec![
            "\"yesterday\"".into(),
            "\"2026-13-01T00:00:00Z\"".into(),
            "\"2999-01-01T00:00:00Z\"".into(),
            "1769959800".into(),
        ],
        "metadata" => vec![
            "[]".into(),
            "\"x\"".into(),
            r#"{"":1}"#.into(),
            r#"{"n":1e400}"#.into(),
        ],
        "notes" => vec![
            format!("\"{}\"", "n".repeat(5_001)),
            "12".into(),
            "[]".into(),
        ],
        other => panic!("no invalid values for {other}"),
    }
}

fn body_of(members: &[(&str, String)]) -> String {
    format!(
        "{{{}}}",
        members
            .iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect::<Vec<_>>()
            .join(",")
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Past the first parse: a body every rule accepts is accepted, and the same body with one
    /// field changed to a value its rule refuses is refused, on that field and no other.
    #[test]
    fn one_field_made_invalid_is_refused_on_that_field_alone(
        members in valid_members(),
        which in 0usize..8,
        pick in 0usize..5,
    ) {
        let now = Timestamp::parse("2026-11-01T00:00:00Z").unwrap();
        let body = body_of(&members);
        let accepted = parse_new_conversion(body.as_bytes(), now);
        prop_assert!(accepted.is_ok(), "{body}: {:?}", accepted.err());

        let field = members[which].0;
        let values = invalid_value(field);
        let mut changed = members.clone();
        changed[which].1 = values[pick % values.len()].clone();
        let body = body_of(&changed);
        match parse_new_conversion(body.as_bytes(), now) {
            Ok(_) => prop_assert!(false, "accepted with {field} = {}", changed[which].1),
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for error in &errors {
                    prop_assert!(
                        error.field == field || error.field.starts_with(&format!("{field}.")),
                        "{field} = {}: an error on {}: {}", changed[which].1, error.field, error.message
                    );
                }
            }
        }
    }

    /// An accepted timestamp prints as the instant it was given (milliseconds shown when there
    /// are any), and reads back to the same instant.
    #[test]
    fn accepted_timestamps_print_back_to_the_instant_they_name(
        (y, mo, d, h, mi, s) in (1970i32..2100, 1u32..=12, 1u32..=28, 0u32..24, 0u32..60, 0u32..60),
        millis in proptest::option::of(0u32..1000),
    ) {
        let text = match millis {
            Some(ms) => format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z"),
            None => format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
        };
        let parsed = Timestamp::parse(&text).unwrap();
        let printed = match millis {
            Some(ms) if ms > 0 => format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z"),
            _ => format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
        };
        prop_assert_eq!(parsed.to_string(), printed);
        prop_assert_eq!(Timestamp::parse(&parsed.to_string()).unwrap(), parsed);
    }
}

/// An adjustment member's value: valid ones of each kind, and what a client gets wrong.
fn adjustment_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\"retraction\"".to_owned()),
        Just("\"restatement\"".to_owned()),
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("4200.00".to_owned()),
        "-?(0|[1-9][0-9]{0,17})(\\.[0-9]{1,3})?",
        Just("\"USD\"".to_owned()),
        Just("\"2026-01-01T00:00:00Z\"".to_owned()),
        Just("\"2999-01-01T00:00:00Z\"".to_owned()),
        "\"[a-zA-Z0-9 .,:-]{0,40}\"",
        Just(format!("\"{}\"", "r".repeat(501))),
        Just("{}".to_owned()),
    ]
}

proptest! {
    /// Any object of adjustment members: accepted exactly when its `type` is one of the two,
    /// a restatement has an amount and a retraction none, and each member sent is of its kind;
    /// refused with every problem, in field order, each naming a member sent or required.
    #[test]
    fn any_adjustment_body_is_accepted_by_the_rules_or_refused_field_first(
        members in proptest::collection::btree_map(
            prop_oneof![
                Just("type".to_owned()), Just("amount".to_owned()), Just("currency".to_owned()),
                Just("reason".to_owned()), Just("adjusted_at".to_owned()), "[a-z]{1,6}",
            ],
            adjustment_value(),
            0..7,
        )
    ) {
        use conversions::domain::AdjustmentKind;
        let body = format!(
            "{{{}}}",
            members.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect::<Vec<_>>().join(",")
        );
        let given = |name: &str| members.get(name).filter(|v| *v != "null");
        let kind = given("type").map(String::as_str);
        let order = ["type", "amount", "currency", "reason", "adjusted_at"];
        match conversions::http::parse_new_adjustment(body.as_bytes(), Timestamp::now()) {
            Ok(adjustment) => {
                let restatement = kind == Some("\"restatement\"");
                prop_assert!(restatement || kind == Some("\"retraction\""), "{body}");
                prop_assert_eq!(adjustment.kind == AdjustmentKind::Restatement, restatement);
                prop_assert_eq!(adjustment.amount.is_some(), restatement);
                prop_assert_eq!(given("amount").is_some(), restatement, "{}", body);
                if let Some(amount) = given("amount") {
                    prop_assert!(!amount.starts_with(['"', '{', 't']), "{body}");
                    prop_assert_eq!(adjustment.amount.unwrap().to_string(), amount.trim_start_matches('-'));
                }
                prop_assert!(given("reason").is_none_or(|r| r.len() <= 502 && r.starts_with('"')));
                prop_assert!(given("adjusted_at").is_none_or(|t| t.starts_with("\"2026")), "{body}");
            }
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                let positions: Vec<Option<usize>> = errors
                    .iter()
                    .map(|e| order.iter().position(|f| *f == e.field))
                    .collect();
                prop_assert!(positions.windows(2).all(|w| w[0] <= w[1]), "{errors:?}");
                for e in &errors {
                    prop_assert!(members.contains_key(&e.field) || ["type", "amount"].contains(&e.field.as_str()), "{}", e.field);
                }
            }
        }
    }
}

/// One way a stream record can arrive mangled; `byte` picks which attribute, or what instead.
fn mangle(record: &mut serde_json::Value, how: u8, byte: u8) {
    use serde_json::json;
    let image = &mut record["dynamodb"]["NewImage"];
    let names: Vec<String> = image
        .as_object()
        .map_or(vec![], |o| o.keys().cloned().collect());
    let name = names.get(usize::from(byte) % names.len().max(1)).cloned();
    match (how % 7, name) {
        (0, Some(name)) => drop(image.as_object_mut().unwrap().remove(&name)),
        (1, Some(name)) => image[name] = json!({"N": "not a number"}),
        (2, Some(name)) => image[name] = json!({"BOOL": byte.is_multiple_of(2)}),
        (3, Some(name)) => image[name] = json!({"Q": [byte]}),
        (4, _) => {
            record["eventName"] = json!(["INSERT", "MODIFY", "REMOVE"][usize::from(byte) % 3])
        }
        (5, _) => drop(
            record["dynamodb"]
                .as_object_mut()
                .and_then(|d| d.remove("OldImage")),
        ),
        (6, _) => record["dynamodb"]["NewImage"] = json!(byte),
        _ => {}
    }
}

proptest! {
    /// Batches of the table's stream as they could come: the recorded fixture's records picked,
    /// repeated and reordered, some mangled (an attribute gone, of another type or of no type,
    /// another event name, no old image, no image at all). The publisher's oracle holds for each
    /// (fuzz/oracles.rs `stream_event`): no panic; the answer names the first record that
    /// cannot go, or none; every change before it is published once.
    #[test]
    fn a_mangled_stream_batch_is_published_up_to_its_first_record_that_cannot_go(
        picks in proptest::collection::vec(0..8usize, 0..12),
        mangles in proptest::collection::vec((0..12usize, any::<u8>(), any::<u8>()), 0..5),
    ) {
        let path = format!("{}/events/stream/changes.json", env!("CARGO_MANIFEST_DIR"));
        let fixture: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let records = fixture["Records"].as_array().unwrap();
        let mut batch: Vec<serde_json::Value> =
            picks.iter().map(|i| records[i % records.len()].clone()).collect();
        for (at, how, byte) in mangles {
            if let Some(len) = std::num::NonZeroUsize::new(batch.len()) {
                mangle(&mut batch[at % len.get()], how, byte);
            }
        }
        let event = serde_json::json!({ "Records": batch }).to_string();
        // The oracle's own assertions are the property; what it came to is one of these.
        let outcome = crate::oracles::stream_event(event.as_bytes());
        prop_assert!(
            outcome.starts_with("accepted: ") || ["refused at a record", "not a stream event"].contains(&outcome.as_str()),
            "{}", outcome
        );
    }

    /// Any query of `GET /conversions/changes`: a 200 with a page and a cursor, or a 400 naming
    /// only its parameters, with the documented messages.
    #[test]
    fn any_feed_query_is_a_page_or_a_400_naming_its_parameters(
        parts in proptest::collection::vec(
            (
                prop_oneof![Just("limit"), Just("since"), Just("after"), Just("other")],
                prop_oneof![
                    "[0-9]{1,5}", "-?[0-9]{1,3}", Just("2026-03-01T10:00:00Z".to_owned()),
                    Just("2999-01-01T00:00:00+02:00".to_owned()), "[a-zA-Z0-9%+/=_-]{0,40}",
                ],
            ),
            0..4,
        )
    ) {
        let query = parts.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let response = runtime.block_on(async {
            let store = MemoryStore::new();
            seed_demo(&store).await.unwrap();
            let request = conversions::http::Request::new("GET", "/conversions/changes")
                .with_query(&query)
                .with_header("x-api-key", DEMO_API_KEY);
            App::new(store).handle(request).await
        });
        let body: serde_json::Value = serde_json::from_str(response.body()).unwrap();
        match response.status().as_u16() {
            200 => {
                prop_assert_eq!(&body["changes"], &serde_json::json!([]));
                prop_assert!(body["next_cursor"].is_string());
            }
            400 => {
                for e in body["errors"].as_array().unwrap() {
                    let field = e["field"].as_str().unwrap();
                    prop_assert!(["limit", "since", "after"].contains(&field), "{}", field);
                    prop_assert!(parts.iter().any(|(k, _)| *k == field), "{} {}", field, query);
                    let message = e["message"].as_str().unwrap();
                    prop_assert!(message.starts_with(field) || message.starts_with("give"), "{}", message);
                }
            }
            other => prop_assert!(false, "{} for {}", other, query),
        }
    }
}
