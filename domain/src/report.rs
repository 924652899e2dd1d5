//! Reports for the steering group: the period they cover, how homes are grouped, and the
//! Swedish paragraph of the yearly follow-up, written as the source document writes it.

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};

use crate::encounter::{AgeGroup, PersonRole};
use crate::municipality::Home;
use crate::shift::ShiftKind;
use crate::time::{parse_date, stockholm_day_start};
use crate::validation::Collector;
use crate::{FieldError, ValidationErrors};

/// The longest period a report covers.
pub const MAX_YEARS: u32 = 10;

/// Calendar days in Europe/Stockholm, both inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    from: NaiveDate,
    to: NaiveDate,
}

impl Period {
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Self, ValidationErrors> {
        let mut errors = Collector::default();
        let required =
            |field: &str| FieldError::new(field, "required", "a date written YYYY-MM-DD");
        let from = errors.take(
            from.ok_or_else(|| required("from"))
                .and_then(|d| parse_date("from", d)),
        );
        let to = errors.take(
            to.ok_or_else(|| required("to"))
                .and_then(|d| parse_date("to", d)),
        );
        let (from, to) = errors.finish(from.zip(to))?;
        if to < from {
            return Err(FieldError::new("to", "reversed_period", "`to` is before `from`").into());
        }
        let longest = from.checked_add_months(Months::new(12 * MAX_YEARS));
        if longest.is_none_or(|last| to >= last) {
            return Err(FieldError::new(
                "to",
                "period_too_long",
                format!("a report covers at most {MAX_YEARS} years"),
            )
            .into());
        }
        Ok(Self { from, to })
    }

    pub fn from(&self) -> NaiveDate {
        self.from
    }

    pub fn to(&self) -> NaiveDate {
        self.to
    }

    /// The instants the period spans: from the start of its first day to the start of the
    /// day after its last, in Stockholm. SQLite has no time zones, so queries take these.
    pub fn utc_bounds(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let end = self
            .to
            .succ_opt()
            .map_or_else(|| stockholm_day_start(self.to), stockholm_day_start);
        (stockholm_day_start(self.from), end)
    }
}

/// Where people met live, as the sugar-dating report groups them. Gotland is outside
/// Stockholm County; so is abroad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HomeGroup {
    Stockholm,
    OtherCountyMunicipality,
    OutsideCounty,
    Unknown,
}

impl HomeGroup {
    pub fn of(home: &Home) -> Self {
        match home {
            Home::Municipality(code) if code.is_stockholm() => HomeGroup::Stockholm,
            Home::Municipality(code) if code.in_stockholm_county() => {
                HomeGroup::OtherCountyMunicipality
            }
            Home::Municipality(_) | Home::OutsideCounty | Home::Abroad(_) => {
                HomeGroup::OutsideCounty
            }
            Home::Unknown => HomeGroup::Unknown,
        }
    }
}

/// What the cooperation report counts for one role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoleFigures {
    /// Meetings: a person met twice counts twice, as the source document counts.
    pub encounters: u64,
    pub under_18: u64,
    pub support_offered: u64,
    /// Meetings linked by one pseudonym within a unit count once.
    pub distinct_people: u64,
}

/// The figures the Swedish paragraph is written from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CooperationFigures {
    /// Shifts with police "i samband med spaning eller tillslag": surveillance and raids.
    pub operations: u64,
    pub selling: RoleFigures,
    pub buyer: RoleFigures,
}

