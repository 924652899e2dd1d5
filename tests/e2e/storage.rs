//! Storage on both backends: migrations down and up, the seeded reference data, write
//! transactions, and unique keys as domain outcomes.

use chrono::NaiveDate;
use faltlogg_domain::municipality::{ConnectionPeriod, Home, MunicipalityCode};
use faltlogg_domain::unit::{ReferralTarget, Unit};
use faltlogg_persistence::{StoreError, dialect, reference};

use crate::helpers::{Db, TestDb};
use crate::on_both_backends;

on_both_backends!(
    migrations_run_down_and_up_again,
    concurrent_starts_migrate_once,
    reference_data_is_seeded_as_the_design_lists_it,
    a_failed_write_transaction_leaves_nothing,
    an_insert_from_before_the_report_columns_fails_on_postgres,
    an_encounter_s_unit_is_one_of_the_units_and_no_account_is_deleted,
    a_report_sees_one_snapshot_and_does_not_wait_for_a_write,
    writes_through_the_writer_each_commit_or_fail_alone,
    a_write_whose_transaction_does_not_commit_is_answered_so_and_leaves_nothing,
    a_write_that_panics_does_not_stop_the_writes_after_it,
    a_duplicate_key_is_a_domain_outcome,
    a_create_that_loses_the_race_for_its_id_is_answered_as_a_retry,
    an_update_retried_while_its_first_attempt_commits_is_answered_as_a_retry,
    a_batch_that_loses_the_race_for_one_id_is_answered_item_by_item,
    the_feed_does_not_wait_for_a_transaction_that_records_no_change,
    sealing_takes_short_transactions_and_seals_everything_waiting,
    a_group_s_inserts_and_the_sealer_s_update_are_prepared_once_per_connection,
    a_lookup_of_one_shift_is_planned_once_per_connection,
    the_feed_waits_for_a_change_that_commits_late,
    a_write_transaction_begins_holding_its_shared_locks,
);

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

async fn migrations_run_down_and_up_again(db: Db) {
    let test_db = TestDb::create(&db);
    let database = test_db.connect();
    let applied = database.migrate().unwrap();
    assert!(applied >= 1);
    assert_eq!(
        database.migrate().unwrap(),
        0,
        "a second run finds nothing to do"
    );

    let mut conn = database.get().unwrap();
    assert_eq!(dialect::revert_all_migrations(&mut conn).unwrap(), applied);
    assert!(reference::units(&mut conn).is_err(), "the tables are gone");
    drop(conn);

    assert_eq!(database.migrate().unwrap(), applied);
    let mut conn = database.get().unwrap();
    assert_eq!(reference::units(&mut conn).unwrap().len(), Unit::ALL.len());
    assert_eq!(reference::municipalities(&mut conn).unwrap().len(), 27);
}

async fn concurrent_starts_migrate_once(db: Db) {
    let test_db = TestDb::create(&db);
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let database = test_db.connect();
            std::thread::spawn(move || database.migrate())
        })
        .collect();
    let applied: Vec<usize> = starts
        .into_iter()
        .map(|start| start.join().unwrap().unwrap())
        .collect();
    assert_eq!(applied.iter().filter(|&&n| n > 0).count(), 1, "{applied:?}");
}

async fn reference_data_is_seeded_as_the_design_lists_it(db: Db) {
    let test_db = TestDb::create(&db);
    let database = test_db.connect();
    database.migrate().unwrap();
    let mut conn = database.get().unwrap();

    let mut units = reference::units(&mut conn).unwrap();
    units.sort();
    assert_eq!(units, Unit::ALL.to_vec());
    let mut targets = reference::referral_targets(&mut conn).unwrap();
    targets.sort();
    let mut expected = ReferralTarget::ALL.to_vec();
    expected.sort();
    assert_eq!(targets, expected);
    let homes = reference::special_homes(&mut conn).unwrap();
    assert_eq!(homes, ["abroad", "outside_county", "unknown"]);
    assert!(homes.iter().all(|h| Home::parse(h, None).is_ok()));

    let municipalities = reference::municipalities(&mut conn).unwrap();
    let stored: Vec<_> = municipalities.iter().map(|m| m.code).collect();
    assert_eq!(stored, MunicipalityCode::all().collect::<Vec<_>>());

    let connected_on = |name: &str, on: &str| {
        municipalities
            .iter()
            .find(|m| m.code.name() == name)
            .unwrap_or_else(|| panic!("{name} is missing"))
            .connected_on(day(on))
    };
    let connected = [
        "Ekerö",
        "Sigtuna",
        "Täby",
        "Haninge",
        "Sollentuna",
        "Upplands Väsby",
        "Järfälla",
        "Solna",
        "Vaxholm",
        "Nynäshamn",
        "Sundbyberg",
        "Värmdö",
        "Salem",
        "Södertälje",
        "Nacka",
        // The host of the county offer.
        "Stockholm",
    ];
    let not_connected = [
        "Botkyrka",
        "Nykvarn",
        "Gotland",
        "Tyresö",
        "Huddinge",
        "Upplands-Bro",
        "Lidingö",
        "Vallentuna",
        "Norrtälje",
        "Österåker",
        "Danderyd",
    ];
    assert_eq!(connected.len() + not_connected.len(), 27);
    for name in connected {
        assert!(
            connected_on(name, "2021-01-01"),
            "{name} connected from 2021"
        );
        assert!(!connected_on(name, "2020-12-31"), "{name} not before 2021");
        assert!(connected_on(name, "2026-11-29"), "{name} still connected");
    }
    for name in not_connected {
        assert!(!connected_on(name, "2026-11-29"), "{name} is not connected");
    }
}

