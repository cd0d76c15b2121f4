//! The catalog as moderators see it: content search (hidden items too) with each item's
//! revisions, relations and decisions; the category tree; the games.

use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_params_map};

use crate::{
    api::{self, Failure},
    session::Session,
    widgets::{ErrorLine, list, run, short_time},
};

#[component]
pub fn ContentSearch() -> impl IntoView {
    let session = expect_context::<Session>();
    let text = RwSignal::new(String::new());
    let rows = RwSignal::new(Vec::<api::content_search::ContentSearchContentsEdgesNode>::new());
    let total = RwSignal::new(0_i64);
    let error = RwSignal::new(None::<Failure>);
    Effect::new(move |_| {
        let words = text.get();
        let variables = api::content_search::Variables {
            text: Some(words).filter(|w| !w.trim().is_empty()),
            types: None,
            first: Some(100),
        };
        run::<api::ContentSearch>(session, variables, error, move |data| {
            total.set(data.contents.total_count);
            rows.set(data.contents.edges.into_iter().map(|e| e.node).collect());
        });
    });
    view! {
        <h1>"Content"</h1>
        <form class="filters" on:submit=|ev: leptos::ev::SubmitEvent| ev.prevent_default()>
            <label>"Words in name or description" <input name="text" on:change=move |ev| text.set(event_target_value(&ev))/></label>
        </form>
        <ErrorLine error=error/>
        <p class="muted">{move || format!("{} items", total.get())}</p>
        <div class="scroll">
            <table class="contents">
                <thead><tr><th>"Name"</th><th>"Type"</th><th>"Creator"</th><th>"State"</th><th>"Votes"</th><th>"Favorites"</th><th>"Comments"</th></tr></thead>
                <tbody>
                    {move || rows.get().into_iter().map(|c| {
                        let state = if c.deleted_at.is_some() {
                            "deleted".to_owned()
                        } else if c.restricted {
                            "restricted".to_owned()
                        } else if c.published {
                            format!("published, {:?}", c.privacy).to_lowercase()
                        } else {
                            "draft".to_owned()
                        };
                        view! {
                            <tr>
                                <td><A href=format!("/admin/content/{}", c.id)>{c.name}</A></td>
                                <td>{format!("{:?}", c.type_)}</td>
                                <td>{c.creator.map(|u| u.username).unwrap_or_default()}</td>
                                <td>{state}</td>
                                <td>{format!("+{} / -{}", c.up_votes, c.down_votes)}</td>
                                <td>{c.favorite_count}</td>
                                <td>{c.comment_count}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
pub fn ContentPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let params = use_params_map();
    let item = RwSignal::new(None::<api::content_detail::ContentDetailContent>);
    let error = RwSignal::new(None::<Failure>);
    Effect::new(move |_| {
        let id = params.with(|p| p.get("id").unwrap_or_default());
        run::<api::ContentDetail>(
            session,
            api::content_detail::Variables { id },
            error,
            move |data| item.set(Some(data.content)),
        );
    });
    view! {
        <ErrorLine error=error/>
        {move || item.get().map(|c| {
            let relations = c.relations.into_iter().map(|r| (format!("{:?} →", r.relation), r.relation_name, r.other.id, r.other.name))
                .chain(c.incoming.into_iter().map(|r| (format!("← {:?} of", r.relation), r.relation_name, r.other.id, r.other.name)))
                .collect::<Vec<_>>();
            view! {
                <h1>{c.name.clone()}</h1>
                <p class="muted">{format!(
                    "{:?} by {} · {} · made {}",
                    c.type_,
                    c.creator.map(|u| u.username).unwrap_or_default(),
                    if c.restricted { "restricted" } else if c.published { "published" } else { "draft" },
                    short_time(&c.created_at),
                )}</p>
                <pre>{c.description}</pre>
                <section class="card">
                    <h2>"Revisions"</h2>
                    <table class="revisions">
                        <thead><tr><th>"Id"</th><th>"Name"</th><th>"Status"</th><th>"Made"</th></tr></thead>
                        <tbody>
                            {c.revisions.into_iter().map(|r| view! {
                                <tr><td>{r.id}</td><td>{r.name}</td><td>{format!("{:?}", r.status)}</td><td>{short_time(&r.created_at)}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </section>
                <section class="card">
                    <h2>"Relations"</h2>
                    <ul class="relations">
                        {relations.into_iter().map(|(how, name, id, other)| view! {
                            <li>{format!("{how} ")}<A href=format!("/admin/content/{id}")>{other}</A>{name.map(|n| format!(" ({n})"))}</li>
                        }).collect_view()}
                    </ul>
                </section>
                <section class="card">
                    <h2>"Moderation"</h2>
                    <ul class="decisions">
                        {c.moderation_history.into_iter().map(|d| view! {
                            <li>{format!(
                                "{:?}{} by {} {}{}",
                                d.action,
                                d.rejection_reason.map(|r| format!(" ({r:?})")).unwrap_or_default(),
                                d.moderator.map(|u| u.username).unwrap_or_default(),
                                d.decided_at.map(|t| short_time(&t)).unwrap_or_else(|| "pending".into()),
                                d.description.map(|t| format!(": {t}")).unwrap_or_default(),
                            )}</li>
                        }).collect_view()}
                    </ul>
                </section>
            }
        })}
    }
}

#[component]
pub fn CategoryTree() -> impl IntoView {
    let session = expect_context::<Session>();
    let all = RwSignal::new(Vec::<api::categories::CategoriesCategories>::new());
    let error = RwSignal::new(None::<Failure>);
    let load = move || {
        run::<api::Categories>(session, api::categories::Variables {}, error, move |data| {
            all.set(data.categories)
        });
    };
    load();
    fn branch(
        all: &[api::categories::CategoriesCategories],
        parent: Option<&str>,
    ) -> impl IntoView + use<> {
        let children: Vec<_> = all
            .iter()
            .filter(|c| c.parent_id.as_deref() == parent)
            .cloned()
            .collect();
        let all = all.to_vec();
        view! {
            <ul class="tree">
                {children.into_iter().map(|c| {
                    let below = branch(&all, Some(&c.id)).into_any();
                    let types = c.content_types.iter().map(|t| format!("{t:?}").to_lowercase()).collect::<Vec<_>>().join(", ");
                    view! { <li><span class="category">{c.name}</span>" "<span class="muted">{types}</span>{below}</li> }
                }).collect_view()}
            </ul>
        }
    }
    let name = RwSignal::new(String::new());
    let parent = RwSignal::new(String::new());
    let types = RwSignal::new(String::new());
    let create_error = RwSignal::new(None::<Failure>);
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let kinds = list(&types.get_untracked())
            .into_iter()
            .map(|t| serde_json::from_value(serde_json::Value::String(t.to_uppercase())))
            .collect::<Result<Vec<api::create_category::ContentKind>, _>>();
        let Ok(kinds) = kinds else {
            create_error.set(Some(Failure::local("Unknown content type.")));
            return;
        };
        let input = api::create_category::CategoryInput {
            name: Some(name.get_untracked()),
            parent_id: Some(parent.get_untracked()).filter(|p| !p.is_empty()),
            content_types: Some(kinds),
        };
        run::<api::CreateCategory>(
            session,
            api::create_category::Variables { input },
            create_error,
            move |_| {
                name.set(String::new());
                types.set(String::new());
                load();
            },
        );
    };
    view! {
        <h1>"Categories"</h1>
        <ErrorLine error=error/>
        {move || all.with(|all| branch(all, None))}
        <Show when=move || session.can("catalog.manage")>
            <section class="card">
                <h2>"New category"</h2>
                <form class="category" on:submit=create>
                    <label>"Name" <input name="category-name" required prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/></label>
                    <label>"Below"
                        <select name="category-parent" on:change=move |ev| parent.set(event_target_value(&ev))>
                            <option value="">"(the root)"</option>
                            {move || all.get().into_iter().map(|c| view! { <option value=c.id>{c.name}</option> }).collect_view()}
                        </select>
                    </label>
                    <label>"Content types (comma-separated, such as hat, tool)" <input name="category-types" prop:value=move || types.get() on:input=move |ev| types.set(event_target_value(&ev))/></label>
                    <ErrorLine error=create_error/>
                    <button type="submit">"Create"</button>
                </form>
            </section>
        </Show>
    }
}

#[component]
pub fn GameList() -> impl IntoView {
    let session = expect_context::<Session>();
    let rows = RwSignal::new(Vec::<api::games::GamesContentsEdgesNode>::new());
    let error = RwSignal::new(None::<Failure>);
    run::<api::Games>(
        session,
        api::games::Variables { first: Some(100) },
        error,
        move |data| rows.set(data.contents.edges.into_iter().map(|e| e.node).collect()),
    );
    view! {
        <h1>"Games"</h1>
        <ErrorLine error=error/>
        <div class="scroll">
            <table class="games">
                <thead><tr><th>"Game"</th><th>"Creator"</th><th>"Published"</th><th>"Hosted"</th><th>"Players"</th><th>"Supports"</th></tr></thead>
                <tbody>
                    {move || rows.get().into_iter().map(|g| {
                        let game = g.game;
                        view! {
                            <tr>
                                <td><A href=format!("/admin/content/{}", g.id)>{g.name}</A></td>
                                <td>{g.creator.map(|u| u.username).unwrap_or_default()}</td>
                                <td>{if g.published { "yes" } else { "no" }}</td>
                                <td>{game.as_ref().map(|x| if x.hosted { "self-hosted" } else { "any" }).unwrap_or_default()}</td>
                                <td>{game.as_ref().map(|x| x.max_players)}</td>
                                <td>{game.map(|x| x.supports.into_iter().map(|s| format!(
                                    "{:?}{}{}",
                                    s.flag,
                                    if s.enabled { "" } else { " (off)" },
                                    s.content.map(|c| format!(": {}", c.name)).unwrap_or_default(),
                                )).collect::<Vec<_>>().join(", "))}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
