//! Crawl runs: the list with daily activity (refreshed every two seconds), and one run's
//! live progress (accounts per second, workers, errors), pushed by `crawlProgress`.

use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_params_map};

use crate::{
    api::{self, Failure},
    live::{Link, LinkLine, subscribe},
    session::Session,
    widgets::{ErrorLine, every_two_seconds, run, short_time, utc_day},
};

#[component]
pub fn CrawlList() -> impl IntoView {
    let session = expect_context::<Session>();
    let runs = RwSignal::new(None::<api::crawl_runs::CrawlRunsCrawlRuns>);
    let activity =
        RwSignal::new(None::<Vec<api::daily_activity::DailyActivityBattleDailyActivityEdgesNode>>);
    let error = RwSignal::new(None::<Failure>);
    // Activity aggregates two weeks of diffs: once per visit; runs move, so every 2 s.
    let variables = api::daily_activity::Variables {
        from: utc_day(13.0),
        to: utc_day(0.0),
    };
    run::<api::DailyActivity>(session, variables, error, move |d| {
        activity.set(Some(
            d.battle_daily_activity
                .edges
                .into_iter()
                .map(|e| e.node)
                .collect(),
        ))
    });
    let load = move || {
        let variables = api::crawl_runs::Variables {
            first: Some(25),
            after: None,
        };
        run::<api::CrawlRuns>(session, variables, error, move |d| {
            runs.set(Some(d.crawl_runs))
        });
    };
    load();
    every_two_seconds(load);
    view! {
        <h1>"Crawls"</h1>
        <ErrorLine error=error/>
        {move || activity.get().map(|days| {
            let most = days.iter().map(|a| a.active_players).max().unwrap_or(0).max(1);
            let bars = days.iter().enumerate().map(|(i, a)| {
                let height = a.active_players * 100 / most;
                let x = i * 11;
                let class = if matches!(a.platform, api::daily_activity::BattlePlatform::PS) { "bar alt" } else { "bar" };
                view! {
                    <g>
                        <title>{format!("{} {:?}: {} players, {} battles", a.day, a.platform, a.active_players, a.battles)}</title>
                        <rect x=x.to_string() y=(110 - height).to_string() width="9" height=height.to_string() class=class/>
                    </g>
                }
            }).collect_view();
            view! {
                <section class="card">
                    <h2>"Active players per day and platform (14 days; PlayStation darker)"</h2>
                    <svg class="chart" id="activity-chart" viewBox="0 0 320 115" role="img" aria-label="active players per day">{bars}</svg>
                </section>
            }
        })}
        {move || runs.get().map(|runs| {
            let rows = runs.edges.iter().map(|e| {
                let r = e.node.clone();
                view! {
                    <tr>
                        <td><A href=format!("/admin/crawls/{}", r.id)>{r.id.clone()}</A></td>
                        <td>{r.day}</td>
                        <td class="status">{status_text(&r.status)}</td>
                        <td>{format!("{} / {}", r.batches_done, r.batches_total)}</td>
                        <td>{r.players_found}</td>
                        <td>{r.players_changed}</td>
                        <td>{format!("{:.0}", r.accounts_per_second)}</td>
                        <td>{short_time(&r.started_at)}</td>
                    </tr>
                }
            }).collect_view();
            view! {
                <table id="crawl-runs">
                    <thead><tr><th>"Run"</th><th>"Day"</th><th>"Status"</th><th>"Batches"</th><th>"Found"</th><th>"Changed"</th><th>"Accounts/s"</th><th>"Started"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
                <p class="muted">{format!("{} runs", runs.total_count)}</p>
            }
        })}
    }
}

#[component]
pub fn CrawlPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let data = RwSignal::new(None::<api::crawl_run_page::CrawlRunPageCrawlRun>);
    let error = RwSignal::new(None::<Failure>);
    let link = RwSignal::new(Link::Connecting);
    let variables = api::crawl_run_page::Variables { id: id() };
    run::<api::CrawlRunPage>(session, variables, error, move |d| {
        data.set(Some(d.crawl_run))
    });
    // Then each recorded progress, pushed; the subscription's data has the query's shape.
    subscribe::<api::CrawlRunLive, api::crawl_run_page::ResponseData>(
        session,
        api::crawl_run_live::Variables { id: id() },
        link,
        error,
        move |d| data.set(Some(d.crawl_run)),
    );
    view! {
        <p><A href="/admin/crawls">"← Crawls"</A></p>
        <LinkLine link=link/>
        <ErrorLine error=error/>
        {move || data.get().map(|r| {
            let share = if r.batches_total > 0 { r.batches_done * 100 / r.batches_total } else { 0 };
            let most = r.samples.iter().map(|s| s.accounts_per_second).fold(1.0_f64, f64::max);
            let n = r.samples.len().max(2) - 1;
            let points: Vec<String> = r.samples.iter().enumerate().map(|(i, s)| {
                format!("{:.1},{:.1}", i as f64 * 300.0 / n as f64, 110.0 - s.accounts_per_second * 100.0 / most)
            }).collect();
            let workers = r.workers.iter().map(|w| view! {
                <tr>
                    <td>{w.name.clone()}</td>
                    <td>{w.application_id.clone()}</td>
                    <td>{w.requests_per_second}</td>
                    <td>{w.batches_done}</td>
                    <td>{w.accounts_done}</td>
                    <td>{w.errors}</td>
                    <td>{short_time(&w.connected_at)}</td>
                    <td>{w.disconnected_at.as_deref().map(short_time).unwrap_or_else(|| "connected".into())}</td>
                </tr>
            }).collect_view();
            let errors = r.errors.iter().map(|e| view! { <li>{format!("{}: {}", e.kind, e.count)}</li> }).collect_view();
            view! {
                <h1>{format!("Crawl run {} for {}", r.id, r.day)}</h1>
                <div class="figures">
                    <div class="figure"><span class="value" id="run-status">{status_text(&r.status)}</span>"status"</div>
                    <div class="figure"><span class="value" id="run-batches">{format!("{} / {}", r.batches_done, r.batches_total)}</span>{format!("batches ({share}%)")}</div>
                    <div class="figure"><span class="value">{format!("{:.0}", r.accounts_per_second)}</span>"accounts/s"</div>
                    <div class="figure"><span class="value">{r.players_found}</span>"players found"</div>
                    <div class="figure"><span class="value">{r.workers_connected}</span>"workers connected"</div>
                </div>
                <progress max="100" value=share.to_string()></progress>
                <section class="card">
                    <h2>"Accounts per second"</h2>
                    <svg class="chart" id="rate-chart" viewBox="0 0 300 115" role="img" aria-label="accounts per second">
                        <polyline class="line" points=points.join(" ")/>
                    </svg>
                    <p class="muted">{format!("peak {most:.0} accounts/s")}</p>
                </section>
                <section class="card">
                    <h2>"Workers"</h2>
                    <table id="run-workers">
                        <thead><tr><th>"Name"</th><th>"Application id"</th><th>"Req/s"</th><th>"Batches"</th><th>"Accounts"</th><th>"Errors"</th><th>"Connected"</th><th>"Left"</th></tr></thead>
                        <tbody>{workers}</tbody>
                    </table>
                </section>
                <section class="card">
                    <h2>"Errors"</h2>
                    <ul id="run-errors">{errors}</ul>
                </section>
                {r.summary.clone().map(|s| view! { <p id="run-summary">{s}</p> })}
            }
        })}
    }
}

/// A run status as people read it: `COMPLETED` shows as "completed".
fn status_text(status: &impl std::fmt::Debug) -> String {
    format!("{status:?}").to_lowercase()
}
