//! Events (needs `event.manage`): stored events, newest first, by game and state; failed
//! ones with their reason and a retry; and a live tail of new events through `events`.

use leptos::prelude::*;

use crate::{
    api::{self, Failure},
    live::{Link, LinkLine, subscribe},
    pages::boards::GamePicker,
    session::Session,
    widgets::{ErrorLine, run, short_time},
};

/// Rows the page keeps, the tail's included.
const KEEP: usize = 200;

type Row = api::event_list::EventListEventsEdgesNode;

#[component]
pub fn EventLog() -> impl IntoView {
    let session = expect_context::<Session>();
    let game = RwSignal::new(String::new());
    let state = RwSignal::new(String::new());
    let rows = RwSignal::new(Vec::<Row>::new());
    let total = RwSignal::new(0_i64);
    let next = RwSignal::new(None::<String>);
    let tail = RwSignal::new(false);
    let error = RwSignal::new(None::<Failure>);
    let fetch = move |after: Option<String>| {
        use api::event_list::EventState as S;
        let variables = api::event_list::Variables {
            game_id: Some(game.get_untracked()).filter(|g| !g.is_empty()),
            state: match state.get_untracked().as_str() {
                "PENDING" => Some(S::PENDING),
                "PROCESSED" => Some(S::PROCESSED),
                "FAILED" => Some(S::FAILED),
                _ => None,
            },
            first: Some(50),
            after: after.clone(),
        };
        run::<api::EventList>(session, variables, error, move |d| {
            let found = d.events.edges.into_iter().map(|e| e.node);
            if after.is_some() {
                rows.update(|rows| rows.extend(found));
            } else {
                rows.set(found.collect());
            }
            total.set(d.events.total_count);
            next.set(
                d.events
                    .page_info
                    .has_next_page
                    .then_some(d.events.page_info.end_cursor)
                    .flatten(),
            );
        });
    };
    Effect::new(move |_| {
        game.track();
        state.track();
        fetch(None);
    });
    let retry = move |id: String| {
        run::<api::RetryEvent>(
            session,
            api::retry_event::Variables { id },
            error,
            move |_| fetch(None),
        );
    };
    view! {
        <h1>"Events"</h1>
        <form class="filters" on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); fetch(None); }>
            <GamePicker name="events-game" game=game any=true/>
            <label>"State"
                <select name="events-state" on:change=move |ev| state.set(event_target_value(&ev))>
                    <option value="">"any"</option>
                    <option value="PENDING">"pending"</option>
                    <option value="PROCESSED">"processed"</option>
                    <option value="FAILED">"failed"</option>
                </select>
            </label>
            <label class="check"><input type="checkbox" name="events-tail" on:change=move |ev| tail.set(event_target_checked(&ev))/>" live tail"</label>
        </form>
        <ErrorLine error=error/>
        // Made again when the game changes, so the tail follows the filter.
        {move || tail.get().then(|| view! { <Tail game=game.get() rows=rows error=error/> })}
        <p class="muted" id="events-count">{move || format!("{} events", total.get())}</p>
        <div class="scroll">
            <table class="events">
                <thead><tr><th>"Id"</th><th>"Sender's id"</th><th>"Game"</th><th>"Type"</th><th>"Players"</th><th>"Happened"</th><th>"From"</th><th>"State"</th><th></th></tr></thead>
                <tbody>
                    {move || rows.get().into_iter().map(|e| {
                        let failed = matches!(e.state, api::event_list::EventState::FAILED);
                        let id = e.id.clone();
                        let players = [e.user_id.clone(), e.winner_id.clone().map(|w| format!("won: {w}")), e.loser_id.clone().map(|l| format!("lost: {l}"))]
                            .into_iter().flatten().collect::<Vec<_>>().join(", ");
                        view! {
                            <tr class=if failed { "failed" } else { "" }>
                                <td>{e.id.clone()}</td>
                                <td>{e.event_id.clone()}</td>
                                <td>{e.game_id.clone().unwrap_or_else(|| "platform".into())}</td>
                                <td>{e.type_.clone()}{e.name.clone().map(|n| format!(" {n}"))}</td>
                                <td class="players">{players}</td>
                                <td>{short_time(&e.occurred_at)}</td>
                                <td>{e.source.clone()}</td>
                                <td class="state">{format!("{:?}", e.state).to_lowercase()}{e.failure.clone().map(|f| format!(": {f}"))}</td>
                                <td>{failed.then(|| view! { <button class="retry" on:click=move |_| retry(id.clone())>"Retry"</button> })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <Show when=move || next.with(Option::is_some)>
            <button on:click=move |_| fetch(next.get_untracked())>"Older"</button>
        </Show>
    }
}

/// Puts each new event of `game` (any game when empty) at the top of `rows`.
#[component]
fn Tail(game: String, rows: RwSignal<Vec<Row>>, error: RwSignal<Option<Failure>>) -> impl IntoView {
    let session = expect_context::<Session>();
    let link = RwSignal::new(Link::Connecting);
    let variables = api::event_tail::Variables {
        game_id: Some(game).filter(|g| !g.is_empty()),
    };
    subscribe::<api::EventTail, TailData>(session, variables, link, error, move |d| {
        rows.update(|rows| {
            rows.insert(0, d.events);
            rows.truncate(KEEP);
        });
    });
    view! { <LinkLine link=link/> }
}

/// A tail update read in the list's own row shape (same fields).
#[derive(serde::Deserialize)]
struct TailData {
    events: Row,
}
