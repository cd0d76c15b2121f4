//! Rate limits on sign-in and registration, per client address and per account.

use std::num::NonZeroU32;

use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

use crate::error::{ApiError, ApiResult};

/// Keys kept before idle ones are swept; bounds memory under many distinct addresses.
const SWEEP_ABOVE: usize = 10_000;

/// One keyed limit.
pub struct Limit(DefaultKeyedRateLimiter<String>);

impl Limit {
    fn per_minute(n: NonZeroU32) -> Self {
        Self(RateLimiter::keyed(Quota::per_minute(n)))
    }

    /// Takes one unit for `key`, or answers `RATE_LIMITED` with the wait.
    pub fn check(&self, key: &str) -> ApiResult<()> {
        if self.0.len() > SWEEP_ABOVE {
            self.0.retain_recent();
        }
        self.0.check_key(&key.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::RateLimited {
                retry_after_seconds: wait.as_secs().max(1),
            }
        })
    }
}

/// The limits of the auth domain.
pub struct AuthLimits {
    /// Sign-in attempts per client address.
    pub login_by_address: Limit,
    /// Password checks per account (sign-in and every mutation that asks for the password);
    /// sign-ins to names that match no account are counted by the name, so it reveals nothing.
    pub password_by_account: Limit,
    /// Registrations per client address.
    pub register_by_address: Limit,
    /// Analytical queries (battle activity and rankings) per anonymous client address.
    pub analytics_by_address: Limit,
}

impl AuthLimits {
    /// `per_minute` of each sign-in and registration limit, `analytics_per_minute` of the
    /// analytics one.
    pub fn new(per_minute: u32, analytics_per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            login_by_address: Limit::per_minute(n),
            password_by_account: Limit::per_minute(n),
            register_by_address: Limit::per_minute(n),
            analytics_by_address: Limit::per_minute(
                NonZeroU32::new(analytics_per_minute).unwrap_or(NonZeroU32::MIN),
            ),
        }
    }
}
