//! Municipalities (kommuner) by their official SCB code, where a person lives, and the
//! dated history of each municipality's connection to the county offer.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

/// Every municipality of Stockholm County, plus Gotland (outside the county, but named by
/// the source document among those not yet connected to the offer).
const MUNICIPALITIES: [(&str, &str); 27] = [
    ("0114", "Upplands Väsby"),
    ("0115", "Vallentuna"),
    ("0117", "Österåker"),
    ("0120", "Värmdö"),
    ("0123", "Järfälla"),
    ("0125", "Ekerö"),
    ("0126", "Huddinge"),
    ("0127", "Botkyrka"),
    ("0128", "Salem"),
    ("0136", "Haninge"),
    ("0138", "Tyresö"),
    ("0139", "Upplands-Bro"),
    ("0140", "Nykvarn"),
    ("0160", "Täby"),
    ("0162", "Danderyd"),
    ("0163", "Sollentuna"),
    ("0180", "Stockholm"),
    ("0181", "Södertälje"),
    ("0182", "Nacka"),
    ("0183", "Sundbyberg"),
    ("0184", "Solna"),
    ("0186", "Lidingö"),
    ("0187", "Vaxholm"),
    ("0188", "Norrtälje"),
    ("0191", "Sigtuna"),
    ("0192", "Nynäshamn"),
    ("0980", "Gotland"),
];

/// The host municipality: its residents are served by the units directly.
pub const STOCKHOLM: &str = "0180";

/// The SCB code of a municipality that Fältlogg knows (one of the 27 above).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MunicipalityCode(&'static str);

impl MunicipalityCode {
    pub fn all() -> impl Iterator<Item = MunicipalityCode> {
        MUNICIPALITIES
            .iter()
            .map(|(code, _)| MunicipalityCode(code))
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }

    pub fn name(self) -> &'static str {
        MUNICIPALITIES
            .iter()
            .find(|(code, _)| *code == self.0)
            .map_or("", |(_, name)| name)
    }

    /// SCB county 01 is Stockholm County; Gotland is county 09.
    pub fn in_stockholm_county(self) -> bool {
        self.0.starts_with("01")
    }

    pub fn is_stockholm(self) -> bool {
        self.0 == STOCKHOLM
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HomeError {
    #[error("not the SCB code of a municipality in Stockholm County or Gotland")]
    UnknownMunicipality,
    #[error("not an ISO 3166-1 alpha-2 country code (two capital letters)")]
    InvalidCountry,
    #[error("a country can only be given when the home is abroad")]
    CountryWithoutAbroad,
}

impl FromStr for MunicipalityCode {
    type Err = HomeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MUNICIPALITIES
            .iter()
            .find(|(code, _)| *code == s)
            .map(|(code, _)| MunicipalityCode(code))
            .ok_or(HomeError::UnknownMunicipality)
    }
}

impl fmt::Display for MunicipalityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// An ISO 3166-1 alpha-2 country code in upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII capitals by construction.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl FromStr for CountryCode {
    type Err = HomeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Ok(Self([*a, *b])),
            _ => Err(HomeError::InvalidCountry),
        }
    }
}

/// Where a person met lives, as coarse as the reports need and no finer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Home {
    Municipality(MunicipalityCode),
    /// Elsewhere in Sweden.
    OutsideCounty,
    Abroad(Option<CountryCode>),
    Unknown,
}

impl Home {
    /// The special values that stand beside the municipality codes.
    pub const SPECIAL: [(&'static str, &'static str); 3] = [
        ("outside_county", "Utanför Stockholms län"),
        ("abroad", "Utomlands"),
        ("unknown", "Okänd"),
    ];

    /// Parses the `home_municipality` value and the optional `home_country` beside it.
    pub fn parse(value: &str, country: Option<&str>) -> Result<Self, HomeError> {
        let home = match value {
            "outside_county" => Home::OutsideCounty,
            "unknown" => Home::Unknown,
            "abroad" => Home::Abroad(country.map(str::parse).transpose()?),
            code => Home::Municipality(code.parse()?),
        };
        if country.is_some() && !matches!(home, Home::Abroad(_)) {
            return Err(HomeError::CountryWithoutAbroad);
        }
        Ok(home)
    }

    /// The stored `home_municipality` value.
    pub fn code(&self) -> &'static str {
        match self {
            Home::Municipality(code) => code.as_str(),
            Home::OutsideCounty => "outside_county",
            Home::Abroad(_) => "abroad",
            Home::Unknown => "unknown",
        }
    }

    pub fn country(&self) -> Option<CountryCode> {
        match self {
            Home::Abroad(country) => *country,
            _ => None,
        }
    }
}

/// One span of a municipality's connection to the county offer; `until` is the last
/// connected day, or `None` while the agreement runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionPeriod {
    since: NaiveDate,
    until: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a connection cannot end before it began")]
pub struct EndsBeforeItBegins;

impl ConnectionPeriod {
    pub fn new(since: NaiveDate, until: Option<NaiveDate>) -> Result<Self, EndsBeforeItBegins> {
        match until {
            Some(until) if until < since => Err(EndsBeforeItBegins),
            _ => Ok(Self { since, until }),
        }
    }

    pub fn since(&self) -> NaiveDate {
        self.since
    }

    pub fn until(&self) -> Option<NaiveDate> {
        self.until
    }

    pub fn covers(&self, day: NaiveDate) -> bool {
        self.since <= day && self.until.is_none_or(|until| day <= until)
    }
}

/// Whether a municipality was connected on a day, given its connection history.
pub fn connected_on(history: &[ConnectionPeriod], day: NaiveDate) -> bool {
    history.iter().any(|period| period.covers(day))
}

