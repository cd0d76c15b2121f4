//! The signed-in moderator: tokens kept in the browser, and what they may do.

use gloo_storage::{LocalStorage, Storage};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

const KEY: &str = "arena.dashboard.tokens";

/// Access and refresh token of the sign-in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tokens {
    /// Short-lived access token.
    pub access: String,
    /// Single-use refresh token.
    pub refresh: String,
}

/// Who is signed in.
#[derive(Debug, Clone, PartialEq)]
pub struct Moderator {
    /// Username.
    pub username: String,
    /// Effective privileges.
    pub privileges: Vec<String>,
}

/// Shared through context; cheap to copy.
#[derive(Clone, Copy)]
pub struct Session {
    tokens: RwSignal<Option<Tokens>>,
    /// Who is signed in, once loaded.
    pub me: RwSignal<Option<Moderator>>,
}

impl Session {
    /// From what the browser kept.
    pub fn load() -> Self {
        Self {
            tokens: RwSignal::new(LocalStorage::get(KEY).ok()),
            me: RwSignal::new(None),
        }
    }

    /// Keeps new tokens.
    pub fn store(&self, tokens: Tokens) {
        let _ = LocalStorage::set(KEY, &tokens);
        self.tokens.set(Some(tokens));
    }

    /// Forgets the sign-in.
    pub fn clear(&self) {
        LocalStorage::delete(KEY);
        self.tokens.set(None);
        self.me.set(None);
    }

    /// Whether tokens are held.
    pub fn signed_in(&self) -> bool {
        self.tokens.with(Option::is_some)
    }

    /// The access token.
    pub fn access_token(&self) -> Option<String> {
        self.tokens
            .with_untracked(|t| t.as_ref().map(|t| t.access.clone()))
    }

    /// The refresh token.
    pub fn refresh_token(&self) -> Option<String> {
        self.tokens
            .with_untracked(|t| t.as_ref().map(|t| t.refresh.clone()))
    }

    /// Whether the moderator holds `privilege`.
    pub fn can(&self, privilege: &str) -> bool {
        self.me.with(|me| {
            me.as_ref()
                .is_some_and(|m| m.privileges.iter().any(|p| p == privilege))
        })
    }
}
