//! Sign-in: username or email, password, and a two-factor code when enrolled.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::{
    api::{self, Failure},
    session::{Session, Tokens},
    widgets::ErrorLine,
};

#[component]
pub fn SignIn() -> impl IntoView {
    let session = expect_context::<Session>();
    let navigate = use_navigate();
    let login = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let totp = RwSignal::new(String::new());
    let error = RwSignal::new(None::<Failure>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let navigate = navigate.clone();
        busy.set(true);
        error.set(None);
        let variables = api::login::Variables {
            login: login.get_untracked(),
            password: password.get_untracked(),
            totp_code: Some(totp.get_untracked()).filter(|c| !c.trim().is_empty()),
        };
        leptos::task::spawn_local(async move {
            match api::call::<api::Login>(session, variables).await {
                Ok(data) => {
                    session.store(Tokens {
                        access: data.login.access_token,
                        refresh: data.login.refresh_token,
                    });
                    match crate::load_me(session).await {
                        Ok(()) => navigate("/admin", Default::default()),
                        Err(message) => error.set(Some(Failure {
                            code: "FORBIDDEN".into(),
                            message,
                        })),
                    }
                }
                Err(failure) => error.set(Some(failure)),
            }
            busy.set(false);
        });
    };
    view! {
        <section class="card narrow">
            <h1>"Sign in"</h1>
            <form on:submit=submit>
                <label>"Username or email"
                    <input name="login" autocomplete="username" required
                        prop:value=move || login.get() on:input=move |ev| login.set(event_target_value(&ev))/>
                </label>
                <label>"Password"
                    <input name="password" type="password" autocomplete="current-password" required
                        prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
                </label>
                <label>"Two-factor code (when enrolled)"
                    <input name="totp" autocomplete="one-time-code" inputmode="numeric"
                        prop:value=move || totp.get() on:input=move |ev| totp.set(event_target_value(&ev))/>
                </label>
                <ErrorLine error=error/>
                <button type="submit" disabled=move || busy.get()>"Sign in"</button>
            </form>
        </section>
    }
}
