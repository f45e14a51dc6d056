//! What one caller may make the agent do, and how often (SPEC 7: every resource a peer can
//! make the agent hold or write is bounded): token buckets for failed authentications (by
//! client address) and for actions (by caller), a bound on the listings one caller has the
//! agent work on at once, and the size limits of a request. Every map keyed by a peer
//! holds at most [`PEER_MAP_CAP`] entries, dropping the oldest, so a peer cannot grow it
//! by coming from many addresses.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wms_host::Config;

/// The most peers any one map here remembers.
pub const PEER_MAP_CAP: usize = 4096;

/// A client address as limits count it: an IPv4 address, or the /64 an IPv6 address is
/// in (one subscriber usually holds a whole /64, so single addresses would be free).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpKey(IpAddr);

impl IpKey {
    pub fn of(ip: IpAddr) -> IpKey {
        match ip {
            IpAddr::V4(_) => IpKey(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpKey(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    IpKey(IpAddr::V6(bits.into()))
                }
            },
        }
    }
}

impl std::fmt::Display for IpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}"),
            IpAddr::V6(a) => write!(f, "{a}/64"),
        }
    }
}

/// Who a limit counts against: a user on the Unix socket, or a token over TCP.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CallerKey {
    Uid(u32),
    Token(String),
}

/// A map that keeps at most `cap` entries, dropping the one inserted first.
#[derive(Debug)]
pub struct Bounded<K, V> {
    map: HashMap<K, V>,
    order: VecDeque<K>,
    cap: usize,
}

impl<K: Eq + Hash + Clone, V> Bounded<K, V> {
    pub fn new(cap: usize) -> Self {
        Bounded {
            map: HashMap::new(),
            order: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    /// The entry of `key`, made with `make` when missing; makes room first by dropping
    /// the oldest entries, which are returned.
    pub fn entry(&mut self, key: &K, make: impl FnOnce() -> V) -> (&mut V, Vec<(K, V)>) {
        let mut evicted = Vec::new();
        if !self.map.contains_key(key) {
            while self.map.len() >= self.cap {
                let Some(old) = self.order.pop_front() else {
                    break;
                };
                if let Some(v) = self.map.remove(&old) {
                    evicted.push((old, v));
                }
            }
            self.order.push_back(key.clone());
            self.map.insert(key.clone(), make());
        }
        (self.map.get_mut(key).expect("inserted above"), evicted)
    }

    /// Removes the entry of `key` if `pick` selects it.
    pub fn remove_if(&mut self, key: &K, pick: impl FnOnce(&V) -> bool) -> Option<V> {
        if self.map.get(key).is_some_and(pick) {
            self.remove(key)
        } else {
            None
        }
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let v = self.map.remove(key)?;
        self.order.retain(|k| k != key);
        Some(v)
    }

    /// Removes and returns the entries `pick` selects, oldest first.
    pub fn take_where(&mut self, mut pick: impl FnMut(&V) -> bool) -> Vec<(K, V)> {
        let mut out = Vec::new();
        let map = &mut self.map;
        self.order.retain(|k| match map.get(k) {
            Some(v) if pick(v) => {
                if let Some(v) = map.remove(k) {
                    out.push((k.clone(), v));
                }
                false
            }
            _ => true,
        });
        out
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// A token bucket: `burst` tokens, refilled at `per_sec`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by key.
#[derive(Debug)]
pub struct RateLimiter<K> {
    burst: f64,
    per_sec: f64,
    buckets: Mutex<Bounded<K, Bucket>>,
}

impl<K: Eq + Hash + Clone> RateLimiter<K> {
    pub fn new(burst: u32, per_sec: f64) -> Self {
        RateLimiter {
            burst: f64::from(burst.max(1)),
            per_sec,
            buckets: Mutex::new(Bounded::new(PEER_MAP_CAP)),
        }
    }

    fn with_bucket<T>(&self, key: &K, now: Instant, f: impl FnOnce(&mut Bucket) -> T) -> T {
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let burst = self.burst;
        let (b, _) = map.entry(key, || Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_sec).min(self.burst);
        b.at = now;
        f(b)
    }

    /// How long until `key` has a whole token, or `None` if it has one now.
    fn wait_of(&self, b: &Bucket) -> Option<Duration> {
        (b.tokens < 1.0).then(|| Duration::from_secs_f64((1.0 - b.tokens) / self.per_sec))
    }

    /// Takes a token for `key`, or says how long until one is there.
    pub fn take(&self, key: &K) -> Result<(), Duration> {
        self.take_at(key, Instant::now())
    }

    fn take_at(&self, key: &K, now: Instant) -> Result<(), Duration> {
        self.with_bucket(key, now, |b| match self.wait_of(b) {
            Some(wait) => Err(wait),
            None => {
                b.tokens -= 1.0;
                Ok(())
            }
        })
    }

    /// Whether `key` has a token, without taking it.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        self.with_bucket(key, Instant::now(), |b| match self.wait_of(b) {
            Some(wait) => Err(wait),
            None => Ok(()),
        })
    }

    /// Takes a token for `key` if it has one (a failure that happened counts whether or
    /// not the bucket had room for it).
    pub fn spend(&self, key: &K) {
        self.with_bucket(key, Instant::now(), |b| {
            b.tokens = (b.tokens - 1.0).max(0.0)
        });
    }
}

/// At most `permits` tasks per key at once; others wait their turn.
#[derive(Debug)]
pub struct Concurrency<K> {
    permits: usize,
    gates: Mutex<Bounded<K, Arc<Semaphore>>>,
}

impl<K: Eq + Hash + Clone> Concurrency<K> {
    pub fn new(permits: usize) -> Self {
        Concurrency {
            permits: permits.max(1),
            gates: Mutex::new(Bounded::new(PEER_MAP_CAP)),
        }
    }

