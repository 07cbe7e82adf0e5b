//! Login throttling, in memory: after a few failed logins for a user name, or from an address,
//! further attempts wait an exponentially growing delay (1 s, 2 s, 4 s… up to 15 minutes), during
//! which even the right password is refused without being checked.
//!
//! An address gets more free failures than a name: many people can share one address. A success
//! clears the name's count only, so that one valid account does not unlock guessing others from
//! the same address. Counts are forgotten an hour after the last failure.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed logins for one name before the delays start.
const FREE_FAILURES_PER_NAME: u32 = 5;
/// Failed logins from one address before the delays start.
const FREE_FAILURES_PER_ADDRESS: u32 = 20;
/// The longest delay.
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// A count is forgotten this long after its last failure.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Above this many entries, forgotten ones are removed.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Name(String),
    Address(IpAddr),
}

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
}

/// The failed-login counts, shared by all requests.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<Key, Failures>>,
}

impl LoginThrottle {
    /// How long a login for `name` from `address` must still wait, if it must.
    pub fn wait(&self, name: &str, address: Option<IpAddr>) -> Option<Duration> {
        let now = Instant::now();
        let failures = self.lock();
        let mut keys = vec![(Key::Name(name.to_string()), FREE_FAILURES_PER_NAME)];
        if let Some(address) = address {
            keys.push((Key::Address(address), FREE_FAILURES_PER_ADDRESS));
        }
        keys.into_iter()
            .filter_map(|(key, free)| {
                let entry = failures.get(&key)?;
                let until = entry.last + delay(entry.count, free);
                until.checked_duration_since(now)
            })
            .filter(|left| !left.is_zero())
            .max()
    }

    /// Records a failed login.
    pub fn failed(&self, name: &str, address: Option<IpAddr>) {
        let now = Instant::now();
        let mut failures = self.lock();
        if failures.len() > PRUNE_ABOVE {
            failures.retain(|_, entry| now.duration_since(entry.last) < FORGET_AFTER);
        }
        let mut keys = vec![Key::Name(name.to_string())];
        keys.extend(address.map(Key::Address));
        for key in keys {
            let entry = failures.entry(key).or_insert(Failures {
                count: 0,
                last: now,
            });
            if now.duration_since(entry.last) >= FORGET_AFTER {
                entry.count = 0;
            }
            entry.count += 1;
            entry.last = now;
        }
    }

    /// Records a successful login: the name starts afresh.
    pub fn succeeded(&self, name: &str) {
        self.lock().remove(&Key::Name(name.to_string()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Failures>> {
        // A panic while holding the lock leaves only counts behind: still usable.
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The delay after `count` failures when `free` are free.
fn delay(count: u32, free: u32) -> Duration {
    if count < free {
        return Duration::ZERO;
    }
    let exponent = (count - free).min(20);
    Duration::from_secs(1u64 << exponent).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_the_free_failures() {
        assert_eq!(delay(4, 5), Duration::ZERO);
        assert_eq!(delay(5, 5), Duration::from_secs(1));
        assert_eq!(delay(8, 5), Duration::from_secs(8));
        assert_eq!(delay(40, 5), MAX_DELAY);
    }

    #[test]
    fn a_name_is_throttled_after_five_failures_and_freed_by_a_success() {
        let throttle = LoginThrottle::default();
        for _ in 0..4 {
            throttle.failed("alice", None);
        }
        assert_eq!(throttle.wait("alice", None), None);
        throttle.failed("alice", None);
        assert!(throttle.wait("alice", None).is_some());
        assert_eq!(throttle.wait("bob", None), None);
        throttle.succeeded("alice");
        assert_eq!(throttle.wait("alice", None), None);
    }
}