async fn a_failed_write_transaction_leaves_nothing(db: Db) {
    let test_db = TestDb::create(&db);
    let database = test_db.connect();
    database.migrate().unwrap();
    let mut conn = database.get().unwrap();
    let botkyrka: MunicipalityCode = "0127".parse().unwrap();
    let period = ConnectionPeriod::new(day("2025-03-01"), None).unwrap();
    let now = chrono::Utc::now().naive_utc();

    let failed: Result<(), StoreError> = dialect::write_transaction(&mut conn, |conn| {
        reference::record_connection(conn, botkyrka, &period, now)?;
        Err(StoreError::Corrupt("a later step failed".into()))
    });
    assert!(failed.is_err());
    let botkyrka_now = |conn: &mut faltlogg_persistence::DbConnection| {
        reference::municipalities(conn)
            .unwrap()
            .into_iter()
            .find(|m| m.code == botkyrka)
            .unwrap()
    };
    assert!(
        botkyrka_now(&mut conn).connections.is_empty(),
        "rolled back"
    );

    dialect::write_transaction(&mut conn, |conn| {
        reference::record_connection(conn, botkyrka, &period, now)
    })
    .unwrap();
    assert!(botkyrka_now(&mut conn).connected_on(day("2025-03-01")));

    // A savepoint inside an open write transaction fails alone.
    let later = ConnectionPeriod::new(day("2026-01-01"), None).unwrap();
    dialect::write_transaction(&mut conn, |conn| {
        let inner: Result<(), StoreError> = dialect::write_transaction(conn, |conn| {
            reference::record_connection(conn, botkyrka, &period, now)
        });
        assert!(matches!(inner, Err(StoreError::Duplicate)));
        reference::record_connection(conn, botkyrka, &later, now)
    })
    .unwrap();
    assert_eq!(botkyrka_now(&mut conn).connections.len(), 2);
}

/// An instance still running the code from before migration 000010 or 000011 (a rolling
/// upgrade on PostgreSQL) inserts encounters without their shift's police flag or their
/// referral targets: that insert fails, and the phone's retry reaches a new instance,
/// instead of an encounter stored that a report would not count. One process owns an
/// SQLite file: there the columns keep their defaults.
async fn an_insert_from_before_the_report_columns_fails_on_postgres(db: Db) {
    use diesel::connection::SimpleConnection;
    let test_db = TestDb::create(&db);
    let database = test_db.connect();
    database.migrate().unwrap();
    let mut conn = database.get().unwrap();
    let mut insert = |extra_columns: &str, extra_values: &str| {
        conn.batch_execute(&raw_encounter(
            "e",
            "mika",
            "u",
            extra_columns,
            extra_values,
        ))
        .map_err(|error| error.to_string())
    };
    let before_police = insert("", "");
    let before_referrals = insert(", shift_with_police", ", true");
    let before_shift_start = insert(", shift_with_police, referral_targets", ", true, ''");
    match db {
        Db::Postgres(_) => {
            let error = before_police.unwrap_err();
            assert!(error.contains("shift_with_police"), "{error}");
            let error = before_referrals.unwrap_err();
            assert!(error.contains("referral_targets"), "{error}");
            let error = before_shift_start.unwrap_err();
            assert!(error.contains("shift_started_at"), "{error}");
        }
        // No default dropped: the inserts get as far as the missing shift.
        Db::Sqlite => {
            assert!(before_police.unwrap_err().contains("FOREIGN KEY"));
            assert!(before_referrals.unwrap_err().contains("FOREIGN KEY"));
            assert!(before_shift_start.unwrap_err().contains("FOREIGN KEY"));
        }
    }
}

