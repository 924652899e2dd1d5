//! Detection of Swedish personal identity numbers (personnummer) and coordination
//! numbers (samordningsnummer) in free text.
//!
//! Fältlogg records encounters without identifying anyone, so an identity number must
//! never be stored: every free-text field (notes, pseudonyms, area labels, comments) is
//! refused if it contains one. Only numbers that could really be issued — a real date and
//! a correct check digit — are flagged, so that phone numbers, dates and order numbers
//! that merely look alike are still accepted.

use chrono::NaiveDate;

/// Whether `text` contains a Swedish personal identity or coordination number anywhere.
pub fn contains_identity_number(text: &str) -> bool {
    // Working on bytes is safe for any UTF-8: every byte of a multi-byte character is
    // >= 0x80, so it can never be taken for an ASCII digit or for `-`/`+`.
    let bytes = text.as_bytes();
    // Splitting on single non-digit bytes keeps each piece's position computable: the
    // next piece always starts one byte after the previous one ends.
    let mut runs = bytes.split(|b| !b.is_ascii_digit()).peekable();
    let mut start = 0;
    while let Some(run) = runs.next() {
        let end = start + run.len();
        let found = match run.len() {
            10 | 12 => is_identity_number(run),
            // The separator is a single byte, so the run after it is the next piece.
            6 | 8 if matches!(bytes.get(end), Some(b'-' | b'+')) => match runs.peek() {
                Some(serial) if serial.len() == 4 => is_identity_number_parts(run, serial),
                _ => false,
            },
            _ => false,
        };
        if found {
            return true;
        }
        start = end + 1;
    }
    false
}

/// Checks a date part and a serial part written with a separator between them.
fn is_identity_number_parts(date: &[u8], serial: &[u8]) -> bool {
    // Joined into a fixed buffer so the separated layouts share the unseparated check
    // without allocating.
    let mut joined = [0u8; 12];
    let len = date.len() + serial.len();
    for (slot, &b) in joined.iter_mut().zip(date.iter().chain(serial)) {
        *slot = b;
    }
    joined.get(..len).is_some_and(is_identity_number)
}

/// Checks a run of 10 or 12 ASCII digits: real date, correct check digit.
fn is_identity_number(run: &[u8]) -> bool {
    let mut digits = [0u32; 12];
    for (slot, &b) in digits.iter_mut().zip(run) {
        *slot = u32::from(b.wrapping_sub(b'0'));
    }
    let Some(digits) = digits.get(..run.len()) else {
        return false;
    };
    let (century, ten) = match digits {
        [c1, c2, ten @ ..] if ten.len() == 10 => (Some(c1 * 10 + c2), ten),
        ten => (None, ten),
    };
    let Ok(&[y1, y2, m1, m2, d1, d2, n1, n2, n3, check]) = <&[u32; 10]>::try_from(ten) else {
        return false;
    };
    let yy = y1 * 10 + y2;
    let month = m1 * 10 + m2;
    let day = d1 * 10 + d2;
    // A coordination number carries the birth day plus 60; days 32–60 belong to neither.
    let birth_day = if day > 60 { day - 60 } else { day };
    let is_date = |year: u32| {
        i32::try_from(year)
            .ok()
            .and_then(|year| NaiveDate::from_ymd_opt(year, month, birth_day))
            .is_some()
    };
    let date_ok = match century {
        Some(century) => is_date(century * 100 + yy),
        // Without the century only 29 February is ambiguous; accept it if either
        // plausible century makes it a leap year rather than refuse a real number.
        None => is_date(1900 + yy) || is_date(2000 + yy),
    };
    date_ok && luhn_check_digit(&[y1, y2, m1, m2, d1, d2, n1, n2, n3]) == check
}

