//! A small TTL cache with a size bound, like Python cachetools.TTLCache which
//! upstream uses for both the s3triggers lookups and S3 event de-duplication:
//! entries expire a fixed time after insertion; when full, the least recently
//! used entry goes. It lives as long as the Lambda execution environment, so
//! it spans invocations of a warm function.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the caches read the time: the monotonic system clock, or a test's
/// own, which moves only when the test says (no test sleeps out a TTL).
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Instant + Send + Sync>);

impl Clock {
    pub fn new(now: impl Fn() -> Instant + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    pub fn now(&self) -> Instant {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::new(Instant::now)
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

pub struct TtlCache<K, V> {
    capacity: usize,
    ttl: Duration,
    clock: Clock,
    entries: HashMap<K, Entry<V>>,
}

struct Entry<V> {
    value: V,
    inserted: Instant,
    used: Instant,
}

impl<K: Hash + Eq + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(capacity: usize, ttl: Duration, clock: Clock) -> Self {
        TtlCache {
            capacity,
            ttl,
            clock,
            entries: HashMap::new(),
        }
    }

    pub fn get(&mut self, key: &K) -> Option<V> {
        let now = self.clock.now();
        self.get_at(key, now)
    }

    pub fn insert(&mut self, key: K, value: V) {
        let now = self.clock.now();
        self.insert_at(key, value, now)
    }

    fn expire(&mut self, now: Instant) {
        let ttl = self.ttl;
        self.entries
            .retain(|_, e| now.duration_since(e.inserted) < ttl);
    }

    pub(crate) fn get_at(&mut self, key: &K, now: Instant) -> Option<V> {
        self.expire(now);
        let entry = self.entries.get_mut(key)?;
        entry.used = now;
        Some(entry.value.clone())
    }

    pub(crate) fn insert_at(&mut self, key: K, value: V, now: Instant) {
        if self.capacity == 0 {
            return;
        }
        self.expire(now);
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            if let Some(lru) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            {
                self.entries.remove(&lru);
            }
        }
        self.entries.insert(
            key,
            Entry {
                value,
                inserted: now,
                used: now,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_and_evicts() {
        let t0 = Instant::now();
        let mut c = TtlCache::new(2, Duration::from_secs(30), Clock::default());
        c.insert_at("a", 1, t0);
        c.insert_at("b", 2, t0);
        assert_eq!(c.get_at(&"a", t0 + Duration::from_secs(1)), Some(1));
        // Full: b is the least recently used.
        c.insert_at("c", 3, t0 + Duration::from_secs(2));
        assert_eq!(c.get_at(&"b", t0 + Duration::from_secs(2)), None);
        assert_eq!(c.get_at(&"a", t0 + Duration::from_secs(29)), Some(1));
        // A read does not extend the life of an entry.
        assert_eq!(c.get_at(&"a", t0 + Duration::from_secs(30)), None);
        assert_eq!(c.get_at(&"c", t0 + Duration::from_secs(31)), Some(3));
    }

    #[test]
    fn zero_capacity_holds_nothing() {
        let mut c = TtlCache::new(0, Duration::from_secs(30), Clock::default());
        c.insert("a", 1);
        assert_eq!(c.get(&"a"), None);
    }
}
