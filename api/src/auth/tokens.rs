//! Access tokens (signed JWT) and opaque tokens (random, stored only as SHA-256 hashes).

use arena_entity::system::server_secret;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::settings::Secret;

/// HMAC-SHA256 of `message` under `key`, ready to finalize or verify.
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> hmac::Hmac<Sha256> {
    use hmac::{Mac, digest::KeyInit};
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(message);
    mac
}

/// How long an access token is good for.
pub const ACCESS_TTL: Duration = Duration::minutes(15);
/// How long an unused refresh token is good for.
pub const REFRESH_TTL: Duration = Duration::days(30);

const SIGNING_KEY_NAME: &str = "access_token_signing_key";
const ACCESS: &str = "access";

/// The keys that sign and check access tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    access_ttl: Duration,
    /// The secret's digest, from which keys for other signatures are derived.
    root: [u8; 32],
}

impl TokenKeys {
    /// From `ARENA_JWT_SECRET`, or from the key kept in the database (made on first start;
    /// concurrent first starts agree on one through the primary key).
    pub async fn load(
        db: &impl ConnectionTrait,
        configured: Option<&Secret>,
    ) -> Result<Self, DbErr> {
        let secret = match configured {
            Some(secret) => secret.expose().as_bytes().to_vec(),
            None => stored_key(db).await?,
        };
        Ok(Self::from_secret(&secret))
    }

    /// Keys from raw secret bytes.
    pub fn from_secret(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            access_ttl: ACCESS_TTL,
            root: Sha256::digest(secret).into(),
        }
    }

    /// A key for signing something other than access tokens (asset addresses), derived from
    /// the same secret so every instance agrees on it, and different for each `purpose`.
    pub fn derived_key(&self, purpose: &str) -> [u8; 32] {
        use hmac::Mac;
        hmac_sha256(&self.root, purpose.as_bytes())
            .finalize()
            .into_bytes()
            .into()
    }

    /// The same keys issuing access tokens that live `ttl`.
    pub fn with_access_ttl(self, ttl: Duration) -> Self {
        Self {
            access_ttl: ttl,
            ..self
        }
    }

    /// Signs an access token for `user` in refresh `series`.
    pub fn issue_access(
        &self,
        user: Uuid,
        series: Uuid,
    ) -> Result<(String, DateTime<Utc>), jsonwebtoken::errors::Error> {
        let now = Utc::now();
        let expires_at = now + self.access_ttl;
        let claims = AccessClaims {
            sub: user,
            sid: series,
            typ: ACCESS.into(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, expires_at))
    }

    /// Checks signature, expiry and type; says why a token is refused.
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, &'static str> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        match jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &validation) {
            Ok(data) if data.claims.typ == ACCESS => Ok(data.claims),
            Ok(_) => Err("that is not an access token"),
            Err(err) => Err(match err.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    "the access token has expired; refresh it"
                }
                _ => "the access token is not valid",
            }),
        }
    }
}

async fn stored_key(db: &impl ConnectionTrait) -> Result<Vec<u8>, DbErr> {
    let mut fresh = [0u8; 64];
    rand::rng().fill_bytes(&mut fresh);
    let candidate = server_secret::ActiveModel {
        name: Set(SIGNING_KEY_NAME.into()),
        value: Set(URL_SAFE_NO_PAD.encode(fresh)),
        created_at: Set(Utc::now()),
    };
    server_secret::Entity::insert(candidate)
        .on_conflict_do_nothing()
        .exec(db)
        .await?;
    let stored = server_secret::Entity::find_by_id(SIGNING_KEY_NAME.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(SIGNING_KEY_NAME.into()))?;
    URL_SAFE_NO_PAD
        .decode(stored.value)
        .map_err(|err| DbErr::Custom(format!("stored signing key is not base64: {err}")))
}

/// What an access token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user.
    pub sub: Uuid,
    /// The refresh series (one sign-in) it belongs to.
    pub sid: Uuid,
    /// Always `access`.
    pub typ: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
}

/// A new random token: what the client gets, and the hash that is stored.
pub fn new_opaque() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let plain = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_opaque(&plain);
    (plain, hash)
}

/// The stored form of an opaque token.
pub fn hash_opaque(plain: &str) -> String {
    let digest = Sha256::digest(plain.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_tokens_round_trip_and_refuse_other_keys() {
        let keys = TokenKeys::from_secret(b"0123456789abcdef0123456789abcdef");
        let (user, series) = (Uuid::new_v4(), Uuid::new_v4());
        let (token, _) = keys.issue_access(user, series).expect("signs");
        let claims = keys.verify_access(&token).expect("valid");
        assert_eq!((claims.sub, claims.sid), (user, series));

        let other = TokenKeys::from_secret(b"another key, another key, another");
        assert!(other.verify_access(&token).is_err());
        assert!(keys.verify_access("not.a.token").is_err());
    }

    #[test]
    fn expired_and_wrong_type_tokens_are_refused() {
        let keys = TokenKeys::from_secret(b"0123456789abcdef0123456789abcdef");
        let claims = |typ: &str, exp: i64| AccessClaims {
            sub: Uuid::new_v4(),
            sid: Uuid::new_v4(),
            typ: typ.into(),
            iat: 0,
            exp,
        };
        let sign = |c: &AccessClaims| {
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), c, &keys.encoding).expect("signs")
        };
        let expired = sign(&claims(ACCESS, Utc::now().timestamp() - 60));
        assert_eq!(
            keys.verify_access(&expired).err(),
            Some("the access token has expired; refresh it")
        );
        let refresh = sign(&claims("refresh", Utc::now().timestamp() + 60));
        assert_eq!(
            keys.verify_access(&refresh).err(),
            Some("that is not an access token")
        );
    }

    #[test]
    fn opaque_tokens_are_stored_hashed() {
        let (plain, hash) = new_opaque();
        assert_eq!(hash, hash_opaque(&plain));
        assert_ne!(plain, hash);
        assert_eq!(hash.len(), 64);
    }
}