/// An encounter's unit is one of the units, and an account is never deleted, so that no
/// encounter ever names a worker who is gone: on both backends, though on PostgreSQL an
/// encounter's unit and worker are not foreign keys (their checks locked rows shared by
/// every logging transaction; migration 000014).
async fn an_encounter_s_unit_is_one_of_the_units_and_no_account_is_deleted(db: Db) {
    use diesel::connection::SimpleConnection;
    let test_db = TestDb::create(&db);
    let database = test_db.connect();
    database.migrate().unwrap();
    let mut conn = database.get().unwrap();
    let account = |id: &str| {
        format!(
            "INSERT INTO users (id, username, username_key, role, unit_code, password_hash, \
             disabled, created_at, updated_at) VALUES ('{id}', '{id}', '{id}', \
             'outreach_worker', 'mika', 'x', false, '2026-11-30 03:00:00', \
             '2026-11-30 03:00:00')"
        )
    };
    // The shift is another's, so that on PostgreSQL only its encounters name the worker.
    for id in ["lead", "worker", "idle"] {
        conn.batch_execute(&account(id)).unwrap();
    }
    conn.batch_execute(
        "INSERT INTO shifts (id, kind, with_police, started_at, started_at_sent, status, \
         created_by, version, created_at, updated_at) VALUES ('s', 'raid', true, \
         '2026-11-30 03:00:00', '2026-11-30T04:00:00+01:00', 'open', 'lead', 1, \
         '2026-11-30 03:00:00', '2026-11-30 03:00:00')",
    )
    .unwrap();
    let mut log = |id: &str, unit: &str| {
        conn.batch_execute(&raw_encounter(
            id,
            unit,
            "worker",
            ", shift_with_police, referral_targets, shift_started_at",
            ", true, '', '2026-11-30 03:00:00'",
        ))
        .map_err(|error| error.to_string())
    };
    // Every unit the code knows is one the database takes.
    for unit in Unit::ALL {
        log(unit.code(), unit.code()).unwrap();
    }
    let error = log("elsewhere", "elsewhere").unwrap_err();
    match db {
        Db::Postgres(_) => assert!(error.contains("unit_code"), "{error}"),
        Db::Sqlite => assert!(error.contains("FOREIGN KEY"), "{error}"),
    }

    for id in ["worker", "idle"] {
        let error = conn
            .batch_execute(&format!("DELETE FROM users WHERE id = '{id}'"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("never deleted"), "{id}: {error}");
    }
}

/// An encounter's row in shift `s` as SQL, past the code that writes it: the columns of
/// migration 000003 and `extra_columns` (each after a comma) with `extra_values`.
fn raw_encounter(
    id: &str,
    unit: &str,
    logged_by: &str,
    extra_columns: &str,
    extra_values: &str,
) -> String {
    format!(
        "INSERT INTO encounters (id, shift_id, unit_code, logged_by, occurred_at, \
         occurred_at_sent, role, age_group, age_estimated, gender, home_municipality, \
         trafficking_suspected, self_harm, support_offered, late_entry, \
         lacks_safeguarding, version, created_at, updated_at{extra_columns}) \
         VALUES ('{id}', 's', '{unit}', '{logged_by}', '2026-11-30 03:00:00', \
         '2026-11-30T04:00:00+01:00', 'selling', 'adult', false, 'female', '0180', false, \
         false, true, false, false, 1, '2026-11-30 03:00:00', '2026-11-30 03:00:00'\
         {extra_values})"
    )
}

/// A report reads one snapshot from its first query on, and a write that begins, holds
/// the write turn and commits meanwhile neither waits for it nor shows in it. On
/// PostgreSQL a read cannot write.
async fn a_report_sees_one_snapshot_and_does_not_wait_for_a_write(db: Db) {
    let test_db = TestDb::create(&db);
    let database = test_db.connect();
    database.migrate().unwrap();
    let mut reader = database.get().unwrap();
    let mut other = database.get().unwrap();
    let (before, after) = dialect::read_transaction(&mut reader, |conn| {
        faltlogg_persistence::reports::begin_report(conn)?;
        let before = botkyrka_seen(conn)?;
        connect_botkyrka(&mut other, day("2025-03-01"))?;
        Ok::<_, StoreError>((before, botkyrka_seen(conn)?))
    })
    .unwrap();
    assert_eq!((before, after), (vec![], vec![]), "one snapshot");
    assert_eq!(botkyrka_since(&test_db), [day("2025-03-01")], "committed");

    let wrote = dialect::read_transaction(&mut reader, |conn| {
        connect_botkyrka(conn, day("2026-01-01"))
    });
    if let Db::Postgres(_) = db {
        assert!(wrote.is_err(), "a read-only transaction wrote");
        assert_eq!(botkyrka_since(&test_db), [day("2025-03-01")]);
    }
}

/// Botkyrka's connection periods, by their first day, as `conn` sees them.
fn botkyrka_seen(
    conn: &mut faltlogg_persistence::DbConnection,
) -> Result<Vec<NaiveDate>, StoreError> {
    let botkyrka: MunicipalityCode = "0127".parse().unwrap();
    Ok(reference::municipalities(conn)?
        .into_iter()
        .find(|m| m.code == botkyrka)
        .unwrap()
        .connections
        .iter()
        .map(|c| c.since())
        .collect())
}

/// Botkyrka's committed connection periods, by their first day, as a connection of its
/// own sees them.
fn botkyrka_since(test_db: &TestDb) -> Vec<NaiveDate> {
    botkyrka_seen(&mut test_db.connect().get().unwrap()).unwrap()
}

/// Records that Botkyrka was connected from `since`, in a write transaction of its own.
fn connect_botkyrka(
    conn: &mut faltlogg_persistence::DbConnection,
    since: NaiveDate,
) -> Result<(), StoreError> {
    let period = ConnectionPeriod::new(since, None).unwrap();
    dialect::write_transaction(conn, |conn| {
        reference::record_connection(
            conn,
            "0127".parse().unwrap(),
            &period,
            chrono::Utc::now().naive_utc(),
        )
    })
}

/// Inside a write: a row whose foreign key only the commit checks (on SQLite, which can
/// defer every check), so that the transaction holding it cannot commit. PostgreSQL's
/// keys are not deferrable: there the statement itself fails.
fn break_the_commit(conn: &mut faltlogg_persistence::DbConnection) -> Result<(), StoreError> {
    use diesel::connection::SimpleConnection;
    if let faltlogg_persistence::DbConnection::Sqlite(_) = conn {
        conn.batch_execute("PRAGMA defer_foreign_keys = ON")?;
    }
    conn.batch_execute(
        "INSERT INTO shift_units (shift_id, unit_code) VALUES ('no such shift', 'mika')",
    )?;
    Ok(())
}

/// Writes from `n` threads at once, each through the writer in one write transaction:
/// Botkyrka connected from `first` plus the thread's number of days, then `then`. Each
/// day with its answer.
fn write_at_once(
    database: &faltlogg_persistence::Database,
    first: NaiveDate,
    n: u64,
    then: fn(&mut faltlogg_persistence::DbConnection, u64) -> Result<(), StoreError>,
) -> Vec<(NaiveDate, Result<(), StoreError>)> {
    let writers: Vec<_> = (0..n)
        .map(|i| {
            let database = database.clone();
            std::thread::spawn(move || {
                let since = first + chrono::Days::new(i);
                let answer = database.with_writer(move |conn| {
                    dialect::write_transaction(conn, |conn| {
                        connect_botkyrka(conn, since)?;
                        then(conn, i)
                    })
                });
                (since, answer)
            })
        })
        .collect();
    writers.into_iter().map(|w| w.join().unwrap()).collect()
}

/// Many requests write at once (on SQLite they share the writer's transactions): each is
/// answered with its own outcome, and exactly the writes answered as done are stored.
async fn writes_through_the_writer_each_commit_or_fail_alone(db: Db) {
    let test_db = TestDb::create(&db);
    let database = test_db.connect();
    database.migrate().unwrap();
    let first = day("2030-01-01");
    let answers = write_at_once(&database, first, 24, |_, i| {
        if i % 4 == 0 {
            return Err(StoreError::Corrupt("a later step failed".into()));
        }
        Ok(())
    });
    let mut done = Vec::new();
    for (since, answer) in answers {
        match answer {
            Ok(()) => done.push(since),
            Err(StoreError::Corrupt(_)) => {}
            Err(other) => panic!("{since}: {other:?}"),
        }
    }
    assert_eq!(done.len(), 18);
    let mut stored: Vec<NaiveDate> = botkyrka_since(&test_db)
        .into_iter()
        .filter(|d| *d >= first)
        .collect();
    stored.sort();
    done.sort();
    assert_eq!(stored, done, "exactly the writes answered as done");
}

/// A write that cannot commit is answered with an error, nothing of it stays, and writes
/// after it go on. Beside it, every write answered as done is stored and every one answered
/// otherwise is not: on SQLite those that shared its transaction are answered "not
/// committed", never "done" before the commit that failed.
async fn a_write_whose_transaction_does_not_commit_is_answered_so_and_leaves_nothing(db: Db) {
    let test_db = TestDb::create(&db);
    let database = test_db.connect();
    database.migrate().unwrap();
    let broken = day("2031-01-01");
    let answer = database.with_writer(move |conn| {
        dialect::write_transaction(conn, |conn| {
            connect_botkyrka(conn, broken)?;
            break_the_commit(conn)
        })
    });
    assert!(answer.is_err(), "{answer:?}");
    assert!(
        !botkyrka_since(&test_db).contains(&broken),
        "nothing of it stays"
    );

    let answers = write_at_once(&database, day("2032-01-01"), 16, |conn, i| {
        if i == 5 {
            break_the_commit(conn)?;
        }
        Ok(())
    });
    let stored = botkyrka_since(&test_db);
    for (since, answer) in &answers {
        assert_eq!(
            stored.contains(since),
            answer.is_ok(),
            "{since}: {answer:?}"
        );
    }
    assert!(
        answers[5].1.is_err(),
        "the breaking write is answered with an error"
    );

    let after = day("2033-01-01");
    database
        .with_writer(move |conn| connect_botkyrka(conn, after))
        .unwrap();
    assert!(botkyrka_since(&test_db).contains(&after), "writes go on");
}

/// A bug that panics half-way through a write fails that write only: later writes are
/// stored (on SQLite the writer's thread survives it and starts on a clean connection; on
/// PostgreSQL the pool drops the connection left inside the transaction, rather than hand
/// it to the next request, whose commit would then only release a savepoint).
async fn a_write_that_panics_does_not_stop_the_writes_after_it(db: Db) {
    let test_db = TestDb::create(&db);
    let database = test_db.connect();
    database.migrate().unwrap();
    let half_way = day("2034-01-01");
    let panicking = database.clone();
    let answer = std::thread::spawn(move || {
        panicking.with_writer(move |conn| {
            dialect::write_transaction(conn, |conn| -> Result<(), StoreError> {
                connect_botkyrka(conn, half_way)?;
                panic!("a bug half-way through a write");
            })
        })
    })
    .join();
    // On SQLite the caller is told it did not commit; on PostgreSQL the write runs on the
    // caller's thread, and the panic is the caller's.
    assert!(
        matches!(answer, Err(_) | Ok(Err(StoreError::NotCommitted))),
        "{answer:?}"
    );

    let after = day("2035-01-01");
    database
        .with_writer(move |conn| connect_botkyrka(conn, after))
        .unwrap();
    let stored = botkyrka_since(&test_db);
    assert!(stored.contains(&after), "writes go on");
    assert!(
        !stored.contains(&half_way),
        "nothing of the panicked write stays"
    );
}

async fn a_duplicate_key_is_a_domain_outcome(db: Db) {
    let test_db = TestDb::create(&db);
    let database = test_db.connect();
    database.migrate().unwrap();
    let mut conn = database.get().unwrap();
    let solna: MunicipalityCode = "0184".parse().unwrap();
    let seeded = ConnectionPeriod::new(day("2021-01-01"), None).unwrap();
    let result =
        reference::record_connection(&mut conn, solna, &seeded, chrono::Utc::now().naive_utc());
    assert!(matches!(result, Err(StoreError::Duplicate)), "{result:?}");
}

/// Two phones create one encounter at once: the second's INSERT waits on the first's
/// uncommitted row and then hits the unique key. It must end as a retry, not a failure.
/// A database with one outreach worker of Mika and one open raid of theirs, and an
/// adult encounter ready to be logged in it.
struct Field {
    test_db: TestDb,
    database: faltlogg_persistence::Database,
    writer: faltlogg_persistence::write::Writer,
    draft: faltlogg_domain::encounter::EncounterDraft,
}

fn field(db: &Db) -> Field {
    use faltlogg_domain::account::{Assignment, Role, Username};
    use faltlogg_domain::encounter::{
        AgeGroup, Context, EncounterDraft, EncounterFields, Gender, PersonRole,
    };
    use faltlogg_domain::ids::ShiftId;
    use faltlogg_domain::shift::{ShiftDraft, ShiftFields, ShiftKind};
    use faltlogg_domain::time::DeviceTime;
    use faltlogg_persistence::write::Writer;
    use faltlogg_persistence::{accounts, shifts};

    let test_db = TestDb::create(db);
    let database = test_db.connect();
    database.migrate().unwrap();
    let now = chrono::Utc::now();
    let user = accounts::insert_user(
        &mut database.get().unwrap(),
        &Username::parse("mika1").unwrap(),
        Assignment::new(Role::OutreachWorker, Some(Unit::Mika)).unwrap(),
        "not-a-hash",
        now,
    )
    .unwrap();
    let writer = Writer {
        user_id: user.id,
        unit: Unit::Mika,
    };
    let started = DeviceTime::parse("started_at", "2026-11-28T20:00:00+01:00").unwrap();
    let shift = ShiftDraft::new(ShiftFields {
        kind: ShiftKind::Raid,
        with_police: true,
        police_operation: None,
        area: None,
        started_at: started,
        ended_at: None,
        units: vec![Unit::Mika],
    })
    .unwrap();
    let shift_id = ShiftId::new_random();
    shifts::put(
        &mut database.get().unwrap(),
        &writer,
        shift_id,
        &shift,
        None,
        None,
        now,
    )
    .unwrap();
    let draft = EncounterDraft::new(
        EncounterFields {
            shift_id,
            occurred_at: started,
            role: PersonRole::Selling,
            age_group: AgeGroup::Adult,
            age_years: None,
            age_estimated: false,
            gender: Gender::Female,
            home: Home::Unknown,
            pseudonym: None,
            trafficking_suspected: false,
            self_harm: false,
            support_offered: true,
            support_response: None,
            referrals: vec![],
            guardian_contacted_at: None,
            guardian_not_contacted_reason: None,
            concern_report: None,
            notes: None,
        },
        &Context {
            now,
            notes_enabled: true,
        },
    )
    .unwrap();
    Field {
        test_db,
        database,
        writer,
        draft,
    }
}

/// Creates an encounter in a transaction that stays open for half a second after
/// `started` is sent: another writer meets the create uncommitted.
fn create_and_hold(
    conn: &mut faltlogg_persistence::DbConnection,
    writer: &faltlogg_persistence::write::Writer,
    id: faltlogg_domain::ids::EncounterId,
    draft: &faltlogg_domain::encounter::EncounterDraft,
    started: &std::sync::mpsc::Sender<()>,
) {
    dialect::write_transaction(conn, |conn| {
        let created = faltlogg_persistence::encounters::put(
            conn,
            writer,
            id,
            draft,
            None,
            None,
            chrono::Utc::now(),
        )
        .unwrap();
        assert_eq!(created.0, faltlogg_domain::write::Applied::Created);
        started.send(()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
        Ok::<_, StoreError>(())
    })
    .unwrap();
}

/// Runs `second` on a connection of its own once the create of `id` has started and
/// while it is held uncommitted (see [`create_and_hold`]); its answer.
fn race_a_held_create<T: Send + 'static>(
    field: &Field,
    id: faltlogg_domain::ids::EncounterId,
    second: impl FnOnce(&mut faltlogg_persistence::DbConnection) -> T + Send + 'static,
) -> T {
    let mut first = field.database.get().unwrap();
    let (started, wait_for_first) = std::sync::mpsc::channel();
    let database = field.test_db.connect();
    let second = std::thread::spawn(move || {
        wait_for_first.recv().unwrap();
        second(&mut database.get().unwrap())
    });
    create_and_hold(&mut first, &field.writer, id, &field.draft, &started);
    second.join().unwrap()
}

async fn a_create_that_loses_the_race_for_its_id_is_answered_as_a_retry(db: Db) {
    let field = field(&db);
    use faltlogg_domain::ids::EncounterId;
    use faltlogg_domain::write::Applied;
    use faltlogg_persistence::encounters;
    let id = EncounterId::new_random();
    let (writer, draft) = (field.writer, field.draft.clone());
    let second = race_a_held_create(&field, id, move |conn| {
        encounters::put(conn, &writer, id, &draft, None, None, chrono::Utc::now())
            .map(|(applied, _)| applied)
            .map_err(|e| e.to_string())
    });
    assert_eq!(second, Ok(Applied::Unchanged));
}

/// A phone that timed out and sent its update again while the first attempt was still
/// being written: the retry waits for the first, then finds its own content stored and is
/// answered as a retry, not as a conflict with itself (on PostgreSQL it had read the
/// version before, and its update then matched no row).
async fn an_update_retried_while_its_first_attempt_commits_is_answered_as_a_retry(db: Db) {
    use faltlogg_domain::encounter::{Context, EncounterDraft};
    use faltlogg_domain::ids::EncounterId;
    use faltlogg_domain::write::Applied;
    use faltlogg_persistence::encounters;
    let field = field(&db);
    let (writer, draft) = (field.writer, field.draft.clone());
    let id = EncounterId::new_random();
    let now = chrono::Utc::now();
    let (_, created) = encounters::put(
        &mut field.database.get().unwrap(),
        &writer,
        id,
        &draft,
        None,
        None,
        now,
    )
    .unwrap();
    let mut fields = draft.fields().clone();
    fields.support_offered = !fields.support_offered;
    let changed = EncounterDraft::new(
        fields,
        &Context {
            now,
            notes_enabled: true,
        },
    )
    .unwrap();
    let version = Some(created.version);

    let (started, wait_for_first) = std::sync::mpsc::channel();
    let retry = {
        let database = field.test_db.connect();
        let changed = changed.clone();
        std::thread::spawn(move || {
            wait_for_first.recv().unwrap();
            encounters::put(
                &mut database.get().unwrap(),
                &writer,
                id,
                &changed,
                version,
                None,
                now,
            )
            .map(|(applied, stored)| (applied, stored.version))
            .map_err(|e| e.to_string())
        })
    };
    let mut first = field.database.get().unwrap();
    dialect::write_transaction(&mut first, |conn| {
        let (applied, _) =
            encounters::put(conn, &writer, id, &changed, version, None, now).unwrap();
        assert_eq!(applied, Applied::Updated);
        started.send(()).unwrap();
        // Held open, so that the retry meets the update uncommitted.
        std::thread::sleep(std::time::Duration::from_millis(500));
        Ok::<_, StoreError>(())
    })
    .unwrap();
    assert_eq!(
        retry.join().unwrap(),
        Ok((Applied::Unchanged, created.version + 1))
    );
}

/// A batch's new encounters are inserted together; when another request created one of
/// them meanwhile, the batch takes its insert back and answers each item as PUT would.
async fn a_batch_that_loses_the_race_for_one_id_is_answered_item_by_item(db: Db) {
    let field = field(&db);
    use faltlogg_domain::ids::EncounterId;
    use faltlogg_domain::write::Applied;
    use faltlogg_persistence::encounters::{self, Put};
    let (taken, free) = (EncounterId::new_random(), EncounterId::new_random());
    let (writer, draft) = (field.writer, field.draft.clone());
    let second = race_a_held_create(&field, taken, move |conn| {
        let puts = [taken, free].map(|id| Put {
            writer,
            id,
            draft: &draft,
            if_match: None,
            amendment_reason: None,
        });
        dialect::write_transaction(conn, |conn| {
            encounters::put_many(conn, &puts, &Default::default(), chrono::Utc::now())
        })
        .unwrap()
        .into_iter()
        .map(|outcome| {
            outcome
                .map(|(applied, _)| applied)
                .map_err(|e| e.to_string())
        })
        .collect::<Vec<_>>()
    });
    assert_eq!(second, [Ok(Applied::Unchanged), Ok(Applied::Created)]);
    let mut conn = field.database.get().unwrap();
    for id in [taken, free] {
        assert!(encounters::get(&mut conn, id).unwrap().is_some());
    }
}

/// The audit sealer holds a transaction id for each batch of entries it seals: a feed
/// reader that waited for it as for a writer of changes stopped short under load.
async fn the_feed_does_not_wait_for_a_transaction_that_records_no_change(db: Db) {
    use diesel::connection::SimpleConnection;
    use faltlogg_domain::ids::EncounterId;
    use faltlogg_persistence::encounters;
    use faltlogg_persistence::feed::{self, Change, FeedPosition};

    let Field {
        test_db: _kept,
        database,
        writer,
        draft,
    } = field(&db);
    let id = EncounterId::new_random();
    let mut sealer = database.get().unwrap();
    let pulled = dialect::write_transaction(&mut sealer, |conn| {
        dialect::writes_no_changes(conn)?;
        if matches!(db, Db::Postgres(_)) {
            // Takes a transaction id, as the sealer's first update does; SQLite has none,
            // and its second writer would wait for the first.
            conn.batch_execute("SELECT txid_current()")?;
        }
        let mut conn = database.get().unwrap();
        if matches!(db, Db::Postgres(_)) {
            encounters::put(
                &mut conn,
                &writer,
                id,
                &draft,
                None,
                None,
                chrono::Utc::now(),
            )
            .unwrap();
        }
        let window_start = chrono::Utc::now() - chrono::Duration::days(2);
        Ok::<_, StoreError>(
            feed::pull(
                &mut conn,
                Unit::Mika,
                FeedPosition::default(),
                window_start,
                100,
            )
            .unwrap()
            .changes,
        )
    })
    .unwrap();
    if matches!(db, Db::Postgres(_)) {
        assert!(
            pulled
                .iter()
                .any(|c| matches!(c, Change::Encounter(e) if e.id == id)),
            "the change waited behind the sealer's transaction"
        );
    }
}

/// The sealer works in short transactions (a feed reader on PostgreSQL, every writer on
/// SQLite, waits for an open one), but one run still seals all that waits.
async fn sealing_takes_short_transactions_and_seals_everything_waiting(db: Db) {
    use faltlogg_persistence::audit;

    let Field {
        test_db: _kept,
        database,
        ..
    } = field(&db);
    let mut conn = database.get().unwrap();
    let entries = reads(600);
    audit::append_many(&mut conn, &entries).unwrap();
    let waiting = audit::unsealed(&mut conn).unwrap();
    assert!(waiting >= 600, "{waiting}");
    let sealed = audit::seal(&mut conn).unwrap();
    assert_eq!(u64::try_from(sealed).unwrap(), waiting);
    assert_eq!(audit::unsealed(&mut conn).unwrap(), 0);
    let verification = audit::verify(&mut conn).unwrap();
    assert_eq!(verification.unsealed, 0);
    assert_eq!(verification.first_broken, None);
    if let Db::Postgres(_) = db {
        // A seal sets only the hashes, which no index holds, and the page has room for
        // the sealed version: PostgreSQL updates the entry in place (HOT), not as a new
        // version with an entry in every index.
        let hot = hot_updates(&mut conn, "audit_log");
        assert!(hot * 10 >= sealed * 9, "{hot} of {sealed} in place");
    }

    // Entries sealed before the chain's end had a row of its own (migration 000013) are
    // where the chain goes on from.
    let reverted = dialect::revert_migrations_through(&mut conn, "000013").unwrap();
    audit::append_many(&mut conn, &reads(10)).unwrap();
    drop(conn);
    assert_eq!(database.migrate().unwrap(), reverted);
    let mut conn = database.get().unwrap();
    assert_eq!(audit::unsealed(&mut conn).unwrap(), 10);
    assert_eq!(audit::seal(&mut conn).unwrap(), 10);
    let verification = audit::verify(&mut conn).unwrap();
    assert_eq!(verification.sealed, u64::try_from(sealed).unwrap() + 10);
    assert_eq!(verification.unsealed, 0);
    assert_eq!(verification.first_broken, None);
}

/// How many of the table's rows PostgreSQL has updated in place (HOT), as its statistics
/// say once this connection's are sent.
fn hot_updates(conn: &mut faltlogg_persistence::DbConnection, table: &str) -> usize {
    use diesel::RunQueryDsl;
    use diesel::connection::SimpleConnection;
    use diesel::sql_types::BigInt;
    conn.batch_execute("SELECT pg_stat_force_next_flush()")
        .unwrap();
    let hot: i64 = diesel::select(diesel::dsl::sql::<BigInt>(&format!(
        "pg_stat_get_tuples_hot_updated('{table}'::regclass)"
    )))
    .get_result(conn)
    .unwrap();
    usize::try_from(hot).unwrap()
}

/// Audit entries of `count` reads.
fn reads(count: usize) -> Vec<faltlogg_domain::audit::Entry> {
    (0..count)
        .map(|n| faltlogg_domain::audit::Entry {
            at: chrono::Utc::now(),
            user_id: None,
            username: None,
            role: None,
            unit: None,
            session_id: None,
            action: faltlogg_domain::audit::Action::Read,
            record_type: Some("encounter".into()),
            record_id: Some(format!("{n}")),
            request_id: None,
            outcome: "ok".into(),
        })
        .collect()
}

/// diesel prepares every multi-row INSERT and every UPDATE anew, so a group of PUTs and
/// the sealer (one UPDATE per entry) were parsed and planned each time on PostgreSQL. The
/// group's inserts (up to 16 rows; the encounters with their change-feed rows in one
/// statement) and the sealer's update are prepared once per connection: PostgreSQL lists them among the connection's prepared statements,
/// once each however often they run. SQLite prepares in-process: there the same writes
/// only have to work.
async fn a_group_s_inserts_and_the_sealer_s_update_are_prepared_once_per_connection(db: Db) {
    use diesel::RunQueryDsl;
    use faltlogg_domain::ids::EncounterId;
    use faltlogg_persistence::audit;
    use faltlogg_persistence::encounters::{self, Put};

    let Field {
        test_db: _kept,
        database,
        writer,
        draft,
    } = field(&db);
    let mut conn = database.get().unwrap();
    for rows in [3, 3, 5, 3, 40] {
        audit::append_many(&mut conn, &reads(rows)).unwrap();
    }
    // Two groups of two, then two PUTs alone.
    for size in [2, 2, 1, 1] {
        let ids: Vec<EncounterId> = (0..size).map(|_| EncounterId::new_random()).collect();
        let puts: Vec<Put<'_>> = ids
            .iter()
            .map(|&id| Put {
                writer,
                id,
                draft: &draft,
                if_match: None,
                amendment_reason: None,
            })
            .collect();
        let written = dialect::write_transaction(&mut conn, |conn| {
            encounters::put_many(conn, &puts, &Default::default(), chrono::Utc::now())
        })
        .unwrap();
        assert!(written.iter().all(Result::is_ok));
    }
    let changes: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM changes WHERE record_type = 'encounter')",
    ))
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(changes, 6, "one change-feed row for each new encounter");
    assert!(audit::seal(&mut conn).unwrap() >= 54);
    assert_eq!(audit::verify(&mut conn).unwrap().unsealed, 0);
    if matches!(db, Db::Postgres(_)) {
        let mut prepared = |like: &str| prepared_statements(&mut conn, "count(*)", like);
        // One for 3 rows and one for 5; 40 rows are prepared each time.
        assert_eq!(prepared(r#"INSERT INTO "audit_log"%), (%"#), 2);
        // One for the two groups of two, with their change-feed rows in the same statement.
        assert_eq!(
            prepared(r#"WITH inserted AS (INSERT INTO "encounters"%), (%INSERT INTO changes%"#),
            1
        );
        assert_eq!(prepared(r#"INSERT INTO "changes"%), (%"#), 0);
        // And one for the PUTs alone.
        assert_eq!(
            prepared(r#"WITH inserted AS (INSERT INTO "encounters"%"#),
            2
        );
        assert_eq!(prepared(r#"UPDATE "audit_log" SET "prev_hash"%"#), 1);
    }
}

/// A group of PUTs looks up its shifts. PostgreSQL prices a generic plan's `= ANY($1)` at
/// ten elements, so a lookup of one (one raid) was planned anew at every execution; asked
/// as `= $1` it takes the generic plan after five. Same answers on both backends, for one
/// id and for two.
async fn a_lookup_of_one_shift_is_planned_once_per_connection(db: Db) {
    use faltlogg_domain::ids::ShiftId;
    use faltlogg_persistence::shifts;

    let Field {
        test_db: _kept,
        database,
        writer: _,
        draft,
    } = field(&db);
    let mut conn = database.get().unwrap();
    let shift = draft.shift_id().to_string();
    for _ in 0..8 {
        let found = shifts::get_many(&mut conn, std::slice::from_ref(&shift)).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, draft.shift_id());
    }
    let unknown = ShiftId::new_random().to_string();
    let found = shifts::get_many(&mut conn, &[unknown, shift]).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, draft.shift_id());
    if matches!(db, Db::Postgres(_)) {
        let generic = prepared_statements(
            &mut conn,
            "sum(generic_plans)::bigint",
            r#"%FROM ("shifts" INNER JOIN "shift_units"%"#,
        );
        assert!(generic >= 3, "{generic} generic plans");
    }
}

/// `aggregate` (`count(*)`, a sum) over this PostgreSQL connection's prepared statements
/// whose text is `LIKE` the pattern; 0 when none is.
fn prepared_statements(
    conn: &mut faltlogg_persistence::DbConnection,
    aggregate: &str,
    like: &str,
) -> i64 {
    use diesel::RunQueryDsl;
    diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
        "(SELECT coalesce({aggregate}, 0) FROM pg_prepared_statements WHERE statement LIKE '{like}')"
    )))
    .get_result(conn)
    .unwrap()
}

/// On PostgreSQL a transaction holding an earlier sequence number can commit after a
/// later one. A reader must not pass the first while it is uncommitted, or it never sees it.
async fn the_feed_waits_for_a_change_that_commits_late(db: Db) {
    use faltlogg_domain::ids::EncounterId;
    use faltlogg_persistence::encounters;
    use faltlogg_persistence::feed::{self, Change, FeedPosition};

    let Field {
        test_db,
        database,
        writer,
        draft,
    } = field(&db);
    let window_start = chrono::Utc::now() - chrono::Duration::days(2);
    let pulled = |position: FeedPosition| {
        let page = feed::pull(
            &mut database.get().unwrap(),
            Unit::Mika,
            position,
            window_start,
            100,
        )
        .unwrap();
        let ids: Vec<EncounterId> = page
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::Encounter(e) => Some(e.id),
                _ => None,
            })
            .collect();
        (ids, page.position)
    };
    let (_, start) = pulled(FeedPosition::default());
    let (early, late) = (EncounterId::new_random(), EncounterId::new_random());

    let mut first = database.get().unwrap();
    let (numbered, go_on) = std::sync::mpsc::channel();
    let (committed, wait) = std::sync::mpsc::channel();
    let later = {
        let database = test_db.connect();
        let draft = draft.clone();
        std::thread::spawn(move || {
            go_on.recv().unwrap();
            let mut conn = database.get().unwrap();
            encounters::put(
                &mut conn,
                &writer,
                late,
                &draft,
                None,
                None,
                chrono::Utc::now(),
            )
            .unwrap();
            committed.send(()).unwrap();
        })
    };
    let mut seen = Vec::new();
    let mut position = start;
    // The early change takes its number first and commits last.
    dialect::write_transaction(&mut first, |conn| {
        encounters::put(conn, &writer, early, &draft, None, None, chrono::Utc::now()).unwrap();
        numbered.send(()).unwrap();
        // On SQLite the later writer waits for this transaction; on PostgreSQL it commits now.
        if matches!(db, Db::Postgres(_)) {
            wait.recv().unwrap();
            let (ids, next) = pulled(position);
            seen.extend(ids);
            position = next;
        }
        Ok::<_, StoreError>(())
    })
    .unwrap();
    later.join().unwrap();
    let (ids, _) = pulled(position);
    seen.extend(ids);
    seen.sort();
    let mut both = vec![early, late];
    both.sort();
    assert_eq!(seen, both, "the reader saw every change exactly once");
}

