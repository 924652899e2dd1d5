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
