//! Who is calling, and whether they may: every route names its allowed roles through the
//! type of its `Auth<…>` argument (encounter PUTs: `Claimed<…>`); the session and account
//! are checked in the database on every request (for an encounter PUT, in the transaction
//! that writes it), so a revoked phone or a disabled account stops at once.

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
use faltlogg_domain::audit::{Action, Entry};
use faltlogg_domain::ids::{SessionId, UserId};
use faltlogg_persistence::accounts::Principal;

use crate::audit::{Actor, event};
use crate::error::ApiError;
use crate::startup::AppState;

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
        let verified = verified_caller(req);
        Box::pin(async move {
            let (state, caller, _) = verified.await?;
            let (principal, actor) = looked_up::<P>(&state, &caller).await?;
            Ok(Auth {
                principal,
                actor,
                policy: PhantomData,
            })
        })
    }
}

/// The caller of a genuine, unexpired token, before their session is checked.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub request_id: Option<String>,
    /// The route, not the path: ids in a path are the audit's record ids, not its routes.
    pub route: String,
}

/// A caller whose token is genuine and unexpired, and says their role is one `P` admits;
/// their session and account are still to be checked, by the work itself, in its own
/// transaction, with [`admit`]. Encounter PUTs take it ([`crate::together`]): looked up
/// on the way in, a session was a round trip and two thread hops of its own before the
/// write's turn (and the check was older still when the write ran). A token whose role
/// `P` does not admit is checked at once, as [`Auth`] does; a request that fails before
/// its work begins (a bad body) is checked with [`Claimed::confirm`].
pub struct Claimed<P: Policy> {
    pub caller: Caller,
    policy: PhantomData<P>,
}

impl<P: Policy> Claimed<P> {
    /// Checks the session now, as [`Auth`] would have: a request refused before its work
    /// began is answered and recorded as a dead session's or a wrong role's (401, 403)
    /// rather than for its body.
    pub async fn confirm(&self, state: &AppState) -> Result<(), ApiError> {
        looked_up::<P>(state, &self.caller).await.map(|_| ())
    }
}

impl<P: Policy + 'static> FromRequest for Claimed<P> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let verified = verified_caller(req);
        Box::pin(async move {
            let (state, caller, claimed_role) = verified.await?;
            if !claimed_role.is_some_and(|role| P::ROLES.contains(&role)) {
                // Refused as [`Auth`] refuses; or the account's role has changed since.
                looked_up::<P>(&state, &caller).await?;
            }
            Ok(Claimed {
                caller,
                policy: PhantomData,
            })
        })
    }
}

/// The caller of the request's token if it is genuine and unexpired, and the role it was
/// issued for; a missing or bad token is refused (401) and recorded.
fn verified_caller(
    req: &HttpRequest,
) -> impl Future<Output = Result<(web::Data<AppState>, Caller, Option<Role>), ApiError>> + 'static {
    let token = bearer_token(req);
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let request_id = crate::audit::request_id(req);
    let route = crate::telemetry::route_of(req);
    async move {
        let state = state.ok_or_else(|| ApiError::internal(MissingState))?;
        let now = chrono::Utc::now().timestamp();
        let Some(claims) = token.and_then(|token| state.keys.verify(&token, now)) else {
            let refusal = Refusal::unauthenticated(request_id, route);
            state.record(refusal.entry).await?;
            return Err(refusal.error);
        };
        tracing::Span::current().record("user_id", tracing::field::display(&claims.sub));
        let caller = Caller {
            user_id: claims.sub,
            session_id: claims.sid,
            request_id,
            route,
        };
        Ok((state, caller, claims.role))
    }
}

/// [`admit`] with the session looked up now; a refusal is recorded.
async fn looked_up<P: Policy>(
    state: &AppState,
    caller: &Caller,
) -> Result<(Principal, Actor), ApiError> {
    let live = state.principals.live(caller.session_id).await?;
    match admit(P::ROLES, caller, live) {
        Ok(admitted) => Ok(admitted),
        Err(refusal) => {
            let Refusal { error, entry } = *refusal;
            state.record(entry).await?;
            Err(error)
        }
    }
}

/// A request refused, and the audit entry that records it.
#[derive(Debug)]
pub struct Refusal {
    pub error: ApiError,
    pub entry: Entry,
}

impl Refusal {
    fn unauthenticated(request_id: Option<String>, route: String) -> Self {
        Self {
            entry: event(
                &Actor::anonymous(request_id),
                Action::Denied,
                "route",
                Some(route),
                "unauthenticated",
            ),
            error: ApiError::Unauthorized,
        }
    }

    /// A signed-in caller whose role or assignment does not allow the route.
    pub fn denied(actor: &Actor, route: &str) -> Self {
        Self {
            entry: event(
                actor,
                Action::Denied,
                "route",
                Some(route.to_owned()),
                "denied",
            ),
            error: ApiError::Forbidden,
        }
    }
}

/// Whom `caller` is, given their session as the database has it now (`live`: `None` when
/// it is revoked, expired, idle too long, unknown, or its account disabled), if one of
/// `roles`: the principal and the actor the audit log names; or the refusal.
pub fn admit(
    roles: &[Role],
    caller: &Caller,
    live: Option<Principal>,
) -> Result<(Principal, Actor), Box<Refusal>> {
    let Some(principal) = live.filter(|principal| principal.user_id == caller.user_id) else {
        return Err(Box::new(Refusal::unauthenticated(
            caller.request_id.clone(),
            caller.route.clone(),
        )));
    };
    let actor = Actor::of(&principal, caller.request_id.clone());
    if !roles.contains(&principal.assignment.role()) {
        return Err(Box::new(Refusal::denied(&actor, &caller.route)));
    }
    Ok((principal, actor))
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
