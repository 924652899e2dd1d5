//! Reference data: units, referral targets, municipalities and their connections.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use faltlogg_domain::ids::UserId;
use faltlogg_domain::municipality::{ConnectionPeriod, Home, Municipality, MunicipalityCode};
use faltlogg_domain::unit::{ReferralTarget, Unit};

use crate::schema::{
    municipalities, municipality_connection_changes, municipality_connections, referral_targets,
    special_homes, units,
};
use crate::stored::{date, parse};
use crate::{DbConnection, StoreError};

pub fn units(conn: &mut DbConnection) -> Result<Vec<Unit>, StoreError> {
    units::table
        .select(units::code)
        .order(units::code)
        .load::<String>(conn)?
        .iter()
        .map(|code| parse(code))
        .collect()
}

pub fn referral_targets(conn: &mut DbConnection) -> Result<Vec<ReferralTarget>, StoreError> {
    let rows: Vec<(String, bool)> = referral_targets::table
        .select((referral_targets::code, referral_targets::adults_only))
        .order(referral_targets::code)
        .load(conn)?;
    rows.iter()
        .map(|(code, adults_only)| {
            let target: ReferralTarget = parse(code)?;
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
    let periods = connection_rows(conn, None)?;
    codes
        .iter()
        .map(|code| municipality_of(code, &periods))
        .collect()
}

/// One municipality with its connection history.
pub fn municipality(
    conn: &mut DbConnection,
    code: MunicipalityCode,
) -> Result<Municipality, StoreError> {
    let periods = connection_rows(conn, Some(code))?;
    municipality_of(code.as_str(), &periods)
}

type PeriodRow = (String, String, Option<String>);

fn connection_rows(
    conn: &mut DbConnection,
    of: Option<MunicipalityCode>,
) -> Result<Vec<PeriodRow>, StoreError> {
    let mut query = municipality_connections::table
        .select((
            municipality_connections::municipality_code,
            municipality_connections::connected_since,
            municipality_connections::connected_until,
        ))
        .order((
            municipality_connections::municipality_code,
            municipality_connections::connected_since,
        ))
        .into_boxed();
    if let Some(code) = of {
        query = query.filter(municipality_connections::municipality_code.eq(code.as_str()));
    }
    Ok(query.load(conn)?)
}

fn municipality_of(code: &str, periods: &[PeriodRow]) -> Result<Municipality, StoreError> {
    let connections = periods
        .iter()
        .filter(|(of, _, _)| of == code)
        .map(|(_, since, until)| {
            let since = date(since)?;
            let until = until.as_deref().map(date).transpose()?;
            ConnectionPeriod::new(since, until)
                .map_err(|e| StoreError::Corrupt(format!("connection of {code}: {e}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(Municipality {
        code: parse(code)?,
        connections,
    })
}

/// Records a coordinator's dated change of a municipality's connection: the history is
/// rewritten from that day on, and the change itself is kept with who made it.
pub fn change_connection(
    conn: &mut DbConnection,
    code: MunicipalityCode,
    from: NaiveDate,
    connected: bool,
    by: UserId,
    now: DateTime<Utc>,
) -> Result<Municipality, StoreError> {
    crate::dialect::write_transaction(conn, |conn| {
        // Two coordinators changing one municipality at once take turns.
        crate::dialect::lock_record(
            conn,
            "municipality",
            code.as_str(),
            crate::dialect::Lock::Exclusive,
        )?;
        let history = municipality(conn, code)?.with_change(from, connected);
        diesel::delete(
            municipality_connections::table
                .filter(municipality_connections::municipality_code.eq(code.as_str())),
        )
        .execute(conn)?;
        for period in &history {
            record_connection(conn, code, period, now.naive_utc())?;
        }
        diesel::insert_into(municipality_connection_changes::table)
            .values((
                municipality_connection_changes::id.eq(uuid::Uuid::new_v4().to_string()),
                municipality_connection_changes::municipality_code.eq(code.as_str()),
                municipality_connection_changes::effective_from.eq(from.to_string()),
                municipality_connection_changes::connected.eq(connected),
                municipality_connection_changes::recorded_by.eq(by.to_string()),
                municipality_connection_changes::recorded_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        crate::encounters::follow_municipality(conn, code, from, now)?;
        crate::feed::record_municipality(conn, code, now)?;
        municipality(conn, code)
    })
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