/// A group of encounter writes begins its transaction holding its shifts' shared locks,
/// taken with the `BEGIN` on PostgreSQL: a change to one of those shifts (an exclusive
/// lock) waits until the group commits, a key with a quote in it is one key like any
/// other, and a `BEGIN` whose locks fail leaves the connection outside a transaction.
async fn a_write_transaction_begins_holding_its_shared_locks(db: Db) {
    use diesel::RunQueryDsl;
    use diesel::connection::SimpleConnection;
    use diesel::sql_types::Bool;

    let test_db = TestDb::create(&db);
    let database = test_db.connect();
    database.migrate().unwrap();
    let mut conn = database.get().unwrap();
    let mut other = database.get().unwrap();
    let keys = ["a".to_owned(), "it's".to_owned(), "a".to_owned()];
    let free = |conn: &mut faltlogg_persistence::DbConnection, key: &str| -> bool {
        diesel::select(diesel::dsl::sql::<Bool>(&format!(
            "pg_try_advisory_xact_lock(hashtextextended('{}', 0))",
            key.replace('\'', "''")
        )))
        .get_result(conn)
        .unwrap()
    };
    let Db::Postgres(_) = db else {
        // SQLite's one writer needs no record locks: the transaction runs and commits.
        let ran = dialect::write_transaction_sharing(&mut conn, "shift", &keys, |_, _| {
            Ok::<_, StoreError>(true)
        });
        assert!(ran.unwrap());
        return;
    };
    dialect::write_transaction_sharing(&mut conn, "shift", &keys, |_, _| {
        assert!(!free(&mut other, "shift:a"));
        assert!(!free(&mut other, "shift:it's"));
        assert!(free(&mut other, "shift:b"));
        assert!(free(&mut other, "a"), "the kind is part of the key");
        Ok::<_, StoreError>(())
    })
    .unwrap();
    assert!(free(&mut other, "shift:a"), "released at commit");

    // Another transaction holds "shift:a" exclusively; ours gives up waiting for it.
    other
        .batch_execute("BEGIN; SELECT pg_advisory_xact_lock(hashtextextended('shift:a', 0))")
        .unwrap();
    conn.batch_execute("SET lock_timeout = '50ms'").unwrap();
    let failed = dialect::write_transaction_sharing(&mut conn, "shift", &keys, |_, _| {
        Ok::<_, StoreError>(())
    });
    assert!(failed.is_err());
    other.batch_execute("ROLLBACK").unwrap();
    // Outside a transaction: a write transaction begins and commits as usual.
    dialect::write_transaction_sharing(&mut conn, "shift", &keys, |_, _| Ok::<_, StoreError>(()))
        .unwrap();
    assert!(free(&mut other, "shift:a"));
}