/// The Luhn check digit over the nine digits YYMMDDNNN (the century never takes part).
fn luhn_check_digit(digits: &[u32; 9]) -> u32 {
    let sum: u32 = digits
        .iter()
        .zip([2, 1].into_iter().cycle())
        .map(|(d, weight)| {
            let product = d * weight;
            product / 10 + product % 10
        })
        .sum();
    (10 - sum % 10) % 10
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;
    use proptest::prelude::*;

    /// Appends the correct check digit to nine digits YYMMDDNNN.
    fn check_digit_for(nine: &str) -> u32 {
        let digits: Vec<u32> = nine.chars().map(|c| c.to_digit(10).unwrap()).collect();
        luhn_check_digit(&digits.try_into().unwrap())
    }

    #[test]
    fn the_standard_test_number_is_found_in_every_layout() {
        for text in [
            "811218-9876",
            "811218+9876",
            "8112189876",
            "19811218-9876",
            "19811218+9876",
            "198112189876",
        ] {
            assert!(contains_identity_number(text), "{text}");
        }
    }

    #[test]
    fn the_standard_test_number_has_a_correct_check_digit() {
        assert_eq!(check_digit_for("811218987"), 6);
    }

    #[test]
    fn coordination_numbers_are_found() {
        assert_eq!(check_digit_for("811278987"), 3);
        assert!(contains_identity_number("811278-9873"));
        assert!(contains_identity_number("198112789873"));
        // Day 91 is 31 + 60, still a valid coordination day in December.
        let check = check_digit_for("811291987");
        assert!(contains_identity_number(&format!("811291-987{check}")));
    }

    #[test]
    fn numbers_inside_text_are_found() {
        let check = check_digit_for("800101123");
        assert!(contains_identity_number(&format!(
            "ring 19800101-123{check} imorgon"
        )));
        assert!(contains_identity_number("pnr:8112189876."));
        assert!(contains_identity_number("Åsa (811218-9876) sa hej"));
        assert!(contains_identity_number("ett nummer:811218+9876!"));
        assert!(contains_identity_number(
            "första 123 sedan 19811218-9876 och 456"
        ));
    }

    #[test]
    fn a_wrong_check_digit_is_not_flagged() {
        for text in ["811218-9875", "8112189877", "19811218-9870", "811278-9874"] {
            assert!(!contains_identity_number(text), "{text}");
        }
    }

    #[test]
    fn impossible_dates_are_not_flagged() {
        for nine in [
            "811332987",
            "811300987",
            "810230987",
            "811232987",
            "811260987",
            "811292987",
        ] {
            let check = check_digit_for(nine);
            let (date, serial) = nine.split_at(6);
            let text = format!("{date}-{serial}{check}");
            assert!(!contains_identity_number(&text), "{text}");
        }
    }

    #[test]
    fn the_leap_day_needs_a_leap_year() {
        let leap = check_digit_for("000229123");
        assert!(contains_identity_number(&format!("000229-123{leap}")));
        assert!(contains_identity_number(&format!("20000229123{leap}")));
        assert!(!contains_identity_number(&format!("19000229123{leap}")));
        let not_leap = check_digit_for("010229123");
        assert!(!contains_identity_number(&format!("010229-123{not_leap}")));
        let check = check_digit_for("960229123");
        assert!(contains_identity_number(&format!("960229123{check}")));
    }

    #[test]
    fn runs_of_the_wrong_length_are_not_flagged() {
        for text in [
            "18112189876",
            "81121898761",
            "1198112189876",
            "1981121898761",
            "1811218-9876",
            "811218-98761",
            "811218--9876",
            "811218 9876",
            "811218/9876",
            "811218-987",
            "",
            "-",
        ] {
            assert!(!contains_identity_number(text), "{text}");
        }
    }

    #[test]
    fn phone_numbers_and_dates_pass() {
        for text in [
            "070-123 45 67",
            "0701234567",
            "2024-05-17",
            "tel 08-123 456 78",
        ] {
            assert!(!contains_identity_number(text), "{text}");
        }
    }

    /// One of the six layouts: with or without century, and the separator.
    fn layout(twelve: bool, separator: &str, century: u32, body: &str, check: u32) -> String {
        let (date, serial) = body.split_at(6);
        if twelve {
            format!("{century:02}{date}{separator}{serial}{check}")
        } else {
            format!("{date}{separator}{serial}{check}")
        }
    }

    fn separator() -> impl Strategy<Value = &'static str> {
        prop_oneof![Just(""), Just("-"), Just("+")]
    }

    /// A valid number as (century, nine digits YYMMDDNNN, correct check digit).
    fn valid_number() -> impl Strategy<Value = (u32, String, u32)> {
        // 1900-01-01 to 2099-12-31 is 73 049 days.
        (0u64..73_049, 0u32..1000, any::<bool>()).prop_map(|(offset, serial, coordination)| {
            let date = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Days::new(offset);
            let day = if coordination {
                date.day() + 60
            } else {
                date.day()
            };
            let nine = format!(
                "{:02}{:02}{day:02}{serial:03}",
                date.year() % 100,
                date.month()
            );
            let check = check_digit_for(&nine);
            (u32::try_from(date.year() / 100).unwrap(), nine, check)
        })
    }

    proptest! {
        #[test]
        fn valid_numbers_are_found_in_any_layout_and_text(
            (century, nine, check) in valid_number(),
            twelve in any::<bool>(),
            separator in separator(),
            prefix in "[^0-9]{0,20}",
            suffix in "[^0-9]{0,20}",
        ) {
            let number = layout(twelve, separator, century, &nine, check);
            let text = format!("{prefix}{number}{suffix}");
            prop_assert!(contains_identity_number(&text), "{}", text);
        }

        #[test]
        fn a_wrong_check_digit_is_never_found(
            (century, nine, check) in valid_number(),
            wrong_by in 1u32..10,
            twelve in any::<bool>(),
            separator in separator(),
            prefix in "[^0-9]{0,20}",
            suffix in "[^0-9]{0,20}",
        ) {
            let number = layout(twelve, separator, century, &nine, (check + wrong_by) % 10);
            let text = format!("{prefix}{number}{suffix}");
            prop_assert!(!contains_identity_number(&text), "{}", text);
        }

        #[test]
        fn an_impossible_month_is_never_found(
            century in 0u32..100,
            yy in "[0-9]{2}",
            month in prop_oneof![Just(0u32), 13u32..100],
            day in "[0-9]{2}",
            serial in "[0-9]{3}",
            check in 0u32..10,
            twelve in any::<bool>(),
            separator in separator(),
        ) {
            let nine = format!("{yy}{month:02}{day}{serial}");
            let number = layout(twelve, separator, century, &nine, check);
            prop_assert!(!contains_identity_number(&number), "{}", number);
        }

        #[test]
        fn an_impossible_day_is_never_found(
            year in 1900i32..2100,
            month in 1u32..=12,
            day in 0u32..100,
            serial in "[0-9]{3}",
            check in 0u32..10,
            twelve in any::<bool>(),
            separator in separator(),
        ) {
            // With 10 digits the century is unknown, and with it whether 29 February exists.
            prop_assume!(twelve || month != 2);
            let last = (28..=31)
                .rev()
                .find(|d| chrono::NaiveDate::from_ymd_opt(year, month, *d).is_some())
                .unwrap();
            // A birth day, or a coordination day (birth day + 60), that the month has not.
            prop_assume!(!((1..=last).contains(&day) || (61..=60 + last).contains(&day)));
            let nine = format!("{:02}{month:02}{day:02}{serial}", year % 100);
            let century = u32::try_from(year / 100).unwrap();
            let number = layout(twelve, separator, century, &nine, check);
            prop_assert!(!contains_identity_number(&number), "{}", number);
        }

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = contains_identity_number(&text);
        }

        #[test]
        fn digit_heavy_text_never_panics(text in "[0-9+\\- aåé€🦀]{0,40}") {
            let _ = contains_identity_number(&text);
        }
    }
}
