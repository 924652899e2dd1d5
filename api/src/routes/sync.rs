//! Offline sync: a phone pushes what it logged as a batch, item by item through the same
//! write path as the single-record routes, and pulls every change it may see.

use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use faltlogg_domain::audit::{Action, Entry};
use faltlogg_domain::encounter::{Context, EncounterDraft};
use faltlogg_domain::ids::{EncounterId, ShiftId};
use faltlogg_domain::text::FreeText;
use faltlogg_domain::write::{Applied, Refusal};
use faltlogg_domain::{FieldError, ValidationErrors};
use faltlogg_persistence::dialect::Held;
use faltlogg_persistence::encounters::Put;
use faltlogg_persistence::feed::{self, Change, FeedPosition};
use faltlogg_persistence::write::{WriteError, Writer};
use faltlogg_persistence::{
    DbConnection, StoreError, audit, dialect, encounters, reference, shifts,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{Actor, event, outcome_of};
use crate::auth::{Auth, OutreachWorkers};
use crate::error::{ApiError, Problem, ProblemField};
use crate::extract::{Json, Query, parse_value};
use crate::pagination::parse_limit;
use crate::records::{now, writer};
use crate::routes::encounters::{EncounterBody, EncounterView};
use crate::routes::reference::{MunicipalityView, UnitView};
use crate::routes::shifts::{ShiftBody, ShiftView};
use crate::startup::AppState;

/// At most this many items in one push.
pub const MAX_PUSH_ITEMS: usize = 500;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    #[schema(max_items = 500)]
    pub items: Vec<PushItem>,
}

/// One record the phone wrote.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushItem {
    /// `shift` or `encounter`.
    #[serde(rename = "type")]
    #[schema(example = "encounter")]
    pub record_type: String,
    pub id: String,
    /// The version the phone's copy was based on; null for a record it created.
    pub base_version: Option<i64>,
    /// The same body as `PUT /api/v1/shifts/{id}` (ShiftBody) or
    /// `PUT /api/v1/encounters/{id}` (EncounterBody).
    /// A JSON object; anything else refuses the whole batch (400), as a body that breaks
    /// the schema does, while an object that breaks a rule is this item's rejection.
    #[schema(value_type = Object)]
    pub data: serde_json::Map<String, serde_json::Value>,
    /// Why a record of a closed shift is changed: at most 500 characters. A longer one is
    /// this item's rejection (a rule, like the rules on `data`), not the batch's.
    pub amendment_reason: Option<String>,
}

#[derive(Serialize, ToSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum PushStatus {
    Created,
    Updated,
    Unchanged,
    Conflict,
    Rejected,
}

/// The outcome of one item, in the order of the request.
#[derive(Serialize, ToSchema)]
pub struct PushResult {
    pub id: String,
    pub status: PushStatus,
    /// The version now stored (absent when rejected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// For a conflict: the record as GET returns it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub current: Option<serde_json::Value>,
    /// For a rejection: every field that broke a rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ProblemField>>,
}

#[derive(Serialize, ToSchema)]
pub struct PushResponse {
    pub results: Vec<PushResult>,
}

fn rejected(id: &str, errors: Vec<ProblemField>) -> PushResult {
    PushResult {
        id: id.to_owned(),
        status: PushStatus::Rejected,
        version: None,
        current: None,
        errors: Some(errors),
    }
}

fn problem_fields(error: ApiError) -> Result<Vec<ProblemField>, ApiError> {
    match error {
        ApiError::Validation(errors) => Ok(errors
            .0
            .into_iter()
            .map(|e| ProblemField {
                field: e.field,
                code: e.code.into(),
                message: e.message,
            })
            .collect()),
        ApiError::MalformedJson { field, message } => Ok(vec![ProblemField {
            field,
            code: "malformed".into(),
            message,
        }]),
        other => Err(other),
    }
}

