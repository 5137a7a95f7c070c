//! ISO 4217 currency codes, from the maintained table of the `iso_currency` crate.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("currency must be a 3-character ISO 4217 code (e.g., \"USD\", \"CLP\")")]
pub struct CurrencyError;

/// An ISO 4217 currency with a minor unit. Codes without one (metals `XAU`, testing `XTS`,
/// "no currency" `XXX`, `XDR`) are not money amounts and are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    pub fn parse(text: &str) -> Result<Self, CurrencyError> {
        // ISO 4217's table knows only three-letter codes: anything else is not in it.
        iso_currency::Currency::from_code(&text.to_ascii_uppercase())
            .filter(|currency| currency.exponent().is_some())
            .map(Self)
            .ok_or(CurrencyError)
    }

    pub fn code(&self) -> &'static str {
        self.0.code()
    }

    pub fn minor_unit(&self) -> Option<u16> {
        self.0.exponent()
    }
}

impl std::str::FromStr for Currency {
    type Err = CurrencyError;
    fn from_str(text: &str) -> Result<Self, CurrencyError> {
        Self::parse(text)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_currencies_and_funds_are_accepted() {
        for (code, places) in [
            ("USD", 2),
            ("CLP", 0),
            ("CLF", 4),
            ("EUR", 2),
            ("JPY", 0),
            ("BHD", 3),
        ] {
            let currency = Currency::parse(code).unwrap();
            assert_eq!(currency.code(), code);
            assert_eq!(currency.minor_unit(), Some(places), "{code}");
        }
    }

    #[test]
    fn letter_case_is_normalised_to_upper_case() {
        assert_eq!(Currency::parse("usd").unwrap().code(), "USD");
        assert_eq!(Currency::parse("Clf").unwrap().code(), "CLF");
    }

    #[test]
    fn codes_not_in_the_iso_4217_table_are_rejected() {
        for bad in ["", "US", "USDD", "ABC", "US1", "U$D", "ZZZ", " USD"] {
            assert_eq!(Currency::parse(bad), Err(CurrencyError), "{bad:?}");
        }
    }

    #[test]
    fn codes_without_a_minor_unit_are_rejected() {
        for special in ["XAU", "XTS", "XXX", "XDR"] {
            assert_eq!(Currency::parse(special), Err(CurrencyError), "{special}");
        }
    }

    #[test]
    fn the_message_is_the_documented_one() {
        assert_eq!(
            CurrencyError.to_string(),
            r#"currency must be a 3-character ISO 4217 code (e.g., "USD", "CLP")"#
        );
    }
}
