//! Retention: encounter details older than the authority's disposal decision allows are
//! erased where the database holds them, and the change reaches devices through the feed.
//! What the reports count stays: role, age group, gender, home municipality, support and
//! referral targets.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use faltlogg_domain::audit::{Action, Entry};
use faltlogg_domain::ids::EncounterId;

use crate::dialect::write_transaction;
use crate::encounters::ERASED;
use crate::schema::{amendments, encounters};
use crate::stored::parse;
use crate::{DbConnection, StoreError};

/// Encounters erased in one transaction at most, so a long backlog does not hold the
/// write lock for long.
const BATCH: i64 = 500;

/// Erases the details of encounters met before `cutoff` that still hold any. Returns how
/// many were erased.
pub fn erase_before(
    conn: &mut DbConnection,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut erased = 0;
    loop {
        let done = write_transaction(conn, |conn| {
            let ids: Vec<String> = encounters::table
                .filter(encounters::occurred_at.lt(cutoff.naive_utc()))
                .filter(
                    encounters::pseudonym
                        .is_not_null()
                        .or(encounters::notes.is_not_null())
                        .or(encounters::age_years.is_not_null())
                        .or(encounters::home_country.is_not_null())
                        .or(encounters::guardian_not_contacted_reason.is_not_null())
                        .or(encounters::void_reason.is_not_null())
                        .or(encounters::concern_municipality.is_not_null())
                        .or(encounters::id.eq_any(
                            amendments::table
                                .filter(amendments::record_type.eq("encounter"))
                                .filter(amendments::reason.ne(""))
                                .select(amendments::record_id),
                        )),
                )
                .select(encounters::id)
                .order(encounters::id)
                .limit(BATCH)
                .load(conn)?;
            if ids.is_empty() {
                return Ok::<_, StoreError>(0);
            }
            // The cutoff again: a write may have moved a meeting since it was selected.
            let old = encounters::occurred_at.lt(cutoff.naive_utc());
            // The report of concern keeps that it was filed; when and with whom go.
            diesel::update(
                encounters::table
                    .filter(encounters::id.eq_any(&ids))
                    .filter(old)
                    .filter(encounters::concern_municipality.is_not_null()),
            )
            .set((
                encounters::concern_filed_at_sent.eq(Some(ERASED)),
                encounters::concern_municipality.eq(None::<&str>),
            ))
            .execute(conn)?;
            diesel::update(
                encounters::table
                    .filter(encounters::id.eq_any(&ids))
                    .filter(old),
            )
            .set((
                encounters::pseudonym.eq(None::<&str>),
                encounters::notes.eq(None::<&str>),
                encounters::age_years.eq(None::<i32>),
                encounters::home_country.eq(None::<&str>),
                encounters::guardian_not_contacted_reason.eq(None::<&str>),
                encounters::void_reason.eq(None::<&str>),
                encounters::version.eq(encounters::version + 1),
                encounters::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
            diesel::update(
                amendments::table
                    .filter(amendments::record_type.eq("encounter"))
                    .filter(amendments::record_id.eq_any(&ids)),
            )
            .set(amendments::reason.eq(""))
            .execute(conn)?;
            for id in &ids {
                let id: EncounterId = parse(id)?;
                if let Some(encounter) = crate::encounters::get(conn, id)? {
                    crate::feed::record_encounter(conn, &encounter, now)?;
                    // Each erasure is a write of the record: its entry goes with it.
                    crate::audit::append(conn, &erasure(id, now))?;
                }
            }
            Ok(ids.len())
        })?;
        erased += done;
        if done == 0 {
            crate::dialect::flush_erasures(conn)?;
            return Ok(erased);
        }
    }
}

fn erasure(id: EncounterId, now: DateTime<Utc>) -> Entry {
    Entry {
        at: now,
        user_id: None,
        username: None,
        role: None,
        unit: None,
        session_id: None,
        action: Action::Retention,
        record_type: Some("encounter".into()),
        record_id: Some(id.to_string()),
        request_id: None,
        outcome: "erased".into(),
    }
}