/// Turns a write's outcome into the item's result (a conflict or rejection says so), or
/// the store failure that fails the whole push. `load` reads the record as the caller may
/// see it, for a conflict that did not carry it.
fn settle<T: std::fmt::Debug, V: Serialize>(
    id: &str,
    outcome: Result<(Applied, T), WriteError<T>>,
    version_of: fn(&T) -> i64,
    view: fn(T) -> V,
    load: impl FnOnce() -> Result<T, StoreError>,
) -> Result<PushResult, ApiError> {
    let conflict = |record: T| {
        let version = version_of(&record);
        PushResult {
            id: id.to_owned(),
            status: PushStatus::Conflict,
            version: Some(version),
            current: serde_json::to_value(view(record)).ok(),
            errors: None,
        }
    };
    match outcome {
        Ok((applied, record)) => Ok(PushResult {
            id: id.to_owned(),
            status: match applied {
                Applied::Created => PushStatus::Created,
                Applied::Updated => PushStatus::Updated,
                Applied::Unchanged => PushStatus::Unchanged,
            },
            version: Some(version_of(&record)),
            current: None,
            errors: None,
        }),
        Err(WriteError::Stale(current)) => Ok(conflict(*current)),
        Err(WriteError::Refused(Refusal::PreconditionRequired | Refusal::Conflict(_))) => {
            load().map(conflict).map_err(ApiError::from)
        }
        Err(WriteError::Refused(Refusal::NotFound)) => Ok(rejected(
            id,
            vec![ProblemField {
                field: "id".into(),
                code: "not_found".into(),
                message: "another unit's record, or not yours to change".into(),
            }],
        )),
        Err(WriteError::Refused(Refusal::Invalid(errors))) => {
            rejection(id, ApiError::Validation(errors))
        }
        Err(WriteError::Refused(Refusal::Stale)) => Err(ApiError::internal(StoreError::Corrupt(
            "a stale write without its record".into(),
        ))),
        Err(WriteError::Store(error)) => Err(error.into()),
    }
}

/// The audit entry of one pushed item.
fn item_entry(actor: &Actor, item: &PushItem, result: &PushResult) -> Entry {
    let (action, outcome) = match result.status {
        PushStatus::Created => (Action::Create, "ok"),
        PushStatus::Updated => (Action::Update, "ok"),
        PushStatus::Unchanged => (Action::Update, "unchanged"),
        PushStatus::Conflict => (Action::Update, "conflict"),
        PushStatus::Rejected
            if result
                .errors
                .as_ref()
                .is_some_and(|errors| errors.iter().any(|e| e.code == "not_found")) =>
        {
            (Action::Update, "not_found")
        }
        PushStatus::Rejected => (Action::Update, "invalid"),
    };
    let record_type = match item.record_type.as_str() {
        "shift" => "shift",
        _ => "encounter",
    };
    // Only an id that is one: whatever else a phone sent is not for the log.
    let id = uuid::Uuid::parse_str(&result.id)
        .ok()
        .map(|id| id.to_string());
    event(actor, action, record_type, id, outcome)
}

/// Parses an item's body as its PUT route does; a body that breaks the schema or a rule
/// is the item's rejection.
fn parse_item<B: serde::de::DeserializeOwned>(item: &PushItem) -> Result<B, ApiError> {
    let mut data = item.data.clone();
    if let Some(reason) = &item.amendment_reason {
        data.insert("amendment_reason".into(), reason.clone().into());
    }
    parse_value(serde_json::Value::Object(data))
}

/// An item parsed for its write; a body that breaks the schema or a rule is the item's
/// rejection ([`rejection`]).
fn parse_push_item(item: &PushItem, context: &Context) -> Result<Item, ApiError> {
    let id = item.id.as_str();
    match item.record_type.as_str() {
        "shift" => ShiftId::from_str_or_field(id).and_then(|shift_id| {
            let body: ShiftBody = parse_item(item)?;
            let (draft, reason) = body.parse()?;
            Ok(Item::Shift(shift_id, draft, reason))
        }),
        "encounter" => EncounterId::from_str_or_field(id).and_then(|encounter_id| {
            let body: EncounterBody = parse_item(item)?;
            let (draft, reason) = body.parse(context)?;
            Ok(Item::Encounter(encounter_id, Box::new(draft), reason))
        }),
        _ => Err(ApiError::Validation(
            FieldError::new("type", "unknown_value", "must be one of: shift, encounter").into(),
        )),
    }
}

/// The result of an item its parse refused; any other failure fails the push.
fn rejection(id: &str, error: ApiError) -> Result<PushResult, ApiError> {
    problem_fields(error).map(|fields| rejected(id, fields))
}

