//! `GET /v1/sessions/{id}/thumbnail?size=small|medium|large|full`: a PNG of a desktop
//! session's screen. Looking at a screen is acting on the session (SPEC 5): the caller is
//! identified and rate-limited as for an action, the rules decide, and the intent record
//! (who, what, which session) is written and synced before a pixel is read; the outcome
//! follows it. Answers: 200 `image/png`; 404 no such session, 403 not the caller's to
//! look at, 422 no desktop wms can read (a terminal, Wayland) with the reason, 500 the
//! read failed; 400 for a bad ID or size.

use crate::audit::Record;
use crate::{admission, error, refuse, AppState, Peer};
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use wms_core::{Outcome, Selection, SessionId, ThumbnailSize};

pub(crate) async fn thumbnail(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
) -> Response {
    let mut record = Record::new(&peer);
    let caller = match admission::admit_action(&st, &peer, &headers, &mut record).await {
        Ok(caller) => caller,
        Err(refused) => return refused,
    };
    // The one parameter, `size`; anything else in the query is refused.
    let mut sizes = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty());
    let size = match (sizes.next(), sizes.next()) {
        (None, _) => Some(ThumbnailSize::Medium),
        (Some(p), None) => p.strip_prefix("size=").and_then(ThumbnailSize::parse),
        _ => None,
    };
    let id = id
        .parse::<u32>()
        .ok()
        .filter(|&n| n != 0)
        .and_then(SessionId::from_kernel);
    let (Some(size), Some(id)) = (size, id) else {
        record.refused = Some(
            "the session ID must be a number and size one of small, medium, large, full".into(),
        );
        return refuse(&st, &peer, record, StatusCode::BAD_REQUEST).await;
    };
    record.verb = Some(format!("Get-WmsSession -Thumbnail {size:?}"));
    record.session_ids = Some(vec![id]);
    let Ok(slot) = st.action_slots.clone().acquire_owned().await else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the agent is stopping");
    };
    let st2 = st.clone();
    let done = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let mut unrecorded = None;
        let mut intent = |viewed: &[wms_host::desktop::Viewed]| {
            let targets: Vec<wms_host::PlannedTarget> = viewed
                .iter()
                .map(|v| wms_host::PlannedTarget {
                    session_id: v.session_id,
                    user_name: Some(v.user_name.clone()),
                    acts: true,
                })
                .collect();
            record.intent(&targets);
            st2.audit.write(&record).inspect_err(|e| {
                unrecorded = Some(e.to_string());
            })
        };
        let results = st2
            .host
            .thumbnails(&caller, &Selection::Ids(vec![id]), size, &mut intent);
        if let Some(e) = unrecorded {
            return Err(e);
        }
        let results = results.map_err(|e| e.to_string())?;
        let Some(first) = results.into_iter().next() else {
            return Err("no result".into());
        };
        record.outcome(vec![first.result.clone()]);
        if let Err(e) = st2.audit.write(&record) {
            tracing::error!(error = %e, request = %record.id, "cannot write the outcome to the audit log");
        }
        Ok(first)
    })
    .await;
    let first = match done {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "thumbnail not made");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the agent cannot read the sessions or write its audit log now, so no screen was read",
            );
        }
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
    };
    match (first.result.outcome, first.thumbnail) {
        (Outcome::Done, Some(t)) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static("image/png"))],
            t.png,
        )
            .into_response(),
        (Outcome::NotFound, _) => error(
            StatusCode::NOT_FOUND,
            format!("no login session has the ID {id}"),
        ),
        (Outcome::AccessDenied(why), _) => error(StatusCode::FORBIDDEN, why),
        (Outcome::NotSupported(why), _) => error(StatusCode::UNPROCESSABLE_ENTITY, why),
        (Outcome::Failed(why), _) => error(StatusCode::INTERNAL_SERVER_ERROR, why),
        (o, _) => error(StatusCode::INTERNAL_SERVER_ERROR, o.name()),
    }
}