    /// Waits for a turn of `key`; the turn lasts as long as the permit is held.
    pub async fn turn(&self, key: &K) -> OwnedSemaphorePermit {
        let gate = {
            let mut map = self.gates.lock().unwrap_or_else(|p| p.into_inner());
            // A gate dropped from the map while in use lets its key have one more gate's
            // worth at once for a while: a bound still, and only with PEER_MAP_CAP others
            // calling in between.
            map.entry(key, || Arc::new(Semaphore::new(self.permits)))
                .0
                .clone()
        };
        gate.acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }
}

/// The per-caller limits and request size limits of the agent.
#[derive(Debug)]
pub struct Limits {
    /// Failed authentications by client address.
    pub auth_failures: RateLimiter<IpKey>,
    /// Actions by caller (root on the socket is not limited).
    pub actions: RateLimiter<CallerKey>,
    /// Listings at once by caller.
    pub listings: Concurrency<CallerKey>,
    pub max_body_bytes: usize,
    pub max_session_ids: usize,
    pub body_timeout: Duration,
}

impl Limits {
    pub fn from_config(c: &Config) -> Limits {
        Limits {
            auth_failures: RateLimiter::new(
                c.auth_failures_burst,
                c.auth_failures_per_minute / 60.0,
            ),
            actions: RateLimiter::new(c.actions_burst, c.actions_per_second),
            listings: Concurrency::new(c.list_concurrency),
            max_body_bytes: usize::try_from(c.max_body_bytes).unwrap_or(usize::MAX),
            max_session_ids: c.max_session_ids,
            body_timeout: Duration::from_secs_f64(c.body_timeout),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::from_config(&Config::default())
    }
}

/// `Retry-After` takes whole seconds; round up so a client that waits that long gets in.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_counts_by_slash_64_and_mapped_ipv4_as_ipv4() {
        let a = IpKey::of("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = IpKey::of("2001:db8:1:2:bbbb::2".parse().unwrap());
        let c = IpKey::of("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        assert_eq!(
            IpKey::of("::ffff:10.0.0.1".parse().unwrap()),
            IpKey::of("10.0.0.1".parse().unwrap())
        );
    }

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let l = RateLimiter::new(3, 2.0);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.take_at(&1, t0).is_ok());
        }
        let wait = l.take_at(&1, t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert_eq!(retry_after_secs(wait), 1);
        // Others are not held up by one key's empty bucket.
        assert!(l.take_at(&2, t0).is_ok());
        assert!(l.take_at(&1, t0 + Duration::from_millis(500)).is_ok());
        assert!(l.take_at(&1, t0 + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn maps_keep_at_most_their_cap_dropping_the_oldest() {
        let mut m = Bounded::new(3);
        for k in 0..5 {
            let (v, evicted) = m.entry(&k, || k * 10);
            assert_eq!(*v, k * 10);
            assert_eq!(evicted.len(), usize::from(k >= 3));
        }
        assert_eq!(m.len(), 3);
        let mut left: Vec<_> = m.values().copied().collect();
        left.sort();
        assert_eq!(left, [20, 30, 40]);
        assert_eq!(m.take_where(|v| *v >= 30).len(), 2);
        assert_eq!(m.len(), 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn listings_wait_for_a_turn_beyond_the_bound() {
        let c = Concurrency::new(2);
        let key = CallerKey::Uid(1000);
        let a = c.turn(&key).await;
        let _b = c.turn(&key).await;
        // A third waits while two are held; another caller does not.
        let third = tokio::time::timeout(Duration::from_millis(50), c.turn(&key)).await;
        assert!(third.is_err());
        let _other = c.turn(&CallerKey::Uid(1001)).await;
        drop(a);
        let _c = c.turn(&key).await;
    }
}