impl CooperationFigures {
    /// The figures from what the database counted: shifts with police by kind; meetings by
    /// role, age group and support offered; and by role, the meetings that carry a
    /// pseudonym and how many distinct pseudonyms (within a unit) they are.
    pub fn tally(
        shifts_by_kind: &[(ShiftKind, u64)],
        meetings: impl IntoIterator<Item = (PersonRole, AgeGroup, bool, u64)>,
        pseudonyms: impl IntoIterator<Item = (PersonRole, u64, u64)>,
    ) -> Self {
        let mut figures = CooperationFigures {
            operations: shifts_by_kind
                .iter()
                .filter(|(kind, _)| kind.is_police_operation())
                .map(|(_, n)| n)
                .sum(),
            ..CooperationFigures::default()
        };
        for (role, age_group, support_offered, n) in meetings {
            if let Some(of_role) = figures.of_role(role) {
                of_role.encounters += n;
                of_role.under_18 += if age_group == AgeGroup::Under18 { n } else { 0 };
                of_role.support_offered += if support_offered { n } else { 0 };
                of_role.distinct_people += n;
            }
        }
        // Meetings without a pseudonym are each a person; those with one count once per
        // pseudonym.
        for (role, with_pseudonym, distinct) in pseudonyms {
            if let Some(of_role) = figures.of_role(role) {
                of_role.distinct_people =
                    of_role.encounters - with_pseudonym.min(of_role.encounters) + distinct;
            }
        }
        figures
    }

    fn of_role(&mut self, role: PersonRole) -> Option<&mut RoleFigures> {
        match role {
            PersonRole::Selling => Some(&mut self.selling),
            PersonRole::Buyer => Some(&mut self.buyer),
            PersonRole::SugarDating => None,
        }
    }
}

const MONTHS: [&str; 12] = [
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
];

const WORDS: [&str; 21] = [
    "noll", "en", "två", "tre", "fyra", "fem", "sex", "sju", "åtta", "nio", "tio", "elva", "tolv",
    "tretton", "fjorton", "femton", "sexton", "sjutton", "arton", "nitton", "tjugo",
];

/// The grammatical gender of the noun a number counts: en person, ett arbetspass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    Common,
    Neuter,
}

/// A number as the report writes it: in words up to twenty, in digits above.
pub fn number_sv(n: u64, gender: Gender) -> String {
    match (n, gender) {
        (1, Gender::Neuter) => "ett".to_owned(),
        (0..=20, _) => usize::try_from(n)
            .ok()
            .and_then(|i| WORDS.get(i))
            .map_or_else(|| n.to_string(), |w| (*w).to_owned()),
        _ => n.to_string(),
    }
}

fn date_sv(day: NaiveDate) -> String {
    let month = MONTHS
        .get(day.month0() as usize)
        .copied()
        .unwrap_or_default();
    format!("{} {month} {}", day.day(), day.year())
}

/// "364 personer utsatta i prostitution", "en person utsatt i prostitution", "inga personer …".
fn people(n: u64, singular: &str, plural: &str) -> String {
    match n {
        0 => format!("inga personer {plural}"),
        1 => format!("en person {singular}"),
        _ => format!("{} personer {plural}", number_sv(n, Gender::Common)),
    }
}

/// The minors among them: "arton personer under 18 år utsatta i prostitution", or "ingen …".
fn minors(n: u64, singular: &str, plural: &str) -> String {
    match n {
        0 => format!("ingen under 18 år {singular}"),
        1 => format!("en person under 18 år {singular}"),
        _ => format!(
            "{} personer under 18 år {plural}",
            number_sv(n, Gender::Common)
        ),
    }
}