/// Applies the items in order, each by its PUT route's rules. A run of encounters between
/// shifts is written together ([`encounters::put_many`]); a shift comes after the
/// encounters before it and before those after it, which may be logged in it.
fn push_items(
    conn: &mut DbConnection,
    writer: &Writer,
    context: &Context,
    items: &[PushItem],
) -> Result<Vec<PushResult>, ApiError> {
    let mut results: Vec<Option<PushResult>> = items.iter().map(|_| None).collect();
    let mut run: Vec<EncounterItem> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match parse_push_item(item, context) {
            Err(error) => results[i] = Some(rejection(&item.id, error)?),
            Ok(Item::Encounter(id, draft, reason)) => run.push((i, id, draft, reason)),
            Ok(Item::Shift(shift_id, draft, reason)) => {
                push_encounters(conn, writer, context, items, &mut run, &mut results)?;
                let outcome = shifts::put(
                    conn,
                    writer,
                    shift_id,
                    &draft,
                    item.base_version,
                    reason.as_ref(),
                    context.now,
                );
                let scope = faltlogg_domain::access::ShiftScope::Unit(writer.unit);
                results[i] = Some(settle(
                    &item.id,
                    outcome,
                    |s| s.version,
                    ShiftView::from,
                    || shifts::get_in(conn, scope, shift_id),
                )?);
            }
        }
    }
    push_encounters(conn, writer, context, items, &mut run, &mut results)?;
    results
        .into_iter()
        .map(|result| {
            result.ok_or_else(|| {
                ApiError::internal(StoreError::Corrupt("a push item without an outcome".into()))
            })
        })
        .collect()
}

/// An encounter item of a run: its place in the push, and what its PUT would carry.
type EncounterItem = (usize, EncounterId, Box<EncounterDraft>, Option<FreeText>);

/// Writes the run of encounter items gathered so far and settles each.
fn push_encounters(
    conn: &mut DbConnection,
    writer: &Writer,
    context: &Context,
    items: &[PushItem],
    run: &mut Vec<EncounterItem>,
    results: &mut [Option<PushResult>],
) -> Result<(), ApiError> {
    if run.is_empty() {
        return Ok(());
    }
    let puts: Vec<Put<'_>> = run
        .iter()
        .map(|(i, id, draft, reason)| Put {
            writer: *writer,
            id: *id,
            draft,
            if_match: items[*i].base_version,
            amendment_reason: reason.as_ref(),
        })
        .collect();
    let outcomes = encounters::put_many(conn, &puts, &Held::default(), context.now)?;
    for ((i, id, _, _), outcome) in run.iter().zip(outcomes) {
        let unit = writer.unit;
        results[*i] = Some(settle(
            &items[*i].id,
            outcome,
            |e| e.version,
            EncounterView::from,
            || encounters::get_of_unit(conn, unit, *id),
        )?);
    }
    run.clear();
    Ok(())
}

enum Item {
    Shift(
        ShiftId,
        faltlogg_domain::shift::ShiftDraft,
        Option<FreeText>,
    ),
    Encounter(EncounterId, Box<EncounterDraft>, Option<FreeText>),
}

/// Parses a record id of a push item, naming the field when it is not a UUID.
trait IdField: Sized {
    fn from_str_or_field(raw: &str) -> Result<Self, ApiError>;
}

impl<T: std::str::FromStr> IdField for T {
    fn from_str_or_field(raw: &str) -> Result<Self, ApiError> {
        raw.parse()
            .map_err(|_| ApiError::Validation(FieldError::new("id", "invalid_id", "a UUID").into()))
    }
}

