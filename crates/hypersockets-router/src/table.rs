//! Route key → lane index, built once.

use std::hash::Hash;

use rustc_hash::FxHashMap;

/// Keys up to this many are found by a linear scan: for small enum keys a
/// few comparisons beat hashing.
const SCAN_LIMIT: usize = 8;

/// Maps each route key to its lane. Lookups are O(1): a short scan for a
/// handful of keys, an Fx hash map beyond that.
#[derive(Debug)]
pub(crate) enum RouteTable<K> {
    Scan(Vec<(K, usize)>),
    Hashed(FxHashMap<K, usize>),
}

impl<K: Eq + Hash> RouteTable<K> {
    pub(crate) fn new(entries: Vec<(K, usize)>) -> Self {
        if entries.len() <= SCAN_LIMIT {
            RouteTable::Scan(entries)
        } else {
            RouteTable::Hashed(entries.into_iter().collect())
        }
    }

    #[inline]
    pub(crate) fn get(&self, key: &K) -> Option<usize> {
        match self {
            RouteTable::Scan(entries) => entries
                .iter()
                .find_map(|(k, lane)| (k == key).then_some(*lane)),
            RouteTable::Hashed(map) => map.get(key).copied(),
        }
    }
}
