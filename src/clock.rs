//! The live service's wall clock. It is read through tokio's clock, so a test that pauses
//! time (`#[tokio::test(start_paused = true)]`) controls exactly what "now" is for idle
//! advancement and for the current SLA gauges. It is the only wall clock: the rebalance
//! restore, the demo and `generate --follow` read it too.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::base::Millis;

/// Wall-clock time in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    /// Unix time at `origin`.
    origin_ms: Millis,
    origin: Instant,
}

impl WallClock {
    /// The system clock.
    pub fn system() -> Self {
        let ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_millis() as Millis;
        Self::starting_at(ms)
    }

    /// A clock that reads `unix_ms` now and advances with tokio's clock.
    pub fn starting_at(unix_ms: Millis) -> Self {
        Self { origin_ms: unix_ms, origin: Instant::now() }
    }

    pub fn now(&self) -> Millis {
        self.origin_ms + self.origin.elapsed().as_millis() as Millis
    }

    /// How long from now until `at`; zero once it has come. What following the clock in real
    /// time (the demo's feed, `generate --follow`) waits for.
    pub fn until(&self, at: Millis) -> Duration {
        Duration::from_millis(at.saturating_sub(self.now()).max(0) as u64)
    }
}
