//! Signed addresses: `/assets/{id}?expires=…&signature=…` for a private file, and
//! `/assets/uploads/{ticket}` for an upload without GraphQL. Both are HMAC-SHA256 under keys
//! derived from the token secret, so every instance issues and accepts the same ones.

use std::time::Duration;

use arena_entity::assets::asset::AssetKind;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use hmac::Mac;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::tokens::TokenKeys;

/// Issues and checks signed addresses.
pub struct Signer {
    download: [u8; 32],
    upload: [u8; 32],
    /// How long an address is valid.
    pub ttl: Duration,
}

/// What an upload ticket allows: one file of `kind` by `user`, stored as asset `asset`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Ticket {
    #[serde(rename = "a")]
    pub asset: Uuid,
    #[serde(rename = "u")]
    pub user: Uuid,
    #[serde(rename = "k")]
    pub kind: String,
    #[serde(rename = "p")]
    pub public: bool,
    #[serde(rename = "t")]
    pub tag: Option<String>,
    #[serde(rename = "n")]
    pub name: String,
    #[serde(rename = "e")]
    pub expires: i64,
}

impl Ticket {
    /// The kind it names.
    pub fn kind(&self) -> Option<AssetKind> {
        use sea_orm::ActiveEnum;
        AssetKind::try_from_value(&self.kind).ok()
    }
}

fn mac(key: &[u8; 32], message: &[u8]) -> hmac::Hmac<sha2::Sha256> {
    crate::auth::tokens::hmac_sha256(key, message)
}

impl Signer {
    /// Keys derived from the token secret.
    pub fn new(keys: &TokenKeys, ttl: Duration) -> Self {
        Self {
            download: keys.derived_key("arena.assets.download"),
            upload: keys.derived_key("arena.assets.upload"),
            ttl,
        }
    }

    fn expiry(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::MAX)
    }

    /// The address of a private file, valid until the returned time.
    pub fn download_url(&self, id: Uuid) -> (String, DateTime<Utc>) {
        let until = self.expiry();
        let expires = until.timestamp();
        let signature = URL_SAFE_NO_PAD.encode(
            mac(&self.download, format!("{id}.{expires}").as_bytes())
                .finalize()
                .into_bytes(),
        );
        (
            format!("/assets/{id}?expires={expires}&signature={signature}"),
            until,
        )
    }

    /// Whether a private file's address is genuine and not expired.
    pub fn check_download(&self, id: Uuid, expires: i64, signature: &str) -> bool {
        if expires < Utc::now().timestamp() {
            return false;
        }
        let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        mac(&self.download, format!("{id}.{expires}").as_bytes())
            .verify_slice(&signature)
            .is_ok()
    }

    /// An upload ticket for `ticket` (its `expires` is set here) and its address.
    pub fn upload_url(&self, mut ticket: Ticket) -> (String, DateTime<Utc>) {
        let until = self.expiry();
        ticket.expires = until.timestamp();
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&ticket).unwrap_or_default());
        let signature = URL_SAFE_NO_PAD.encode(
            mac(&self.upload, payload.as_bytes())
                .finalize()
                .into_bytes(),
        );
        (format!("/assets/uploads/{payload}.{signature}"), until)
    }

    /// The ticket in `token`, when it is genuine and not expired.
    pub fn check_upload(&self, token: &str) -> Option<Ticket> {
        let (payload, signature) = token.split_once('.')?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        mac(&self.upload, payload.as_bytes())
            .verify_slice(&signature)
            .ok()?;
        let ticket: Ticket = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        (ticket.expires >= Utc::now().timestamp()).then_some(ticket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer::new(&TokenKeys::from_secret(b"secret"), Duration::from_secs(60))
    }

    #[test]
    fn download_addresses_are_bound_to_their_file_and_time() {
        let s = signer();
        let id = Uuid::new_v4();
        let (url, _) = s.download_url(id);
        let query = url.split_once('?').unwrap().1;
        let mut expires = 0;
        let mut signature = "";
        for pair in query.split('&') {
            match pair.split_once('=').unwrap() {
                ("expires", v) => expires = v.parse().unwrap(),
                ("signature", v) => signature = v,
                _ => {}
            }
        }
        assert!(s.check_download(id, expires, signature));
        assert!(!s.check_download(Uuid::new_v4(), expires, signature));
        assert!(!s.check_download(id, expires + 1, signature));
        assert!(!s.check_download(id, 1, signature));
        let other = Signer::new(&TokenKeys::from_secret(b"other"), Duration::from_secs(60));
        assert!(!other.check_download(id, expires, signature));
    }

    #[test]
    fn tickets_cannot_be_altered() {
        let s = signer();
        let ticket = Ticket {
            asset: Uuid::new_v4(),
            user: Uuid::new_v4(),
            kind: "image".into(),
            public: false,
            tag: None,
            name: "a.png".into(),
            expires: 0,
        };
        let (url, _) = s.upload_url(ticket.clone());
        let token = url.rsplit('/').next().unwrap();
        let back = s.check_upload(token).unwrap();
        assert_eq!(back.asset, ticket.asset);
        let (payload, signature) = token.split_once('.').unwrap();
        let mut forged: Ticket =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        forged.public = true;
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert!(s.check_upload(&format!("{forged}.{signature}")).is_none());
    }
}
