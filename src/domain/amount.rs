//! Money amounts: exact decimals from request text to stored item and back, never a binary float.

use std::fmt;

use rust_decimal::Decimal;

use super::Currency;

/// With a decimal's 28 significant digits, every amount below 10^15 fits DynamoDB's 38 digits,
/// and its whole part stays below 2^53, the largest integer an IEEE double keeps exactly.
pub const MAX_AMOUNT_EXCLUSIVE: &str = "1000000000000000";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("amount must be a non-negative number")]
    Negative,
    #[error("amount must be less than {MAX_AMOUNT_EXCLUSIVE}")]
    TooLarge,
    #[error("amount has too many decimal places")]
    TooPrecise,
    #[error("amount has more decimal places than {currency} allows ({places})")]
    MoreDecimalsThanCurrency { currency: Currency, places: u16 },
}

/// Kept with the scale it was written with: `85000.00` stays `85000.00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount(Decimal);

impl Amount {
    /// The JSON parser has checked the grammar. Exact or refused, never rounded: plain decimals
    /// keep their digits; exponent forms become their shortest exact decimal (`1.50e1` is `15`).
    pub fn parse_json_number(text: &str) -> Result<Self, AmountError> {
        let number = JsonDecimal::read(text);
        let digits = number.digits.trim_start_matches('0');
        if digits.is_empty() {
            // Zero of any sign (`-0.00` is `0.00`). Too many places is refused like any amount:
            // it could not be answered with the digits it was sent with.
            let scale = if number.exponent_form {
                0
            } else if number.fraction_len > Decimal::MAX_SCALE {
                return Err(AmountError::TooPrecise);
            } else {
                number.fraction_len
            };
            return Ok(Self(Decimal::new(0, scale)));
        }
        if number.negative {
            return Err(AmountError::Negative);
        }
        let (digits, shift) = if number.exponent_form {
            let significant = digits.trim_end_matches('0');
            let dropped = i64::try_from(digits.len() - significant.len()).unwrap_or(i64::MAX);
            (significant, number.shift.saturating_add(dropped))
        } else {
            (digits, number.shift)
        };
        // value = digits × 10^shift, first digit non-zero: below 10^15 iff ≤ 15 whole digits.
        let whole_digits = i64::try_from(digits.len())
            .unwrap_or(i64::MAX)
            .saturating_add(shift);
        if whole_digits > 15 {
            return Err(AmountError::TooLarge);
        }
        let (mantissa, scale) = if shift >= 0 {
            let zeros = usize::try_from(shift).map_err(|_| AmountError::TooLarge)?;
            (format!("{digits}{}", "0".repeat(zeros)), 0)
        } else {
            let scale = u32::try_from(shift.unsigned_abs()).map_err(|_| AmountError::TooPrecise)?;
            (digits.to_owned(), scale)
        };
        // The parse refuses past i128; `Decimal` past 96 bits or a scale past 28.
        let mantissa: i128 = mantissa.parse().map_err(|_| AmountError::TooPrecise)?;
        Decimal::try_from_i128_with_scale(mantissa, scale)
            .map(Self)
            .map_err(|_| AmountError::TooPrecise)
    }

    /// No bound is checked: a stored amount keeps whatever bound applied when it was sent.
    pub fn from_stored(text: &str) -> Result<Self, rust_decimal::Error> {
        Decimal::from_str_exact(text).map(Self)
    }

    /// Zero written with the currency's decimals: `0.00` USD, `0` JPY.
    pub fn zero(currency: Currency) -> Self {
        Self(Decimal::new(0, currency.minor_unit().map_or(0, u32::from)))
    }

    pub fn as_decimal(&self) -> Decimal {
        self.0
    }

    /// Against the ISO 4217 minor unit, trailing zeros aside: `5.0` CLP passes, `1.005` USD fails.
    pub fn check_minor_unit(&self, currency: Currency) -> Result<(), AmountError> {
        match currency.minor_unit() {
            Some(places) if self.0.normalize().scale() > u32::from(places) => {
                Err(AmountError::MoreDecimalsThanCurrency { currency, places })
            }
            _ => Ok(()),
        }
    }
}

/// The parts of a JSON number's text: value = digits × 10^shift.
struct JsonDecimal<'a> {
    negative: bool,
    /// Every digit written, integer part then fraction, leading zeros included.
    digits: std::borrow::Cow<'a, str>,
    fraction_len: u32,
    shift: i64,
    exponent_form: bool,
}

