//! The tables, in types both backends share: ids as text, times as UTC `Timestamp`,
//! calendar dates as `YYYY-MM-DD` text.

diesel::table! {
    units (code) {
        code -> Text,
        name -> Text,
    }
}

diesel::table! {
    referral_targets (code) {
        code -> Text,
        name -> Text,
        adults_only -> Bool,
        unit_code -> Nullable<Text>,
    }
}

diesel::table! {
    municipalities (code) {
        code -> Text,
        name -> Text,
        in_county -> Bool,
    }
}

diesel::table! {
    special_homes (code) {
        code -> Text,
        name -> Text,
    }
}

diesel::table! {
    municipality_connections (municipality_code, connected_since) {
        municipality_code -> Text,
        connected_since -> Text,
        connected_until -> Nullable<Text>,
        recorded_at -> Timestamp,
    }
}

diesel::joinable!(municipality_connections -> municipalities (municipality_code));
diesel::joinable!(referral_targets -> units (unit_code));

diesel::allow_tables_to_appear_in_same_query!(
    units,
    referral_targets,
    municipalities,
    special_homes,
    municipality_connections,
);

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        username_key -> Text,
        role -> Text,
        unit_code -> Nullable<Text>,
        password_hash -> Text,
        disabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        device_name -> Text,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Text,
        issued_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Text,
        client_address -> Text,
        account_key -> Text,
        at -> Timestamp,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::allow_tables_to_appear_in_same_query!(users, sessions, refresh_tokens, units);

diesel::table! {
    shifts (id) {
        id -> Text,
        kind -> Text,
        with_police -> Bool,
        police_operation -> Nullable<Text>,
        area -> Nullable<Text>,
        started_at -> Timestamp,
        started_at_sent -> Text,
        ended_at_sent -> Nullable<Text>,
        status -> Text,
        created_by -> Text,
        closed_at -> Nullable<Timestamp>,
        closed_by -> Nullable<Text>,
        reviewed_at -> Nullable<Timestamp>,
        reviewed_by -> Nullable<Text>,
        review_comment -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    shift_units (shift_id, unit_code) {
        shift_id -> Text,
        unit_code -> Text,
    }
}

diesel::table! {
    encounters (id) {
        id -> Text,
        shift_id -> Text,
        unit_code -> Text,
        logged_by -> Text,
        occurred_at -> Timestamp,
        occurred_at_sent -> Text,
        role -> Text,
        age_group -> Text,
        age_years -> Nullable<Integer>,
        age_estimated -> Bool,
        gender -> Text,
        home_municipality -> Text,
        home_country -> Nullable<Text>,
        pseudonym -> Nullable<Text>,
        trafficking_suspected -> Bool,
        self_harm -> Bool,
        support_offered -> Bool,
        support_response -> Nullable<Text>,
        guardian_contacted_at_sent -> Nullable<Text>,
        guardian_not_contacted_reason -> Nullable<Text>,
        concern_filed_at_sent -> Nullable<Text>,
        concern_municipality -> Nullable<Text>,
        concern_filed_by_unit -> Nullable<Text>,
        notes -> Nullable<Text>,
        late_entry -> Bool,
        lacks_safeguarding -> Bool,
        voided_at -> Nullable<Timestamp>,
        voided_by -> Nullable<Text>,
        void_reason -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        shift_with_police -> Bool,
        referral_targets -> Text,
        shift_started_at -> Timestamp,
    }
}

diesel::table! {
    encounter_referrals (encounter_id, position) {
        encounter_id -> Text,
        position -> Integer,
        target -> Text,
        at_sent -> Nullable<Text>,
    }
}

diesel::table! {
    amendments (id) {
        id -> Text,
        record_type -> Text,
        record_id -> Text,
        version -> BigInt,
        reason -> Text,
        user_id -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    municipality_notifications (id) {
        id -> Text,
        encounter_id -> Text,
        municipality_code -> Text,
        occurred_on -> Text,
        role -> Text,
        age_group -> Text,
        status -> Text,
        method -> Nullable<Text>,
        note -> Nullable<Text>,
        resolved_at -> Nullable<Timestamp>,
        resolved_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    municipality_connection_changes (id) {
        id -> Text,
        municipality_code -> Text,
        effective_from -> Text,
        connected -> Bool,
        recorded_by -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::joinable!(shift_units -> shifts (shift_id));
diesel::joinable!(encounters -> shifts (shift_id));
diesel::joinable!(encounter_referrals -> encounters (encounter_id));
diesel::allow_tables_to_appear_in_same_query!(
    amendments,
    changes,
    shifts,
    shift_units,
    encounters,
    encounter_referrals,
    municipality_notifications,
    users,
);

diesel::table! {
    // `seq` is unique on both backends; on PostgreSQL the key is `(tx, seq)` (migration
    // 000015), which diesel needs not know: nothing finds a change by its key.
    changes (seq) {
        seq -> BigInt,
        tx -> BigInt,
        record_type -> Text,
        record_id -> Text,
        shift_id -> Nullable<Text>,
        unit_code -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    audit_log (seq) {
        seq -> BigInt,
        tx -> BigInt,
        at -> Timestamp,
        user_id -> Nullable<Text>,
        username -> Nullable<Text>,
        role -> Nullable<Text>,
        unit_code -> Nullable<Text>,
        session_id -> Nullable<Text>,
        action -> Text,
        record_type -> Nullable<Text>,
        record_id -> Nullable<Text>,
        request_id -> Nullable<Text>,
        outcome -> Text,
        prev_hash -> Nullable<Text>,
        hash -> Nullable<Text>,
    }
}

diesel::table! {
    audit_chain_end (one) {
        one -> Bool,
        tx -> BigInt,
        seq -> BigInt,
        hash -> Text,
    }
}

diesel::table! {
    audit_prune_permits (id) {
        id -> Text,
    }
}
