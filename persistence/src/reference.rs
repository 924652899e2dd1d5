//! Reference data: units, referral targets, municipalities and their connections.

use chrono::NaiveDate;
use diesel::prelude::*;
use faltlogg_domain::municipality::{ConnectionPeriod, Home, Municipality, MunicipalityCode};
use faltlogg_domain::unit::{ReferralTarget, Unit};

use crate::schema::{
    municipalities, municipality_connections, referral_targets, special_homes, units,
};
use crate::{DbConnection, StoreError};

pub fn units(conn: &mut DbConnection) -> Result<Vec<Unit>, StoreError> {
    units::table
        .select(units::code)
        .order(units::code)
        .load::<String>(conn)?
        .iter()
        .map(|code| parse_code(code))
        .collect()
}

pub fn referral_targets(conn: &mut DbConnection) -> Result<Vec<ReferralTarget>, StoreError> {
    let rows: Vec<(String, bool)> = referral_targets::table
        .select((referral_targets::code, referral_targets::adults_only))
        .order(referral_targets::code)
        .load(conn)?;
    rows.iter()
        .map(|(code, adults_only)| {
            let target: ReferralTarget = parse_code(code)?;
            // The rule lives in the domain; the column is for people reading the database.
            if target.adults_only() != *adults_only {
                return Err(StoreError::Corrupt(format!("adults_only of {code}")));
            }
            Ok(target)
        })
        .collect()
}

/// The codes stored beside municipality codes for a person's home.
pub fn special_homes(conn: &mut DbConnection) -> Result<Vec<String>, StoreError> {
    let codes: Vec<String> = special_homes::table
        .select(special_homes::code)
        .order(special_homes::code)
        .load(conn)?;
    for code in &codes {
        Home::parse(code, None).map_err(|_| StoreError::Corrupt(format!("special home {code}")))?;
    }
    Ok(codes)
}

/// Every municipality with its connection history, oldest period first.
pub fn municipalities(conn: &mut DbConnection) -> Result<Vec<Municipality>, StoreError> {
    let codes: Vec<String> = municipalities::table
        .select(municipalities::code)
        .order(municipalities::code)
        .load(conn)?;
    let periods: Vec<(String, String, Option<String>)> = municipality_connections::table
        .select((
            municipality_connections::municipality_code,
            municipality_connections::connected_since,
            municipality_connections::connected_until,
        ))
        .order((
            municipality_connections::municipality_code,
            municipality_connections::connected_since,
        ))
        .load(conn)?;
    codes
        .iter()
        .map(|code| {
            let connections = periods
                .iter()
                .filter(|(of, _, _)| of == code)
                .map(|(_, since, until)| {
                    let since = parse_date(since)?;
                    let until = until.as_deref().map(parse_date).transpose()?;
                    ConnectionPeriod::new(since, until)
                        .map_err(|e| StoreError::Corrupt(format!("connection of {code}: {e}")))
                })
                .collect::<Result<_, _>>()?;
            Ok(Municipality {
                code: parse_code(code)?,
                connections,
            })
        })
        .collect()
}

fn parse_code<T: std::str::FromStr>(code: &str) -> Result<T, StoreError> {
    code.parse()
        .map_err(|_| StoreError::Corrupt(format!("unknown code {code}")))
}

fn parse_date(day: &str) -> Result<NaiveDate, StoreError> {
    day.parse()
        .map_err(|_| StoreError::Corrupt(format!("date {day}")))
}

/// Records a span of connection to the county offer. A span that starts on the same day
/// as an existing one is [`StoreError::Duplicate`].
pub fn record_connection(
    conn: &mut DbConnection,
    code: MunicipalityCode,
    period: &ConnectionPeriod,
    recorded_at: chrono::NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::insert_into(municipality_connections::table)
        .values((
            municipality_connections::municipality_code.eq(code.as_str()),
            municipality_connections::connected_since.eq(period.since().to_string()),
            municipality_connections::connected_until.eq(period.until().map(|d| d.to_string())),
            municipality_connections::recorded_at.eq(recorded_at),
        ))
        .execute(conn)?;
    Ok(())
}