impl<'a> JsonDecimal<'a> {
    fn read(text: &'a str) -> Self {
        let negative = text.starts_with('-');
        let unsigned = text.strip_prefix('-').unwrap_or(text);
        let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
            Some((mantissa, exponent)) => (mantissa, Some(exponent)),
            None => (unsigned, None),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        // An exponent beyond i64 is beyond any bound: saturate, keeping its sign.
        let exponent_form = exponent.is_some();
        let exponent = exponent.map_or(0, |e| {
            e.parse::<i64>().unwrap_or(if e.starts_with('-') {
                i64::MIN
            } else {
                i64::MAX
            })
        });
        let fraction_len = u32::try_from(fraction.len()).unwrap_or(u32::MAX);
        let digits = if fraction.is_empty() {
            std::borrow::Cow::Borrowed(whole)
        } else {
            std::borrow::Cow::Owned(format!("{whole}{fraction}"))
        };
        Self {
            negative,
            digits,
            fraction_len,
            shift: exponent.saturating_sub(i64::from(fraction_len)),
            exponent_form,
        }
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(text: &str) -> Result<String, AmountError> {
        Amount::parse_json_number(text).map(|a| a.to_string())
    }

    #[test]
    fn an_amount_keeps_the_exact_text_it_was_written_with() {
        assert_eq!(amount("85000.00").unwrap(), "85000.00");
        assert_eq!(amount("0.1").unwrap(), "0.1");
        assert_eq!(amount("5000").unwrap(), "5000");
        assert_eq!(
            amount("999999999999999.9999").unwrap(),
            "999999999999999.9999"
        );
    }

    #[test]
    fn exponent_notation_is_read_exactly() {
        assert_eq!(amount("1e3").unwrap(), "1000");
        assert_eq!(amount("1.5E2").unwrap(), "150");
        assert_eq!(amount("25e-2").unwrap(), "0.25");
        assert_eq!(amount("1.50e1").unwrap(), "15");
        assert_eq!(amount("1.0e-28").unwrap(), "0.0000000000000000000000000001");
        assert_eq!(
            amount("10000000000000000000000000000000e-20").unwrap(),
            "100000000000"
        );
        assert_eq!(amount("0e400").unwrap(), "0");
        assert_eq!(amount("1E+2").unwrap(), "100");
    }

    #[test]
    fn exponent_notation_is_never_rounded() {
        // 28 digits of mantissa shifted by the exponent: exact or refused, never rounded.
        assert_eq!(
            amount("1000000000000000000000000000.04e-14"),
            Err(AmountError::TooPrecise),
            "29 significant digits do not fit"
        );
        assert_eq!(
            amount("1234567890123456789012345678e-13").unwrap(),
            "123456789012345.6789012345678"
        );
        assert_eq!(amount("1e-28").unwrap(), "0.0000000000000000000000000001");
    }

    #[test]
    fn negative_amounts_are_rejected_but_negative_zero_is_zero() {
        assert_eq!(amount("-1"), Err(AmountError::Negative));
        assert_eq!(amount("-0.01"), Err(AmountError::Negative));
        assert_eq!(amount("-1e40"), Err(AmountError::Negative));
        assert_eq!(amount("-0").unwrap(), "0");
        assert_eq!(amount("-0.00").unwrap(), "0.00");
    }

    #[test]
    fn zero_with_more_places_than_a_decimal_keeps_is_refused_like_any_amount() {
        // Found by the `amount` fuzz target: it was answered with one place fewer than sent.
        let places_28 = format!("0.{}", "0".repeat(28));
        assert_eq!(amount(&places_28).unwrap(), places_28);
        let places_29 = format!("0.{}", "0".repeat(29));
        assert_eq!(amount(&places_29), Err(AmountError::TooPrecise));
        assert_eq!(
            amount(&format!("0.{}1", "0".repeat(28))),
            Err(AmountError::TooPrecise)
        );
    }

    #[test]
    fn exponents_of_any_size_are_judged_without_overflow() {
        assert_eq!(amount("1e9223372036854775807"), Err(AmountError::TooLarge));
        assert_eq!(amount("1e99999999999999999999"), Err(AmountError::TooLarge));
        assert_eq!(
            amount("1e-9223372036854775808"),
            Err(AmountError::TooPrecise)
        );
        assert_eq!(
            amount("1.5e-99999999999999999999"),
            Err(AmountError::TooPrecise)
        );
        assert_eq!(amount("0e-9223372036854775808").unwrap(), "0");
        assert_eq!(
            amount("-1e-9223372036854775808"),
            Err(AmountError::Negative)
        );
    }

    #[test]
    fn amounts_at_or_above_the_bound_are_rejected() {
        assert_eq!(amount("1000000000000000"), Err(AmountError::TooLarge));
        assert_eq!(amount("1e15"), Err(AmountError::TooLarge));
        assert_eq!(amount("1e40"), Err(AmountError::TooLarge));
        assert_eq!(
            amount("123456789012345678901234567890"),
            Err(AmountError::TooLarge)
        );
    }

    #[test]
    fn more_digits_than_a_decimal_holds_is_too_precise() {
        assert_eq!(
            amount("0.12345678901234567890123456789012"),
            Err(AmountError::TooPrecise)
        );
        assert_eq!(amount("1e-40"), Err(AmountError::TooPrecise));
    }

    #[test]
    fn decimal_places_are_checked_against_the_currency_minor_unit() {
        let clp = Currency::parse("CLP").unwrap();
        let usd = Currency::parse("USD").unwrap();
        let clf = Currency::parse("CLF").unwrap();
        let ok = |t: &str, c| {
            Amount::parse_json_number(t)
                .unwrap()
                .check_minor_unit(c)
                .is_ok()
        };
        assert!(ok("5.0", clp));
        assert!(!ok("10.5", clp));
        assert!(ok("85000.00", usd));
        assert!(ok("1.050", usd));
        assert!(!ok("1.005", usd));
        assert!(ok("1.0005", clf));
        assert!(!ok("1.00005", clf));
        let err = Amount::parse_json_number("10.5")
            .unwrap()
            .check_minor_unit(clp)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "amount has more decimal places than CLP allows (0)"
        );
        let err = Amount::parse_json_number("1.005")
            .unwrap()
            .check_minor_unit(usd)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "amount has more decimal places than USD allows (2)"
        );
    }
}
