//! Small pieces every page uses.

use graphql_client::GraphQLQuery;
use leptos::prelude::*;

use crate::{
    api::{self, Failure},
    session::Session,
};

/// An error from the API, in words, where it happened.
#[component]
pub fn ErrorLine(error: RwSignal<Option<Failure>>) -> impl IntoView {
    view! {
        <Show when=move || error.with(Option::is_some)>
            <p class="error" role="alert">{move || error.with(|e| e.as_ref().map(|e| e.message.clone()).unwrap_or_default())}</p>
        </Show>
    }
}

/// A ban list's "Show: in force / lifted or expired / all" choice, as the `active` filter
/// the API takes.
#[component]
pub fn BanStateFilter(name: &'static str, active: RwSignal<Option<bool>>) -> impl IntoView {
    let pick = move |ev| {
        active.set(match event_target_value(&ev).as_str() {
            "active" => Some(true),
            "ended" => Some(false),
            _ => None,
        });
    };
    view! {
        <label>"Show"
            <select name=name on:change=pick>
                <option value="active" selected>"In force"</option>
                <option value="ended">"Lifted or expired"</option>
                <option value="all">"All"</option>
            </select>
        </label>
    }
}

/// Asks the person at the screen for a line of text (empty when they cancel).
pub fn ask(question: &str) -> String {
    web_sys::window()
        .and_then(|w| w.prompt_with_message(question).ok().flatten())
        .unwrap_or_default()
}

/// Asks the browser's confirmation before a destructive action.
pub fn confirm(question: &str) -> bool {
    web_sys::window()
        .and_then(|w| w.confirm_with_message(question).ok())
        .unwrap_or(false)
}

/// `2026-11-21T08:00:00.123+00:00` as `2026-11-21 08:00`.
pub fn short_time(rfc3339: &str) -> String {
    let (date, rest) = rfc3339.split_once('T').unwrap_or((rfc3339, ""));
    format!("{date} {}", rest.get(..5).unwrap_or(""))
}

/// A `datetime-local` input's value as RFC 3339 UTC, or `None` when empty.
pub fn local_to_rfc3339(value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    // The dashboard works in UTC; the input carries no zone.
    let seconds = if value.len() == 16 { ":00" } else { "" };
    Some(format!("{value}{seconds}Z"))
}

/// `None` for an empty text field, the trimmed text otherwise.
pub fn filled(text: String) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Splits a comma-separated list, dropping blanks.
pub fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Runs `Q` in the background: on success clears `error` and hands the data to `done`; on
/// failure shows it in `error`, next to whatever caused it.
pub fn run<Q>(
    session: Session,
    variables: Q::Variables,
    error: RwSignal<Option<Failure>>,
    done: impl FnOnce(Q::ResponseData) + 'static,
) where
    Q: GraphQLQuery + 'static,
    Q::Variables: Clone + 'static,
{
    leptos::task::spawn_local(async move {
        match api::call::<Q>(session, variables).await {
            Ok(data) => {
                error.set(None);
                done(data);
            }
            Err(failure) => error.set(Some(failure)),
        }
    });
}

/// `YYYY-MM-DD` of `days_ago` days before today (UTC).
pub fn utc_day(days_ago: f64) -> String {
    let at = js_sys::Date::now() - days_ago * 86_400_000.0;
    let iso: String = js_sys::Date::new(&at.into()).to_iso_string().into();
    iso.get(..10).unwrap_or_default().to_owned()
}

/// Re-runs `refresh` every two seconds while the page is shown.
pub fn every_two_seconds(refresh: impl Fn() + 'static) {
    if let Ok(handle) = set_interval_with_handle(refresh, std::time::Duration::from_secs(2)) {
        on_cleanup(move || handle.clear());
    }
}