/// Push a batch of records logged offline.
#[utoipa::path(post, path = "/api/v1/sync/push", tag = "sync", security(("bearer" = ["outreach_worker"])),
    description = "Role: outreach_worker. Each item is applied on its own, in order, by the same \
rules as its PUT route (an item may depend on an earlier one: a shift, then its encounters); a \
rejected item never undoes the others. `base_version` null creates or retries; a number is the \
version the phone's copy was based on, and a stale one is a `conflict` carrying the server's \
record. The push answers 200 whenever the envelope is valid.",
    request_body(content = PushRequest, example = json!({"items": [
        {"type": "shift", "id": "6f9619ff-8b86-4011-b42d-00c04fc964ff", "base_version": null,
         "data": {"kind": "raid", "with_police": true, "started_at": "2026-11-28T20:00:00+01:00", "units": ["mika", "kast"]}},
        {"type": "encounter", "id": "0b7c4bc4-62d3-4c5e-9d0e-2f1f3c1c9a11", "base_version": null,
         "data": {"shift_id": "6f9619ff-8b86-4011-b42d-00c04fc964ff", "occurred_at": "2026-11-28T22:30:00+01:00",
                  "role": "selling", "age_group": "adult", "gender": "female", "home_municipality": "0180",
                  "support_offered": true, "referrals": []}}
    ]})),
    responses(
        (status = 200, description = "One result per item, in item order", body = PushResponse,
         example = json!({"results": [
            {"id": "6f9619ff-8b86-4011-b42d-00c04fc964ff", "status": "created", "version": 1},
            {"id": "0b7c4bc4-62d3-4c5e-9d0e-2f1f3c1c9a11", "status": "rejected",
             "errors": [{"field": "age_years", "code": "age_group_mismatch", "message": "age_years must agree with age_group"}]}
         ]})),
        (status = 400, description = "Malformed envelope", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an outreach worker", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 2 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "More than 500 items", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn push(
    state: web::Data<AppState>,
    auth: Auth<OutreachWorkers>,
    body: Result<Json<PushRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let Json(body) = body?;
    let writer = writer(&auth.principal)?;
    let items = body.items;
    if items.len() > MAX_PUSH_ITEMS {
        return Err(ValidationErrors::from(FieldError::new(
            "items",
            "too_many",
            format!("at most {MAX_PUSH_ITEMS} items in one push"),
        ))
        .into());
    }
    let context = Context {
        now: now(),
        notes_enabled: state.config.notes_enabled,
    };
    let actor = auth.actor.clone();
    let results = state
        .with_writer(move |conn| {
            let mut attempts = 0;
            loop {
                attempts += 1;
                // One transaction for the batch (one lock on SQLite), a savepoint per item.
                let outcome = dialect::write_transaction(conn, |conn| {
                    let results = push_items(conn, &writer, &context, &items)?;
                    // Each item's entry is written with it, in the batch's transaction.
                    let entries: Vec<Entry> = items
                        .iter()
                        .zip(&results)
                        .map(|(item, result)| item_entry(&actor, item, result))
                        .collect();
                    audit::append_many(conn, &entries)?;
                    Ok(results)
                });
                match outcome {
                    // Two phones' batches locked each other (PostgreSQL chose this one to
                    // give way): the whole batch runs again.
                    Err(ApiError::Unavailable(StoreError::Contention(_))) if attempts < 3 => {}
                    Err(error) => {
                        // The items' entries went with the batch; the attempt is kept.
                        let entry =
                            event(&actor, Action::Update, "batch", None, outcome_of(&error));
                        audit::append(conn, &entry)?;
                        return Err(error);
                    }
                    Ok(results) => return Ok(results),
                }
            }
        })
        .await?;
    Ok(HttpResponse::Ok().json(PushResponse { results }))
}

/// One change in the feed.
#[derive(Serialize, ToSchema)]
pub struct FeedChange {
    /// `unit`, `municipality`, `shift` or `encounter`.
    #[serde(rename = "type")]
    pub record_type: &'static str,
    pub id: String,
    /// The record's version (shifts and encounters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// An encounter that was voided: kept, marked, out of every count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voided: Option<bool>,
    /// The record left the device's window: drop it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evicted: Option<bool>,
    /// The record as its GET route returns it (absent when evicted).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct PullResponse {
    pub changes: Vec<FeedChange>,
    /// Pass as `cursor` next time; opaque.
    pub next_cursor: String,
    /// More changes are ready: pull again at once.
    pub has_more: bool,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PullQuery {
    /// From the previous answer; absent on a new device (everything from the beginning).
    pub cursor: Option<String>,
    /// 1 to 500; 100 when absent.
    #[param(value_type = u32, required = false, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
}

/// The reader's place: in the feed, and when it last pulled (for evictions).
struct PullCursor {
    position: FeedPosition,
    pulled_at: DateTime<Utc>,
}

fn encode_cursor(cursor: &PullCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}|{}|{}",
        cursor.position.tx,
        cursor.position.seq,
        cursor.pulled_at.timestamp_micros()
    ))
}

fn decode_cursor(raw: &str) -> Result<PullCursor, FieldError> {
    let invalid = || FieldError::new("cursor", "invalid_cursor", "not a cursor this feed gave");
    let text = URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(invalid)?;
    let parts: Vec<&str> = text.split('|').collect();
    let [tx, seq, micros] = parts.as_slice() else {
        return Err(invalid());
    };
    Ok(PullCursor {
        position: FeedPosition {
            tx: tx.parse().map_err(|_| invalid())?,
            seq: seq.parse().map_err(|_| invalid())?,
        },
        pulled_at: micros
            .parse()
            .ok()
            .and_then(DateTime::from_timestamp_micros)
            .ok_or_else(invalid)?,
    })
}