/// A municipality and the history of its connection to the county offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Municipality {
    pub code: MunicipalityCode,
    pub connections: Vec<ConnectionPeriod>,
}

impl Municipality {
    pub fn connected_on(&self, day: NaiveDate) -> bool {
        connected_on(&self.connections, day)
    }

    /// The history after a coordinator records that from `from` on the municipality is
    /// (or is no longer) connected. Days before `from` keep their history; a connection
    /// that runs up to the day before continues without a break.
    pub fn with_change(&self, from: NaiveDate, connected: bool) -> Vec<ConnectionPeriod> {
        let day_before = from.pred_opt();
        let mut periods: Vec<ConnectionPeriod> = self
            .connections
            .iter()
            .filter(|p| p.since < from)
            .filter_map(|p| {
                let until = match (p.until, day_before) {
                    (Some(until), Some(before)) => Some(until.min(before)),
                    (None, before) => before,
                    (until, None) => until,
                };
                ConnectionPeriod::new(p.since, until).ok()
            })
            .collect();
        if connected {
            match periods.last_mut() {
                Some(last) if last.until.is_some() && last.until == day_before => last.until = None,
                _ => periods.push(ConnectionPeriod {
                    since: from,
                    until: None,
                }),
            }
        }
        periods
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_county_has_26_municipalities_and_gotland_is_outside() {
        let in_county = MunicipalityCode::all()
            .filter(|c| c.in_stockholm_county())
            .count();
        assert_eq!(in_county, 26);
        let gotland: MunicipalityCode = "0980".parse().unwrap();
        assert!(!gotland.in_stockholm_county());
        assert_eq!(gotland.name(), "Gotland");
    }

    #[test]
    fn special_homes_parse() {
        assert_eq!(Home::parse("unknown", None), Ok(Home::Unknown));
        assert_eq!(Home::parse("outside_county", None), Ok(Home::OutsideCounty));
        assert_eq!(Home::parse("abroad", None), Ok(Home::Abroad(None)));
        let ro = Home::parse("abroad", Some("RO")).unwrap();
        assert_eq!(
            ro.country().map(|c| c.as_str().to_owned()),
            Some("RO".into())
        );
        assert_eq!(
            Home::parse("0180", Some("RO")),
            Err(HomeError::CountryWithoutAbroad)
        );
        assert_eq!(
            Home::parse("abroad", Some("ro")),
            Err(HomeError::InvalidCountry)
        );
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_period_covers_its_first_and_last_day() {
        let p = ConnectionPeriod::new(day("2021-01-01"), Some(day("2022-06-30"))).unwrap();
        assert!(!p.covers(day("2020-12-31")));
        assert!(p.covers(day("2021-01-01")));
        assert!(p.covers(day("2022-06-30")));
        assert!(!p.covers(day("2022-07-01")));
        assert_eq!(
            ConnectionPeriod::new(day("2022-01-02"), Some(day("2022-01-01"))),
            Err(EndsBeforeItBegins)
        );
    }

    #[test]
    fn a_change_applies_from_its_day_and_keeps_the_past() {
        let municipality = |connections| Municipality {
            code: "0127".parse().unwrap(),
            connections,
        };
        let joined = municipality(vec![
            ConnectionPeriod::new(day("2021-01-01"), None).unwrap(),
        ]);
        let left = joined.with_change(day("2026-07-01"), false);
        assert_eq!(
            left,
            vec![ConnectionPeriod::new(day("2021-01-01"), Some(day("2026-06-30"))).unwrap()]
        );
        let rejoined = municipality(left.clone()).with_change(day("2026-07-01"), true);
        assert_eq!(rejoined, joined.connections);
        let later = municipality(left).with_change(day("2026-09-01"), true);
        assert_eq!(later.len(), 2);
        assert!(!connected_on(&later, day("2026-08-31")));
        assert!(connected_on(&later, day("2026-09-01")));
        let never = municipality(vec![]).with_change(day("2026-01-01"), false);
        assert!(never.is_empty());
    }

    proptest! {
        #[test]
        fn a_change_decides_every_day_from_its_date_and_no_day_before(
            since in 0u64..3000, from in 0u64..3000, probe in 0u64..3000, connected in any::<bool>()
        ) {
            let start = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
            let at = |d: u64| start + chrono::Days::new(d);
            let before = Municipality {
                code: "0127".parse().unwrap(),
                connections: vec![ConnectionPeriod::new(at(since), None).unwrap()],
            };
            let after = before.with_change(at(from), connected);
            let expected = if probe >= from { connected } else { before.connected_on(at(probe)) };
            prop_assert_eq!(connected_on(&after, at(probe)), expected);
        }

        #[test]
        fn only_the_27_codes_parse(s in "[0-9]{4}") {
            let known = MUNICIPALITIES.iter().any(|(c, _)| *c == s);
            prop_assert_eq!(s.parse::<MunicipalityCode>().is_ok(), known);
        }

        #[test]
        fn anything_else_is_not_a_home(s in "\\PC{0,12}") {
            let special = ["outside_county", "abroad", "unknown"].contains(&s.as_str());
            let municipal = MUNICIPALITIES.iter().any(|(c, _)| *c == s);
            prop_assert_eq!(Home::parse(&s, None).is_ok(), special || municipal);
        }

        #[test]
        fn open_period_covers_every_later_day(since in 0i64..20_000, offset in 0i64..20_000) {
            let start = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap() + chrono::Days::new(since as u64);
            let period = ConnectionPeriod::new(start, None).unwrap();
            prop_assert!(period.covers(start + chrono::Days::new(offset as u64)));
            prop_assert!(!connected_on(&[period], start - chrono::Days::new(1)));
        }
    }
}
