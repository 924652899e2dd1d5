//! Who is calling, and whether they may: every route names its allowed roles through the
//! type of its `Auth<…>` argument; the session and account are checked in the database
//! on every request, so a revoked phone or a disabled account stops at once.

pub mod keys;
pub mod password;
pub mod principals;
pub mod tokens;
pub mod verified;

use std::future::Future;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use faltlogg_domain::account::Role;
use faltlogg_persistence::accounts::Principal;

use crate::audit::{Actor, event};
use crate::error::ApiError;
use crate::startup::AppState;
use faltlogg_domain::audit::Action;

/// The roles a route admits.
pub trait Policy {
    const ROLES: &'static [Role];
}

/// Any signed-in member of staff (their own profile and devices).
pub struct AnyRole;
impl Policy for AnyRole {
    const ROLES: &'static [Role] = &Role::ALL;
}

/// Administrators: users, sessions, devices.
pub struct Admins;
impl Policy for Admins {
    const ROLES: &'static [Role] = &[Role::Admin];
}

/// Outreach workers: the only role that writes the field log and reads encounter details.
pub struct OutreachWorkers;
impl Policy for OutreachWorkers {
    const ROLES: &'static [Role] = &[Role::OutreachWorker];
}

/// The roles that see shifts and their summaries (counts only), each within its scope.
pub struct ShiftReaders;
impl Policy for ShiftReaders {
    const ROLES: &'static [Role] = &[Role::OutreachWorker, Role::PoliceLiaison, Role::Coordinator];
}

/// Police liaisons: they acknowledge the summaries of shifts with police.
pub struct PoliceLiaisons;
impl Policy for PoliceLiaisons {
    const ROLES: &'static [Role] = &[Role::PoliceLiaison];
}

/// Coordinators: municipality connections and notifications.
pub struct Coordinators;
impl Policy for Coordinators {
    const ROLES: &'static [Role] = &[Role::Coordinator];
}

/// Auditors: the audit log.
pub struct Auditors;
impl Policy for Auditors {
    const ROLES: &'static [Role] = &[Role::Auditor];
}

/// An authenticated caller whose role the policy `P` admits.
pub struct Auth<P: Policy> {
    pub principal: Principal,
    /// The caller as the audit log names them, with the request's id.
    pub actor: Actor,
    policy: PhantomData<P>,
}

impl<P: Policy + 'static> FromRequest for Auth<P> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let token = bearer_token(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let request_id = crate::audit::request_id(req);
        // The route, not the path: ids in a path are the audit's record ids, not its routes.
        let route = req
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(MissingState))?;
            let refused = |actor: &Actor, outcome: &str| {
                event(actor, Action::Denied, "route", Some(route.clone()), outcome)
            };
            let now = chrono::Utc::now().timestamp();
            let claims = token.and_then(|token| state.keys.verify(&token, now));
            let Some(claims) = claims else {
                state
                    .record(refused(&Actor::anonymous(request_id), "unauthenticated"))
                    .await?;
                return Err(ApiError::Unauthorized);
            };
            let principal = state
                .principals
                .live(claims.sid)
                .await?
                .filter(|principal| principal.user_id == claims.sub);
            let Some(principal) = principal else {
                state
                    .record(refused(&Actor::anonymous(request_id), "unauthenticated"))
                    .await?;
                return Err(ApiError::Unauthorized);
            };
            let actor = Actor::of(&principal, request_id);
            tracing::Span::current().record("user_id", tracing::field::display(&principal.user_id));
            if !P::ROLES.contains(&principal.assignment.role()) {
                state.record(refused(&actor, "denied")).await?;
                return Err(ApiError::Forbidden);
            }
            Ok(Auth {
                principal,
                actor,
                policy: PhantomData,
            })
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("application state is missing")]
struct MissingState;

fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|token| !token.is_empty())
}

/// The client's address: the peer, or the nearest forwarded address when the peer is a
/// trusted proxy (walking `X-Forwarded-For` from the right past other trusted proxies).
pub fn client_address(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> String {
    let peer = req.peer_addr().map(|addr| addr.ip());
    let Some(peer) = peer else {
        return "unknown".into();
    };
    if !trusted_proxies.contains(&peer) {
        return peer.to_string();
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    forwarded
        .iter()
        .rev()
        .filter_map(|ip| ip.parse::<IpAddr>().ok())
        .find(|ip| !trusted_proxies.contains(ip))
        .unwrap_or(peer)
        .to_string()
}
