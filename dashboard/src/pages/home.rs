//! Figures that matter: accounts, sign-ups per day, active bans, recent audit entries.

use leptos::prelude::*;

use crate::{
    api::{self, Failure},
    pages::audit::{AuditFilters, AuditTable},
    session::Session,
    widgets::{ErrorLine, run},
};

#[component]
pub fn Home() -> impl IntoView {
    let session = expect_context::<Session>();
    let stats = RwSignal::new(None::<api::home::HomeDashboardStats>);
    let error = RwSignal::new(None::<Failure>);
    run::<api::Home>(session, api::home::Variables {}, error, move |data| {
        stats.set(Some(data.dashboard_stats))
    });
    view! {
        <h1>"Overview"</h1>
        <ErrorLine error=error/>
        {move || stats.get().map(|s| {
            let most = s.signups_per_day.iter().map(|d| d.count).max().unwrap_or(0).max(1);
            let bars = s.signups_per_day.iter().enumerate().map(|(i, d)| {
                let height = d.count * 100 / most;
                let x = i * 22;
                view! {
                    <g>
                        <title>{format!("{}: {}", d.day, d.count)}</title>
                        <rect x=x.to_string() y=(110 - height).to_string() width="18" height=height.to_string() class="bar"/>
                        <text x=(x + 9).to_string() y="124" class="tick">{d.day.get(8..).unwrap_or_default().to_string()}</text>
                    </g>
                }
            }).collect_view();
            view! {
                <div class="figures">
                    <div class="figure"><span class="value" id="users-count">{s.users}</span>" accounts"</div>
                    <div class="figure"><span class="value" id="active-bans">{s.active_bans}</span>" active bans"</div>
                </div>
                <section class="card">
                    <h2>"New accounts per day (14 days, UTC)"</h2>
                    <svg class="chart" viewBox="0 0 308 130" role="img" aria-label="new accounts per day">{bars}</svg>
                </section>
            }
        })}
        <Show when=move || session.can("audit.read")>
            <section class="card">
                <h2>"Recent audit entries"</h2>
                <AuditTable filters=AuditFilters::default() page_size=5/>
            </section>
        </Show>
    }
}
