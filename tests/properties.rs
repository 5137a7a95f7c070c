//! Properties over many generated inputs: exact amounts, and a parser that answers every body
//! without panicking.

use conversions::domain::{Amount, Timestamp};
use conversions::http::parse_new_conversion;
use proptest::prelude::*;

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

    #[test]
    fn any_body_gets_an_answer_and_never_a_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_new_conversion(&body, Timestamp::now());
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
        match parse_new_conversion(body.as_bytes(), Timestamp::now()) {
            Ok(request) => prop_assert!(Amount::parse_json_number(&request.amount.to_string()).is_ok()),
            Err(errors) => prop_assert!(!errors.is_empty()),
        }
    }
}
