//! Money amounts: exact decimals from the request text to the stored item and back, never a
//! binary float.

use std::fmt;

use rust_decimal::Decimal;

use super::Currency;

/// Amounts must be below 10^15: a quadrillion in any currency. Together with the 28 significant
/// digits a decimal holds, every accepted amount fits DynamoDB's 38 significant digits, and its
/// whole part stays below 2^53, the largest integer a client holding IEEE doubles keeps exactly.
pub const MAX_AMOUNT_EXCLUSIVE: &str = "1000000000000000";

/// Why a JSON number is not an acceptable amount.
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

/// A non-negative monetary amount below [`MAX_AMOUNT_EXCLUSIVE`], kept with the scale it was
/// written with (`85000.00` stays `85000.00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount(Decimal);

impl Amount {
    /// Parses the text of a JSON number (`85000.00`, `0.1`, `1e3`), which the JSON parser has
    /// already checked against the JSON number grammar.
    pub fn parse_json_number(text: &str) -> Result<Self, AmountError> {
        let negative = text.starts_with('-');
        let mut value = match exact_decimal(text) {
            Some(value) => value,
            None if negative => return Err(AmountError::Negative),
            None => return Err(classify_unrepresentable(text)),
        };
        if value.is_zero() {
            // `-0` and `-0.00` are zero, not negative; keep the scale, drop the sign.
            value.set_sign_positive(true);
        } else if value.is_sign_negative() {
            return Err(AmountError::Negative);
        }
        if value >= max_amount() {
            return Err(AmountError::TooLarge);
        }
        Ok(Self(value))
    }

    pub fn as_decimal(&self) -> Decimal {
        self.0
    }

    /// Number of digits after the decimal point, as written (`85000.00` has 2).
    pub fn decimal_places(&self) -> u32 {
        self.0.scale()
    }

    /// Checks the amount against the currency's ISO 4217 minor unit. Trailing zeros do not
    /// count: `5.0` CLP and `85000.00` USD are fine, `10.5` CLP and `1.005` USD are not.
    pub fn check_minor_unit(&self, currency: Currency) -> Result<(), AmountError> {
        match currency.minor_unit() {
            Some(places) if self.0.normalize().scale() > u32::from(places) => {
                Err(AmountError::MoreDecimalsThanCurrency { currency, places })
            }
            _ => Ok(()),
        }
    }
}

/// The exact value of a JSON number's text, or `None` where a 28-digit decimal cannot hold it
/// exactly (`Decimal::from_scientific` would round instead).
fn exact_decimal(text: &str) -> Option<Decimal> {
    let Some((mantissa, exponent)) = text.split_once(['e', 'E']) else {
        return Decimal::from_str_exact(text).ok();
    };
    let mut value = Decimal::from_str_exact(mantissa).ok()?;
    let exponent: i64 = exponent.parse().ok()?;
    if value.is_zero() {
        return Some(Decimal::ZERO);
    }
    // value = digits * 10^-scale; the exponent moves the scale, then whole powers of ten.
    let scale = i64::from(value.scale()) - exponent;
    if scale >= 0 {
        value.set_scale(u32::try_from(scale).ok()?).ok()?;
    } else {
        value.set_scale(0).ok()?;
        for _ in 0..scale.unsigned_abs().min(40) {
            value = value.checked_mul(Decimal::TEN)?;
        }
    }
    Some(value)
}

fn max_amount() -> Decimal {
    Decimal::from_str_exact(MAX_AMOUNT_EXCLUSIVE).expect("the bound is a valid decimal")
}

/// A positive JSON number that `Decimal` cannot hold is either too large or has more
/// significant digits than 28.
fn classify_unrepresentable(text: &str) -> AmountError {
    let mantissa = text.split(['e', 'E']).next().unwrap_or(text);
    let exponent: i64 = text
        .split(['e', 'E'])
        .nth(1)
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    let integer_digits = mantissa
        .split('.')
        .next()
        .unwrap_or("")
        .trim_start_matches('0')
        .len() as i64;
    if integer_digits + exponent > 15 {
        AmountError::TooLarge
    } else {
        AmountError::TooPrecise
    }
}

impl fmt::Display for Amount {
    /// The decimal as written, with its scale: `85000.00`, `0.1`.
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
        assert_eq!(amount("1.50e1").unwrap(), "15.0");
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
