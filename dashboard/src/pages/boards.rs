//! Scoring (needs `event.manage`): a game's statistics handler and rules and its
//! leaderboards; one board's top 20, updated live through `leaderboardUpdated`, its ended
//! seasons and a reset; a player's statistics in a game, updated live.

use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_params_map};

use crate::{
    api::{self, Failure},
    live::{Link, LinkLine, subscribe},
    session::Session,
    widgets::{ErrorLine, confirm, filled, run, short_time},
};

/// A choice of game (the catalog's games), into `game`.
#[component]
pub fn GamePicker(name: &'static str, game: RwSignal<String>, any: bool) -> impl IntoView {
    let session = expect_context::<Session>();
    let games = RwSignal::new(Vec::<api::games::GamesContentsEdgesNode>::new());
    let error = RwSignal::new(None::<Failure>);
    run::<api::Games>(
        session,
        api::games::Variables { first: Some(100) },
        error,
        move |d| {
            let found: Vec<_> = d.contents.edges.into_iter().map(|e| e.node).collect();
            if !any
                && game.with_untracked(String::is_empty)
                && let Some(first) = found.first()
            {
                game.set(first.id.clone());
            }
            games.set(found);
        },
    );
    view! {
        <label>"Game"
            <select name=name on:change=move |ev| game.set(event_target_value(&ev))>
                {any.then(|| view! { <option value="">"any"</option> })}
                {move || games.get().into_iter().map(|g| {
                    let selected = game.with(|current| *current == g.id);
                    view! { <option value=g.id.clone() selected=selected>{format!("{} ({})", g.name, g.id)}</option> }
                }).collect_view()}
            </select>
        </label>
        <ErrorLine error=error/>
    }
}

#[component]
pub fn Scoring() -> impl IntoView {
    let session = expect_context::<Session>();
    let game = RwSignal::new(String::new());
    let data = RwSignal::new(None::<api::game_boards::ResponseData>);
    let error = RwSignal::new(None::<Failure>);
    let load = move || {
        let game_id = game.get_untracked();
        if game_id.is_empty() {
            return;
        }
        let variables = api::game_boards::Variables { game_id };
        run::<api::GameBoards>(session, variables, error, move |d| data.set(Some(d)));
    };
    Effect::new(move |_| {
        game.track();
        load();
    });
    view! {
        <h1>"Scoring"</h1>
        <form class="filters" on:submit=|ev: leptos::ev::SubmitEvent| ev.prevent_default()>
            <GamePicker name="scoring-game" game=game any=false/>
        </form>
        <ErrorLine error=error/>
        {move || data.get().map(|d| view! {
            <Boards boards=d.leaderboards game=game reload=load/>
            <Handler setup=d.stats_setup handlers=d.stats_handlers game=game reload=load/>
        })}
        <PlayerStats game=game/>
    }
}

