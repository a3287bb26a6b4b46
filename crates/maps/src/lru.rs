//! The recency order of LRU hash maps (the kernel's bpf_lru_list.c): which
//! element an update into a full `LRU_HASH` or `LRU_PERCPU_HASH` evicts.
//!
//! The kernel keeps approximate per-CPU active/inactive lists with a
//! reference bit that lookups set. rxdp keeps one exact order instead,
//! with the same guarantee a program can observe: the element evicted is
//! the least recently used one, where "used" means created, updated or
//! looked up by a program (control-plane lookups do not count, as
//! `htab_lru_map_lookup_elem_sys` does not set the reference bit).
//!
//! Lookups must not take the map's write lock, so a lookup only stores a
//! fresh stamp of a global clock in the element ([`LruList::touch`]), as the
//! kernel only sets a bit. The list is ordered by the stamp each element
//! had when it was last placed; the eviction walk ([`LruList::victim`])
//! re-places an element whose lookup stamp is newer than its place, and
//! evicts the first one that is where it belongs. Each lookup causes at
//! most one re-placement, so eviction costs amortised `O(log n)`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// An element's recency, kept in the map's per-slot metadata.
#[derive(Debug, Default)]
pub(crate) struct LruNode {
    /// The stamp under which the element is placed in the list (changed
    /// only under the map's write lock; atomic so the eviction walk can
    /// work through shared references).
    pos: AtomicU64,
    /// The stamp of the element's latest use.
    used: AtomicU64,
}

/// Elements in order of last use.
#[derive(Debug, Default)]
pub(crate) struct LruList {
    /// The source of stamps; lookups advance it without the map's lock.
    clock: AtomicU64,
    /// Placement stamp to slot, oldest first. Stamps are unique.
    order: BTreeMap<u64, u32>,
}

impl LruList {
    /// A fresh stamp.
    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Marks `node`'s element used now (a program's lookup). Needs only
    /// shared access: many workers look up at once.
    pub(crate) fn touch(&self, node: &LruNode) {
        node.used.store(self.tick(), Ordering::Relaxed);
    }

    /// Places a new element in `slot` as the most recently used.
    pub(crate) fn insert(&mut self, slot: u32, node: &mut LruNode) {
        let stamp = self.tick();
        *node.pos.get_mut() = stamp;
        *node.used.get_mut() = stamp;
        self.order.insert(stamp, slot);
    }

    /// Takes `node`'s element out of the order.
    pub(crate) fn remove(&mut self, node: &LruNode) {
        self.order.remove(&node.pos.load(Ordering::Relaxed));
    }

    /// The least recently used element's slot, without removing it;
    /// `node_of` gives each slot's node. `None` when the list is empty.
    pub(crate) fn victim<'a>(&mut self, node_of: impl Fn(u32) -> &'a LruNode) -> Option<u32> {
        loop {
            let (&pos, &slot) = self.order.first_key_value()?;
            let node = node_of(slot);
            let used = node.used.load(Ordering::Relaxed);
            if used <= pos {
                return Some(slot);
            }
            // Used since it was placed: move it to where its last use puts
            // it, and look again.
            self.order.remove(&pos);
            self.order.insert(used, slot);
            node.pos.store(used, Ordering::Relaxed);
        }
    }

    /// The number of elements in the order.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_victim_is_the_least_recently_used() {
        let mut list = LruList::default();
        let mut nodes: Vec<LruNode> = (0..4).map(|_| LruNode::default()).collect();
        for (slot, node) in nodes.iter_mut().enumerate() {
            list.insert(slot as u32, node);
        }
        // Use order: 0 inserted first, then 1, 2, 3; now look up 1 then 0.
        list.touch(&nodes[1]);
        list.touch(&nodes[0]);
        let victim = |list: &mut LruList, nodes: &mut Vec<LruNode>| {
            let v = list.victim(|s| &nodes[s as usize]).unwrap();
            list.remove(&nodes[v as usize]);
            v
        };
        assert_eq!(victim(&mut list, &mut nodes), 2);
        assert_eq!(victim(&mut list, &mut nodes), 3);
        assert_eq!(victim(&mut list, &mut nodes), 1);
        assert_eq!(victim(&mut list, &mut nodes), 0);
        assert_eq!(list.len(), 0);
        assert_eq!(list.victim(|s| &nodes[s as usize]), None);
    }
}