fn capitalized(sentence: &str) -> String {
    let mut chars = sentence.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// The paragraph of the yearly follow-up, in the words of the source document.
pub fn cooperation_text_sv(period: &Period, figures: &CooperationFigures) -> String {
    let shifts = match figures.operations {
        0 => "inga arbetspass".to_owned(),
        n => format!("{} arbetspass", number_sv(n, Gender::Neuter)),
    };
    let mut text = format!(
        "Under perioden {}–{} har socialförvaltningens verksamheter genomfört {shifts} \
         tillsammans med polisen i samband med spaning eller tillslag.",
        date_sv(period.from),
        date_sv(period.to),
    );
    let selling = people(
        figures.selling.encounters,
        "utsatt i prostitution",
        "utsatta i prostitution",
    );
    let buyers = people(
        figures.buyer.encounters,
        "misstänkt för köp av sexuella tjänster",
        "misstänkta för köp av sexuella tjänster",
    );
    text.push(' ');
    text.push_str(&capitalized(&format!(
        "{selling} och {buyers} har påträffats."
    )));
    let met = figures.selling.encounters + figures.buyer.encounters;
    if met == 0 {
        return text;
    }
    let (selling_minors, buying_minors) = (figures.selling.under_18, figures.buyer.under_18);
    text.push(' ');
    if selling_minors == 0 && buying_minors == 0 {
        text.push_str("Ingen av dessa var under 18 år.");
    } else {
        text.push_str(&format!(
            "Av dessa var {} och {}.",
            minors(
                selling_minors,
                "utsatt i prostitution",
                "utsatta i prostitution"
            ),
            minors(
                buying_minors,
                "köpare av sexuella tjänster",
                "köpare av sexuella tjänster"
            ),
        ));
    }
    let offered = figures.selling.support_offered + figures.buyer.support_offered;
    text.push(' ');
    text.push_str(&match offered {
        n if n == met && met == 1 => {
            "Den som påträffats har erbjudits stöd av förvaltningens verksamheter.".to_owned()
        }
        n if n == met => {
            "Samtliga som påträffats har erbjudits stöd av förvaltningens verksamheter.".to_owned()
        }
        0 => "Ingen av dem har erbjudits stöd av förvaltningens verksamheter.".to_owned(),
        n => capitalized(&format!(
            "{} av dem har erbjudits stöd av förvaltningens verksamheter.",
            number_sv(n, Gender::Common)
        )),
    });
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn period(from: &str, to: &str) -> Period {
        Period::parse(Some(from), Some(to)).unwrap()
    }

    #[test]
    fn the_source_documents_paragraph() {
        let figures = CooperationFigures {
            operations: 201,
            selling: RoleFigures {
                encounters: 364,
                under_18: 18,
                support_offered: 364,
                distinct_people: 364,
            },
            buyer: RoleFigures {
                encounters: 306,
                under_18: 3,
                support_offered: 306,
                distinct_people: 306,
            },
        };
        assert_eq!(
            cooperation_text_sv(&period("2021-04-01", "2023-12-31"), &figures),
            "Under perioden 1 april 2021–31 december 2023 har socialförvaltningens verksamheter \
             genomfört 201 arbetspass tillsammans med polisen i samband med spaning eller tillslag. \
             364 personer utsatta i prostitution och 306 personer misstänkta för köp av sexuella \
             tjänster har påträffats. Av dessa var arton personer under 18 år utsatta i \
             prostitution och tre personer under 18 år köpare av sexuella tjänster. Samtliga som \
             påträffats har erbjudits stöd av förvaltningens verksamheter."
        );
    }

    #[test]
    fn singular_plural_and_zero() {
        let one = RoleFigures {
            encounters: 1,
            under_18: 1,
            support_offered: 0,
            distinct_people: 1,
        };
        let figures = CooperationFigures {
            operations: 1,
            selling: one,
            buyer: RoleFigures::default(),
        };
        let text = cooperation_text_sv(&period("2025-01-01", "2025-12-31"), &figures);
        assert!(
            text.contains("genomfört ett arbetspass tillsammans"),
            "{text}"
        );
        assert!(
            text.contains("En person utsatt i prostitution och inga personer misstänkta"),
            "{text}"
        );
        assert!(text.contains("Av dessa var en person under 18 år utsatt i prostitution och ingen under 18 år köpare"), "{text}");
        assert!(
            text.ends_with("Ingen av dem har erbjudits stöd av förvaltningens verksamheter."),
            "{text}"
        );

        let none = cooperation_text_sv(
            &period("2025-01-01", "2025-12-31"),
            &CooperationFigures::default(),
        );
        assert_eq!(
            none,
            "Under perioden 1 januari 2025–31 december 2025 har socialförvaltningens verksamheter \
             genomfört inga arbetspass tillsammans med polisen i samband med spaning eller tillslag. \
             Inga personer utsatta i prostitution och inga personer misstänkta för köp av sexuella \
             tjänster har påträffats."
        );
        let some = CooperationFigures {
            operations: 21,
            selling: RoleFigures {
                encounters: 12,
                under_18: 0,
                support_offered: 12,
                distinct_people: 9,
            },
            buyer: RoleFigures {
                encounters: 2,
                under_18: 0,
                support_offered: 0,
                distinct_people: 2,
            },
        };
        let text = cooperation_text_sv(&period("2025-01-01", "2025-12-31"), &some);
        assert!(text.contains("genomfört 21 arbetspass"), "{text}");
        assert!(
            text.contains("Tolv personer utsatta i prostitution och två personer misstänkta"),
            "{text}"
        );
        assert!(text.contains("Ingen av dessa var under 18 år."), "{text}");
        assert!(
            text.ends_with("Tolv av dem har erbjudits stöd av förvaltningens verksamheter."),
            "{text}"
        );
    }

    #[test]
    fn figures_are_tallied_from_the_counted_groups() {
        let figures = CooperationFigures::tally(
            &[
                (ShiftKind::Raid, 2),
                (ShiftKind::StreetOutreach, 1),
                (ShiftKind::Surveillance, 1),
            ],
            [
                (PersonRole::Selling, AgeGroup::Adult, true, 4),
                (PersonRole::Selling, AgeGroup::Under18, false, 1),
                (PersonRole::Buyer, AgeGroup::Adult, true, 2),
                (PersonRole::SugarDating, AgeGroup::Under18, true, 9),
            ],
            [(PersonRole::Selling, 3, 1)],
        );
        assert_eq!(figures.operations, 3);
        assert_eq!(
            figures.selling,
            RoleFigures {
                encounters: 5,
                under_18: 1,
                support_offered: 4,
                distinct_people: 3
            }
        );
        assert_eq!(
            figures.buyer,
            RoleFigures {
                encounters: 2,
                under_18: 0,
                support_offered: 2,
                distinct_people: 2
            }
        );
    }

    #[test]
    fn periods_are_checked() {
        let code =
            |from: &str, to: &str| Period::parse(Some(from), Some(to)).unwrap_err().0[0].code;
        assert_eq!(code("2025-02-01", "2025-01-31"), "reversed_period");
        assert_eq!(code("2015-01-01", "2025-01-01"), "period_too_long");
        assert!(Period::parse(Some("2015-01-01"), Some("2024-12-31")).is_ok());
        assert_eq!(code("2025-13-01", "2025-12-31"), "invalid_date");
        assert_eq!(
            Period::parse(None, Some("2025-12-31")).unwrap_err().0[0].code,
            "required"
        );
        // The New Year belongs to Stockholm's calendar.
        let (start, end) = period("2025-01-01", "2025-12-31").utc_bounds();
        assert_eq!(start.to_rfc3339(), "2024-12-31T23:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2025-12-31T23:00:00+00:00");
    }

    #[test]
    fn homes_group_as_the_report_says() {
        let group = |code: &str| HomeGroup::of(&Home::parse(code, None).unwrap());
        assert_eq!(group("0180"), HomeGroup::Stockholm);
        assert_eq!(group("0127"), HomeGroup::OtherCountyMunicipality);
        assert_eq!(group("0980"), HomeGroup::OutsideCounty);
        assert_eq!(group("abroad"), HomeGroup::OutsideCounty);
        assert_eq!(group("outside_county"), HomeGroup::OutsideCounty);
        assert_eq!(group("unknown"), HomeGroup::Unknown);
    }

    proptest! {
        #[test]
        fn words_up_to_twenty_digits_above(n in 0u64..100_000) {
            let written = number_sv(n, Gender::Common);
            prop_assert_eq!(written.chars().all(|c| c.is_ascii_digit()), n > 20);
            if n > 20 {
                prop_assert_eq!(written, n.to_string());
            }
        }
    }
}