#[component]
fn Boards(
    boards: Vec<api::game_boards::GameBoardsLeaderboards>,
    game: RwSignal<String>,
    reload: impl Fn() + Copy + 'static,
) -> impl IntoView {
    let session = expect_context::<Session>();
    let error = RwSignal::new(None::<Failure>);
    let (name, scoring, event_name, field, k_factor, ascending, reset) = (
        RwSignal::new(String::new()),
        RwSignal::new("WINS".to_owned()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(false),
        RwSignal::new("NEVER".to_owned()),
    );
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        use api::create_board::{LeaderboardReset as R, LeaderboardScoring as S};
        let scoring = match scoring.get_untracked().as_str() {
            "ELO" => S::ELO,
            "BEST" => S::BEST,
            "SUM" => S::SUM,
            "LAST" => S::LAST,
            _ => S::WINS,
        };
        let reset_every = match reset.get_untracked().as_str() {
            "DAILY" => R::DAILY,
            "WEEKLY" => R::WEEKLY,
            "MONTHLY" => R::MONTHLY,
            _ => R::NEVER,
        };
        let k_factor = match filled(k_factor.get_untracked()).map(|k| k.parse::<i64>()) {
            Some(Ok(k)) => Some(k),
            Some(Err(_)) => {
                error.set(Some(Failure::local("The K-factor is a whole number.")));
                return;
            }
            None => None,
        };
        let input = api::create_board::LeaderboardInput {
            game_id: game.get_untracked(),
            name: name.get_untracked(),
            scoring,
            event_name: filled(event_name.get_untracked()),
            field: filled(field.get_untracked()),
            k_factor,
            descending: !ascending.get_untracked(),
            reset_every,
        };
        run::<api::CreateBoard>(
            session,
            api::create_board::Variables { input },
            error,
            move |_| {
                name.set(String::new());
                reload();
            },
        );
    };
    let rows = boards
        .into_iter()
        .map(|b| {
            let order = if b.descending {
                "higher first"
            } else {
                "lower first"
            };
            let how = match b.scoring {
                api::game_boards::LeaderboardScoring::ELO => format!("ELO, K {}", b.k_factor),
                api::game_boards::LeaderboardScoring::WINS => "+1 a win".to_owned(),
                ref other => format!(
                    "{other:?} of {}{}",
                    b.event_name.clone().unwrap_or_default(),
                    b.field.clone().unwrap_or_default()
                ),
            };
            view! {
                <tr>
                    <td><A href=format!("/admin/leaderboards/{}", b.id)>{b.name.clone()}</A></td>
                    <td>{how}</td>
                    <td>{order}</td>
                    <td>{format!("{:?}", b.reset_every).to_lowercase()}</td>
                    <td>{b.season}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card">
            <h2>"Leaderboards"</h2>
            <table class="boards">
                <thead><tr><th>"Board"</th><th>"Scoring"</th><th>"Order"</th><th>"Resets"</th><th>"Season"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
            <form class="create-board filters" on:submit=create>
                <label>"Name" <input name="board-name" required prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/></label>
                <label>"Scoring"
                    <select name="board-scoring" on:change=move |ev| scoring.set(event_target_value(&ev))>
                        <option value="WINS">"+1 a win"</option>
                        <option value="ELO">"ELO"</option>
                        <option value="BEST">"best value"</option>
                        <option value="SUM">"sum of values"</option>
                        <option value="LAST">"last value"</option>
                    </select>
                </label>
                <label>"Event name" <input name="board-event" on:input=move |ev| event_name.set(event_target_value(&ev))/></label>
                <label>"Field" <input name="board-field" placeholder="/score" on:input=move |ev| field.set(event_target_value(&ev))/></label>
                <label>"K-factor" <input name="board-k" type="number" placeholder="32" on:input=move |ev| k_factor.set(event_target_value(&ev))/></label>
                <label class="check"><input type="checkbox" name="board-ascending" on:change=move |ev| ascending.set(event_target_checked(&ev))/>" lower first"</label>
                <label>"Resets"
                    <select name="board-reset" on:change=move |ev| reset.set(event_target_value(&ev))>
                        <option value="NEVER">"never"</option>
                        <option value="DAILY">"daily"</option>
                        <option value="WEEKLY">"weekly"</option>
                        <option value="MONTHLY">"monthly"</option>
                    </select>
                </label>
                <button type="submit">"Create board"</button>
            </form>
            <ErrorLine error=error/>
        </section>
    }
}

/// The game's statistics handler and its rules.
#[component]
fn Handler(
    setup: api::game_boards::GameBoardsStatsSetup,
    handlers: Vec<String>,
    game: RwSignal<String>,
    reload: impl Fn() + Copy + 'static,
) -> impl IntoView {
    let session = expect_context::<Session>();
    let error = RwSignal::new(None::<Failure>);
    let current = setup.handler.clone();
    let choose = move |ev| {
        let handler = event_target_value(&ev);
        if !confirm(&format!("Send this game's events through {handler:?}?")) {
            return;
        }
        let variables = api::set_handler::Variables {
            game_id: game.get_untracked(),
            handler,
        };
        run::<api::SetHandler>(session, variables, error, move |_| reload());
    };
    let remove = move |id: String| {
        if !confirm("Remove this rule?") {
            return;
        }
        run::<api::DropRule>(
            session,
            api::drop_rule::Variables { id },
            error,
            move |_| reload(),
        );
    };
    let (event_type, event_name, subject, field, stat, op) = (
        RwSignal::new("GAMEPLAY".to_owned()),
        RwSignal::new(String::new()),
        RwSignal::new("USER".to_owned()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new("ADD".to_owned()),
    );
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        use api::add_rule::{EventType as E, StatOp as O, StatSubject as S};
        let input = api::add_rule::StatRuleInput {
            game_id: game.get_untracked(),
            event_type: match event_type.get_untracked().as_str() {
                "GAME_OVER" => E::GAME_OVER,
                "STATE_CHANGE" => E::STATE_CHANGE,
                _ => E::GAMEPLAY,
            },
            event_name: filled(event_name.get_untracked()),
            subject: match subject.get_untracked().as_str() {
                "WINNER" => S::WINNER,
                "LOSER" => S::LOSER,
                _ => S::USER,
            },
            field: filled(field.get_untracked()),
            stat: stat.get_untracked(),
            op: match op.get_untracked().as_str() {
                "SET" => O::SET,
                "MAX" => O::MAX,
                "MIN" => O::MIN,
                _ => O::ADD,
            },
        };
        run::<api::AddRule>(
            session,
            api::add_rule::Variables { input },
            error,
            move |_| {
                stat.set(String::new());
                reload();
            },
        );
    };
    let rules = setup
        .rules
        .into_iter()
        .map(|r| {
            let id = r.id.clone();
            view! {
                <tr>
                    <td>{r.event_type.clone()}{r.event_name.clone().map(|n| format!(" {n}"))}</td>
                    <td>{format!("{:?}", r.op)}</td>
                    <td>{r.field.clone().unwrap_or_else(|| "1".into())}</td>
                    <td>{format!("{:?}", r.subject).to_lowercase()}</td>
                    <td>{r.stat.clone()}</td>
                    <td><button class="danger" on:click=move |_| remove(id.clone())>"Remove"</button></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card">
            <h2>"Statistics"</h2>
            <label>"Handler"
                <select name="stats-handler" on:change=choose>
                    {handlers.into_iter().map(|h| {
                        let selected = h == current;
                        view! { <option value=h.clone() selected=selected>{h.clone()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <table class="rules">
                <thead><tr><th>"On"</th><th>"Do"</th><th>"Value"</th><th>"To"</th><th>"Statistic"</th><th></th></tr></thead>
                <tbody>{rules}</tbody>
            </table>
            <form class="add-rule filters" on:submit=add>
                <label>"On"
                    <select name="rule-type" on:change=move |ev| event_type.set(event_target_value(&ev))>
                        <option value="GAMEPLAY">"gameplay"</option>
                        <option value="GAME_OVER">"game over"</option>
                        <option value="STATE_CHANGE">"state change"</option>
                    </select>
                </label>
                <label>"Named" <input name="rule-name" on:input=move |ev| event_name.set(event_target_value(&ev))/></label>
                <label>"Do"
                    <select name="rule-op" on:change=move |ev| op.set(event_target_value(&ev))>
                        <option value="ADD">"add"</option>
                        <option value="SET">"set"</option>
                        <option value="MAX">"max"</option>
                        <option value="MIN">"min"</option>
                    </select>
                </label>
                <label>"Field" <input name="rule-field" placeholder="1 when empty" on:input=move |ev| field.set(event_target_value(&ev))/></label>
                <label>"To"
                    <select name="rule-subject" on:change=move |ev| subject.set(event_target_value(&ev))>
                        <option value="USER">"the player"</option>
                        <option value="WINNER">"the winner"</option>
                        <option value="LOSER">"the loser"</option>
                    </select>
                </label>
                <label>"Statistic" <input name="rule-stat" required prop:value=move || stat.get() on:input=move |ev| stat.set(event_target_value(&ev))/></label>
                <button type="submit">"Add rule"</button>
            </form>
            <ErrorLine error=error/>
        </section>
    }
}

/// A player's statistics in the chosen game, live.
#[component]
fn PlayerStats(game: RwSignal<String>) -> impl IntoView {
    let user = RwSignal::new(String::new());
    let shown = RwSignal::new(None::<(String, String)>);
    let look = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        shown.set(filled(user.get_untracked()).map(|u| (game.get_untracked(), u)));
    };
    view! {
        <section class="card">
            <h2>"A player's statistics"</h2>
            <form class="player-stats filters" on:submit=look>
                <label>"Player id" <input name="stats-user" on:input=move |ev| user.set(event_target_value(&ev))/></label>
                <button type="submit">"Show"</button>
            </form>
            {move || shown.get().map(|(game_id, user_id)| view! { <StatsTable game_id=game_id user_id=user_id/> })}
        </section>
    }
}

#[component]
fn StatsTable(game_id: String, user_id: String) -> impl IntoView {
    let session = expect_context::<Session>();
    let stats = RwSignal::new(Vec::<api::stats_of::StatsOfPlayerStats>::new());
    let error = RwSignal::new(None::<Failure>);
    let link = RwSignal::new(Link::Connecting);
    let variables = api::stats_of::Variables {
        game_id: game_id.clone(),
        user_id: user_id.clone(),
    };
    run::<api::StatsOf>(session, variables, error, move |d| {
        stats.set(d.player_stats)
    });
    // The subscription's data has the query's shape (its field is aliased).
    subscribe::<api::StatsLive, api::stats_of::ResponseData>(
        session,
        api::stats_live::Variables { game_id, user_id },
        link,
        error,
        move |d| stats.set(d.player_stats),
    );
    view! {
        <LinkLine link=link/>
        <ErrorLine error=error/>
        <table class="stats">
            <thead><tr><th>"Statistic"</th><th>"Value"</th><th>"Updated"</th></tr></thead>
            <tbody>
                {move || stats.get().into_iter().map(|s| view! {
                    <tr><td>{s.name}</td><td class="value">{s.value}</td><td>{short_time(&s.updated_at)}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
pub fn BoardPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let board = RwSignal::new(None::<api::board_page::BoardPageLeaderboard>);
    let entries = RwSignal::new(Vec::<Entry>::new());
    // An ended season to look at; `None` is the current one, live.
    let season = RwSignal::new(None::<i64>);
    let updates = RwSignal::new(0_u64);
    let error = RwSignal::new(None::<Failure>);
    let load = move || {
        let variables = api::board_page::Variables {
            id: id(),
            season: season.get_untracked(),
        };
        run::<api::BoardPage>(session, variables, error, move |d| {
            entries.set(d.leaderboard.top.iter().map(Entry::from_page).collect());
            board.set(Some(d.leaderboard));
        });
    };
    Effect::new(move |_| {
        season.track();
        load();
    });
    let reset = move |_| {
        if !confirm(
            "End this season now? Its records are archived and the next season starts empty.",
        ) {
            return;
        }
        run::<api::ResetBoard>(
            session,
            api::reset_board::Variables { id: id() },
            error,
            move |_| {
                season.set(None);
                load();
            },
        );
    };
    view! {
        <p><A href="/admin/leaderboards">"← Scoring"</A></p>
        <ErrorLine error=error/>
        {move || board.get().map(|b| {
            let seasons = b.seasons.clone();
            view! {
                <h1>{b.name.clone()}</h1>
                <div class="figures">
                    <div class="figure"><span class="value">{format!("{:?}", b.scoring)}</span>"scoring"</div>
                    <div class="figure"><span class="value" id="board-season">{b.season}</span>{format!("season, since {}", short_time(&b.season_started_at))}</div>
                    <div class="figure"><span class="value">{format!("{:?}", b.reset_every).to_lowercase()}</span>"resets"</div>
                </div>
                <form class="filters" on:submit=|ev: leptos::ev::SubmitEvent| ev.prevent_default()>
                    <label>"Season"
                        <select name="board-season" on:change=move |ev| season.set(event_target_value(&ev).parse().ok())>
                            <option value="">"current (live)"</option>
                            {seasons.into_iter().map(|s| view! {
                                <option value=s.season.to_string()>{format!("{} ({} to {})", s.season, short_time(&s.started_at), short_time(&s.ended_at))}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <button type="button" class="danger" on:click=reset>"Reset now"</button>
                </form>
            }
        })}
        <Show when=move || season.with(Option::is_none) && board.with(Option::is_some)>
            <LiveTop id=id() entries=entries updates=updates error=error/>
        </Show>
        <table id="board-top">
            <thead><tr><th>"Rank"</th><th>"Player"</th><th>"Score"</th><th>"Since"</th></tr></thead>
            <tbody>
                {move || entries.get().into_iter().map(|e| view! {
                    <tr>
                        <td>{e.rank}</td>
                        <td><A href=format!("/admin/users/{}", e.user_id)>{e.username}</A></td>
                        <td class="score">{e.score}</td>
                        <td>{short_time(&e.achieved_at)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <p class="muted" id="board-updates" data-updates=move || updates.get().to_string()>
            {move || format!("{} live updates", updates.get())}
        </p>
    }
}

/// A row of a board's top, from the page's query or a live update.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    rank: i64,
    user_id: String,
    username: String,
    score: i64,
    achieved_at: String,
}

impl Entry {
    fn from_page(e: &api::board_page::BoardPageLeaderboardTop) -> Self {
        Self {
            rank: e.rank,
            user_id: e.user_id.clone(),
            username: e
                .user
                .as_ref()
                .map(|u| u.username.clone())
                .unwrap_or_default(),
            score: e.score,
            achieved_at: e.achieved_at.clone(),
        }
    }
}

/// Keeps `entries` at the board's current top 20 through `leaderboardUpdated`.
#[component]
fn LiveTop(
    id: String,
    entries: RwSignal<Vec<Entry>>,
    updates: RwSignal<u64>,
    error: RwSignal<Option<Failure>>,
) -> impl IntoView {
    let session = expect_context::<Session>();
    let link = RwSignal::new(Link::Connecting);
    subscribe::<api::BoardLive, api::board_live::ResponseData>(
        session,
        api::board_live::Variables { id, first: 20 },
        link,
        error,
        move |d| {
            let top = d.leaderboard_updated.entries.iter().map(|e| Entry {
                rank: e.rank,
                user_id: e.user_id.clone(),
                username: e
                    .user
                    .as_ref()
                    .map(|u| u.username.clone())
                    .unwrap_or_default(),
                score: e.score,
                achieved_at: e.achieved_at.clone(),
            });
            entries.set(top.collect());
            updates.update(|n| *n += 1);
        },
    );
    view! { <LinkLine link=link/> }
}
