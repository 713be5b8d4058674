//! A circuit breaker for the upstream: after `failures` consecutive availability failures
//! (timeouts, refused connections, HTTP 5xx, answers that cannot be read whole; never an HTTP
//! 4xx, which a caller's own request provoked) it opens and answers at once for `cooldown`, then
//! lets one probe through; the probe's success closes it, its failure opens it again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::Error;

/// Breaker settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failures that open the breaker (`CONTACTNOW_BREAKER_FAILURES`).
    pub failures: u32,
    /// How long it stays open before a probe (`CONTACTNOW_BREAKER_COOLDOWN_MS`).
    pub cooldown: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            failures: 5,
            cooldown: Duration::from_secs(10),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    Probing,
}

/// The breaker of one client.
pub(crate) struct Breaker {
    settings: BreakerSettings,
    state: Mutex<State>,
}

/// Leave to make one call; reports its outcome. Dropped unreported (the caller went away and its
/// request future was dropped mid-call), it says nothing about the upstream's availability, so it
/// never counts as a failure (no caller can open the breaker for everyone by cancelling); a
/// cancelled probe hands the probe to the next call, so the breaker cannot stay half-open.
pub(crate) struct Permit<'a> {
    breaker: &'a Breaker,
    reported: bool,
}

impl Permit<'_> {
    /// Reports the call's outcome.
    pub fn report(mut self, success: bool) {
        self.reported = true;
        self.breaker.record(success);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.reported {
            self.breaker.cancel();
        }
    }
}

impl Breaker {
    /// A closed breaker.
    pub fn new(settings: BreakerSettings) -> Self {
        Self {
            settings,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// Leave for one call, or a 503 while open (or while the probe runs).
    pub fn admit(&self) -> Result<Permit<'_>, Error> {
        let mut state = self.state.lock().expect("breaker lock");
        match *state {
            State::Closed { .. } => {}
            State::Open { until } if Instant::now() >= until => *state = State::Probing,
            State::Open { .. } | State::Probing => {
                return Err(Error::UpstreamUnavailable("circuit breaker open".into()));
            }
        }
        Ok(Permit {
            breaker: self,
            reported: false,
        })
    }

    /// A call cancelled before its outcome: a probe lets the next call probe; otherwise nothing
    /// changes.
    fn cancel(&self) {
        let mut state = self.state.lock().expect("breaker lock");
        if matches!(*state, State::Probing) {
            *state = State::Open {
                until: Instant::now(),
            };
        }
    }

    fn record(&self, success: bool) {
        let mut state = self.state.lock().expect("breaker lock");
        *state = match (*state, success) {
            (_, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) if failures + 1 < self.settings.failures => {
                State::Closed {
                    failures: failures + 1,
                }
            }
            (_, false) => {
                if !matches!(*state, State::Open { .. }) {
                    tracing::warn!(
                        cooldown_ms = self.settings.cooldown.as_millis() as u64,
                        "upstream circuit breaker opened"
                    );
                }
                State::Open {
                    until: Instant::now() + self.settings.cooldown,
                }
            }
        };
    }

    /// Whether the breaker is open: calls are refused until the cooldown ends.
    pub fn is_open(&self) -> bool {
        matches!(
            *self.state.lock().expect("breaker lock"),
            State::Open { .. }
        )
    }

    /// 0 closed, 1 open, 2 probing (for the `circuit_state` gauge).
    pub fn state_code(&self) -> i64 {
        match *self.state.lock().expect("breaker lock") {
            State::Closed { .. } => 0,
            State::Open { .. } => 1,
            State::Probing => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_and_probes_once() {
        let breaker = Breaker::new(BreakerSettings {
            failures: 2,
            cooldown: Duration::from_millis(30),
        });
        breaker.admit().unwrap().report(false);
        breaker.admit().unwrap().report(true);
        breaker.admit().unwrap().report(false);
        breaker.admit().unwrap().report(false);
        assert!(breaker.admit().is_err(), "open");
        std::thread::sleep(Duration::from_millis(40));
        let probe = breaker.admit().expect("one probe");
        assert!(breaker.admit().is_err(), "only one probe at a time");
        probe.report(true);
        assert_eq!(breaker.state_code(), 0);
    }

    #[test]
    fn a_cancelled_call_never_counts_and_a_cancelled_probe_frees_the_next() {
        let breaker = Breaker::new(BreakerSettings {
            failures: 2,
            cooldown: Duration::from_millis(30),
        });
        breaker.admit().unwrap().report(false);
        for _ in 0..5 {
            drop(breaker.admit().unwrap());
        }
        assert_eq!(breaker.state_code(), 0, "cancelled calls are no failures");
        breaker.admit().unwrap().report(false);
        assert_eq!(breaker.state_code(), 1);
        std::thread::sleep(Duration::from_millis(40));
        drop(breaker.admit().expect("the probe"));
        assert_eq!(breaker.state_code(), 1, "still open, not probing");
        let probe = breaker.admit().expect("the next call probes at once");
        probe.report(true);
        assert_eq!(breaker.state_code(), 0);
    }
}