fn view_change(change: Change) -> FeedChange {
    let record = |record_type, id: String, version, data: serde_json::Value| FeedChange {
        record_type,
        id,
        version,
        voided: None,
        evicted: None,
        data: Some(data),
    };
    let gone = |record_type, id: String| FeedChange {
        record_type,
        id,
        version: None,
        voided: None,
        evicted: Some(true),
        data: None,
    };
    match change {
        Change::Shift(shift) => {
            let (id, version) = (shift.id.to_string(), shift.version);
            record("shift", id, Some(version), to_json(ShiftView::from(*shift)))
        }
        Change::Encounter(encounter) => {
            let (id, version) = (encounter.id.to_string(), encounter.version);
            let voided = encounter.void.is_some();
            FeedChange {
                voided: voided.then_some(true),
                ..record(
                    "encounter",
                    id,
                    Some(version),
                    to_json(EncounterView::from(*encounter)),
                )
            }
        }
        Change::Municipality(m) => {
            let id = m.code.as_str().to_owned();
            record("municipality", id, None, to_json(MunicipalityView::from(m)))
        }
        Change::EvictedShift(id) => gone("shift", id.to_string()),
        Change::EvictedEncounter(id) => gone("encounter", id.to_string()),
    }
}

fn to_json(view: impl Serialize) -> serde_json::Value {
    serde_json::to_value(view).unwrap_or(serde_json::Value::Null)
}

/// Every change the caller's device may see since its cursor.
#[utoipa::path(get, path = "/api/v1/sync/pull", tag = "sync", security(("bearer" = ["outreach_worker"])),
    description = "Role: outreach_worker. Without a cursor: the reference data (units, \
municipalities with their connections) and every record the device should hold. After that: \
each change since the cursor, voids included; a shift of the caller's unit that was closed more \
than FALTLOGG_DEVICE_WINDOW_DAYS ago comes as `evicted`, with the unit's encounters in it. The \
feed never skips a change that commits late. Compressed with gzip when the client accepts it.",
    params(PullQuery),
    responses(
        (status = 200, description = "Changes in feed order", body = PullResponse,
         example = json!({"changes": [
            {"type": "shift", "id": "6f9619ff-8b86-4011-b42d-00c04fc964ff", "version": 2,
             "data": {"id": "6f9619ff-8b86-4011-b42d-00c04fc964ff", "kind": "raid", "status": "open"}},
            {"type": "encounter", "id": "0b7c4bc4-62d3-4c5e-9d0e-2f1f3c1c9a11", "evicted": true}
         ], "next_cursor": "MTIzfDQ1NnwxNzY0NDEwMDAwMDAwMDAw", "has_more": false})),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an outreach worker", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn pull(
    state: web::Data<AppState>,
    auth: Auth<OutreachWorkers>,
    query: Result<Query<PullQuery>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let Query(query) = query?;
    let unit = writer(&auth.principal)?.unit;
    let mut errors = faltlogg_domain::validation::Collector::default();
    let cursor = errors.take(query.cursor.as_deref().map(decode_cursor).transpose());
    let limit = errors.take(parse_limit(query.limit.as_deref()));
    let (cursor, limit) = errors.finish(cursor.zip(limit))?;
    let window = state.config.device_window;
    let pulled_at = now();
    let entry = auth.actor.entry(Action::List, "feed", None);
    let (page, reference_data) = state
        .audited_read(entry, move |conn| {
            let position = cursor.as_ref().map(|c| c.position).unwrap_or_default();
            let mut changes = match &cursor {
                Some(previous) => {
                    feed::evicted(conn, unit, previous.pulled_at - window, pulled_at - window)?
                }
                None => Vec::new(),
            };
            let page = feed::pull(conn, unit, position, pulled_at - window, limit)?;
            changes.extend(page.changes);
            let reference_data = if cursor.is_none() {
                Some((reference::units(conn)?, reference::municipalities(conn)?))
            } else {
                None
            };
            Ok((
                feed::FeedPage {
                    changes,
                    position: page.position,
                    has_more: page.has_more,
                },
                reference_data,
            ))
        })
        .await?;
    let mut changes = Vec::new();
    if let Some((units, municipalities)) = reference_data {
        changes.extend(units.into_iter().map(|unit| FeedChange {
            record_type: "unit",
            id: unit.code().to_owned(),
            version: None,
            voided: None,
            evicted: None,
            data: Some(to_json(UnitView::from(unit))),
        }));
        changes.extend(
            municipalities
                .into_iter()
                .map(|m| view_change(Change::Municipality(m))),
        );
    }
    changes.extend(page.changes.into_iter().map(view_change));
    Ok(HttpResponse::Ok().json(PullResponse {
        changes,
        next_cursor: encode_cursor(&PullCursor {
            position: page.position,
            pulled_at,
        }),
        has_more: page.has_more,
    }))
}
