//! `BPF_MAP_TYPE_LPM_TRIE`: longest-prefix-match lookups, after the kernel's
//! kernel/bpf/lpm_trie.c.
//!
//! A key is `struct bpf_lpm_trie_key`: a native-endian `u32` prefix length
//! followed by `key_size - 4` data bytes (an address in network order), so
//! prefixes are up to `8 * (key_size - 4)` bits long. Updates and deletes
//! name an exact prefix; lookups (from programs and the control plane
//! alike) return the value of the longest stored prefix that matches the
//! key's first `prefixlen` bits.
//!
//! The trie has the kernel's shape, a binary Patricia trie: each node holds
//! a prefix and up to two children, chosen by the first bit after the
//! node's prefix (most significant bit of each byte first); a node added
//! only to join two others is *intermediate* and has no value. The shape
//! matters beyond lookups: `get_next_key` walks it in post-order, so more
//! specific prefixes come before the prefixes that contain them, exactly
//! as `trie_get_next_key` does.
//!
//! Errors, as in the kernel: creation needs `BPF_F_NO_PREALLOC`, a
//! `key_size` of 5 to 260 and a `value_size` of at least 1 (`-EINVAL`);
//! updates take `BPF_ANY`, `BPF_NOEXIST` (`-EEXIST` on an existing prefix)
//! or `BPF_EXIST` (`-ENOENT` on a missing one), refuse a prefix longer than
//! the data with `-EINVAL`, and a new prefix in a full trie with
//! `-ENOSPC`. Values live in a `SlotPool`: a replaced or deleted prefix's
//! value stays valid for programs until a grace period has passed.

use std::any::Any;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rxdp_rcu::Domain;

use crate::def::MapDef;
use crate::error::MapError;
use crate::flags::{BPF_EXIST, BPF_F_ACCESS_MASK, BPF_F_NO_PREALLOC, BPF_F_NUMA_NODE, BPF_NOEXIST};
use crate::hashtab::KMALLOC_MAX_SIZE;
use crate::map::Map;
use crate::map_type;
use crate::slots::{NoSlot, SlotPool};

/// Bytes of the prefix length before the data (`struct bpf_lpm_trie_key`).
const PREFIXLEN_SIZE: usize = 4;
/// The kernel's `LPM_DATA_SIZE_MAX` and `LPM_DATA_SIZE_MIN`.
const DATA_SIZE_MAX: u32 = 256;
const DATA_SIZE_MIN: u32 = 1;
/// The size of the kernel's `struct lpm_trie_node` on x86-64, which
/// `LPM_VAL_SIZE_MAX` subtracts.
const LPM_NODE_HEADER: u64 = 32;
/// "No node".
const NIL: u32 = u32::MAX;

/// A longest-prefix-match trie.
#[derive(Debug)]
pub struct LpmTrie {
    def: MapDef,
    max_prefixlen: u32,
    trie: RwLock<Trie>,
}

/// One node: a prefix, its children, and its value unless intermediate.
#[derive(Debug)]
struct Node {
    prefixlen: u32,
    data: Box<[u8]>,
    child: [u32; 2],
    /// The value slot, or `NIL` for an intermediate node.
    value: u32,
}

impl Node {
    fn is_intermediate(&self) -> bool {
        self.value == NIL
    }
}

/// Where a node hangs: the root pointer or a parent's child pointer (the
/// kernel's `struct lpm_trie_node __rcu **slot`).
#[derive(Debug, Clone, Copy)]
enum Link {
    Root,
    Child(u32, usize),
}

/// A key split into its parts.
#[derive(Clone, Copy)]
struct Key<'a> {
    prefixlen: u32,
    data: &'a [u8],
}

/// The state behind the lock.
#[derive(Debug)]
struct Trie {
    nodes: Vec<Node>,
    free_nodes: Vec<u32>,
    root: u32,
    /// Prefixes stored (intermediate nodes do not count).
    n_entries: u32,
    pool: SlotPool,
}

/// Bit `index` of `data`, most significant bit of each byte first (the
/// kernel's `extract_bit`).
fn extract_bit(data: &[u8], index: u32) -> usize {
    usize::from(data[(index / 8) as usize] >> (7 - index % 8) & 1)
}

impl LpmTrie {
    /// Creates a trie in the global grace-period domain with the kernel's
    /// `trie_alloc` checks.
    pub fn new(def: &MapDef) -> Result<Self, MapError> {
        Self::new_in(def, Domain::global())
    }

    /// [`LpmTrie::new`] in grace-period domain `domain`.
    pub fn new_in(def: &MapDef, domain: &Arc<Domain>) -> Result<Self, MapError> {
        if def.map_type != map_type::LPM_TRIE {
            return Err(def.invalid("not an LPM trie"));
        }
        check_def(def)?;
        let data_size = def.key_size as usize - PREFIXLEN_SIZE;
        let pool = SlotPool::new(def.value_stride(), 1, def.max_entries, domain).map_err(|e| {
            MapError::NoMemory {
                name: def.name.clone(),
                bytes: e.bytes,
            }
        })?;
        Ok(Self {
            def: def.clone(),
            max_prefixlen: 8 * data_size as u32,
            trie: RwLock::new(Trie {
                nodes: Vec::new(),
                free_nodes: Vec::new(),
                root: NIL,
                n_entries: 0,
                pool,
            }),
        })
    }

    /// The longest prefix this trie stores: `8 * (key_size - 4)`.
    pub fn max_prefixlen(&self) -> u32 {
        self.max_prefixlen
    }

    /// The number of prefixes stored.
    pub fn len(&self) -> usize {
        self.read().n_entries as usize
    }

    /// Whether no prefix is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> RwLockReadGuard<'_, Trie> {
        // Nothing panics under the lock; a poisoned trie is consistent.
        self.trie.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Trie> {
        self.trie.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Splits a key of `key_size` bytes.
    fn split<'a>(&self, key: &'a [u8]) -> Result<Key<'a>, MapError> {
        self.def.check_key(key)?;
        let (len, data) = key.split_at(PREFIXLEN_SIZE);
        let prefixlen = u32::from_ne_bytes(len.try_into().unwrap_or_default());
        Ok(Key { prefixlen, data })
    }

    /// The number of leading bits `node` and `key` share, up to the shorter
    /// prefix (the kernel's `longest_prefix_match`).
    fn longest_prefix_match(&self, node: &Node, key: Key<'_>) -> u32 {
        let limit = node.prefixlen.min(key.prefixlen);
        let mut matched = 0;
        for (a, b) in node.data.iter().zip(key.data) {
            if matched >= limit {
                break;
            }
            let diff = a ^ b;
            if diff != 0 {
                matched += diff.leading_zeros();
                break;
            }
            matched += 8;
        }
        matched.min(limit)
    }

    /// The value slot of the longest prefix matching `key`.
    fn lookup_slot(&self, trie: &Trie, key: Key<'_>) -> Option<u32> {
        let mut found = None;
        let mut at = trie.root;
        while at != NIL {
            let node = &trie.nodes[at as usize];
            let matchlen = self.longest_prefix_match(node, key);
            if matchlen == self.max_prefixlen {
                return Some(node.value).filter(|&v| v != NIL).or(found);
            }
            if matchlen < node.prefixlen {
                break;
            }
            if !node.is_intermediate() {
                found = Some(node.value);
            }
            at = node.child[extract_bit(key.data, node.prefixlen)];
        }
        found
    }

    /// The body of program and control-plane updates (`trie_update_elem`).
    fn update_elem(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        if flags > BPF_EXIST {
            return Err(MapError::BadFlags { flags });
        }
        let key = self.split(key)?;
        if key.prefixlen > self.max_prefixlen {
            return Err(self.prefix_too_long(key.prefixlen));
        }
        MapDef::check_value(value, self.def.value_size as usize)?;
        let mut guard = self.write();
        let trie = &mut *guard;
        // Walk down as far as the key's bits agree with the nodes'.
        let mut link = Link::Root;
        let mut matchlen = 0;
        let mut at = trie.root;
        while at != NIL {
            let node = &trie.nodes[at as usize];
            matchlen = self.longest_prefix_match(node, key);
            if node.prefixlen != matchlen
                || node.prefixlen == key.prefixlen
                || node.prefixlen == self.max_prefixlen
            {
                break;
            }
            link = Link::Child(at, extract_bit(key.data, node.prefixlen));
            at = trie.get(link);
        }
        if at != NIL && trie.nodes[at as usize].prefixlen == matchlen {
            // This very prefix: replace its node, keeping the children.
            let adds = trie.nodes[at as usize].is_intermediate();
            if adds {
                self.check_add_elem(trie, flags)?;
            } else if flags == BPF_NOEXIST {
                return Err(MapError::Exists);
            }
            return self
                .replace_node(trie, link, at, key, value)
                .inspect_err(|_| {
                    if adds {
                        trie.n_entries -= 1;
                    }
                });
        }
        self.check_add_elem(trie, flags)?;
        let new = self
            .new_node(trie, key, value)
            .inspect_err(|_| trie.n_entries -= 1)?;
        if at == NIL {
            trie.set(link, new);
        } else if matchlen == key.prefixlen {
            // The new prefix contains the node: it becomes its parent.
            let bit = extract_bit(&trie.nodes[at as usize].data, matchlen);
            trie.nodes[new as usize].child[bit] = at;
            trie.set(link, new);
        } else {
            // They differ after `matchlen` bits: join them under an
            // intermediate node of that length.
            let data = trie.nodes[at as usize].data.clone();
            let im = trie.alloc_node(Node {
                prefixlen: matchlen,
                data,
                child: [NIL; 2],
                value: NIL,
            });
            let children = match extract_bit(key.data, matchlen) {
                1 => [at, new],
                _ => [new, at],
            };
            trie.nodes[im as usize].child = children;
            trie.set(link, im);
        }
        Ok(())
    }

    /// The kernel's `trie_check_add_elem`: room and flags for a new prefix.
    fn check_add_elem(&self, trie: &mut Trie, flags: u64) -> Result<(), MapError> {
        if flags == BPF_EXIST {
            return Err(MapError::NoEntry);
        }
        if trie.n_entries == self.def.max_entries {
            return Err(MapError::NoSpace {
                max_entries: self.def.max_entries,
            });
        }
        trie.n_entries += 1;
        Ok(())
    }

    /// A new leaf node for `key` holding `value`.
    fn new_node(&self, trie: &mut Trie, key: Key<'_>, value: &[u8]) -> Result<u32, MapError> {
        let slot = trie
            .pool
            .alloc()
            .map_err(|NoSlot { bytes }| MapError::NoMemory {
                name: self.def.name.clone(),
                bytes,
            })?;
        trie.pool.values().zero(slot as usize);
        trie.pool.values().write(slot as usize, 0, value);
        Ok(trie.alloc_node(Node {
            prefixlen: key.prefixlen,
            data: key.data.into(),
            child: [NIL; 2],
            value: slot,
        }))
    }

    /// Gives the node at `at` (hanging from `link`) a fresh value slot
    /// holding `value`; the old value is retired, so a program still
    /// reading it sees the old contents until its grace period ends.
    fn replace_node(
        &self,
        trie: &mut Trie,
        link: Link,
        at: u32,
        key: Key<'_>,
        value: &[u8],
    ) -> Result<(), MapError> {
        let new = self.new_node(trie, key, value)?;
        let old = &trie.nodes[at as usize];
        let (children, old_value) = (old.child, old.value);
        trie.nodes[new as usize].child = children;
        trie.set(link, new);
        if old_value != NIL {
            trie.pool.retire(old_value);
        }
        trie.free_nodes.push(at);
        Ok(())
    }

    /// The body of deletes (`trie_delete_elem`).
    fn delete_elem(&self, key: Key<'_>) -> Result<(), MapError> {
        let mut guard = self.write();
        let trie = &mut *guard;
        let (mut link, mut parent_link) = (Link::Root, Link::Root);
        let mut parent = NIL;
        let mut matchlen = 0;
        let mut at = trie.root;
        while at != NIL {
            let node = &trie.nodes[at as usize];
            matchlen = self.longest_prefix_match(node, key);
            if node.prefixlen != matchlen || node.prefixlen == key.prefixlen {
                break;
            }
            parent = at;
            parent_link = link;
            link = Link::Child(at, extract_bit(key.data, node.prefixlen));
            at = trie.get(link);
        }
        let Some(node) = trie.nodes.get(at as usize).filter(|_| at != NIL) else {
            return Err(MapError::NoEntry);
        };
        if node.prefixlen != key.prefixlen || node.prefixlen != matchlen || node.is_intermediate() {
            return Err(MapError::NoEntry);
        }
        trie.n_entries -= 1;
        let [c0, c1] = node.child;
        let value = node.value;
        trie.pool.retire(value);
        if c0 != NIL && c1 != NIL {
            // Still needed to join its children: it becomes intermediate.
            trie.nodes[at as usize].value = NIL;
            return Ok(());
        }
        let parent_im = parent != NIL && trie.nodes[parent as usize].is_intermediate();
        if parent_im && c0 == NIL && c1 == NIL {
            // An intermediate parent with one child left is not needed:
            // its other child takes its place.
            let [p0, p1] = trie.nodes[parent as usize].child;
            let other = if p0 == at { p1 } else { p0 };
            trie.set(parent_link, other);
            trie.free_nodes.extend([parent, at]);
            return Ok(());
        }
        trie.set(link, if c0 != NIL { c0 } else { c1 });
        trie.free_nodes.push(at);
        Ok(())
    }

    /// The body of `get_next_key` (`trie_get_next_key`): post-order.
    fn next_key(&self, key: Option<Key<'_>>, next: &mut [u8]) -> Result<(), MapError> {
        let trie = self.read();
        if trie.root == NIL {
            return Err(MapError::NoEntry);
        }
        let found = match key.filter(|k| k.prefixlen <= self.max_prefixlen) {
            Some(key) => self.after(&trie, key),
            None => Some(trie.leftmost(trie.root)),
        };
        let node = &trie.nodes[found.ok_or(MapError::NoEntry)? as usize];
        next[..PREFIXLEN_SIZE].copy_from_slice(&node.prefixlen.to_ne_bytes());
        next[PREFIXLEN_SIZE..].copy_from_slice(&node.data);
        Ok(())
    }

    /// The node after `key`'s in post-order; the first node when `key` is
    /// not stored; `None` after the last.
    fn after(&self, trie: &Trie, key: Key<'_>) -> Option<u32> {
        let mut stack = Vec::with_capacity(self.max_prefixlen as usize + 1);
        let mut matchlen = 0;
        let mut at = trie.root;
        while at != NIL {
            stack.push(at);
            let node = &trie.nodes[at as usize];
            matchlen = self.longest_prefix_match(node, key);
            if node.prefixlen != matchlen || node.prefixlen == key.prefixlen {
                break;
            }
            at = node.child[extract_bit(key.data, node.prefixlen)];
        }
        let exact = at != NIL && {
            let node = &trie.nodes[at as usize];
            node.prefixlen == matchlen && !node.is_intermediate()
        };
        if !exact {
            return Some(trie.leftmost(trie.root));
        }
        // Climb: after a left child comes its right sibling's leftmost
        // leaf; after the last child comes the parent, if it has a value.
        let mut node = stack.pop()?;
        while let Some(&parent) = stack.last() {
            let [left, right] = trie.nodes[parent as usize].child;
            if left == node && right != NIL {
                return Some(trie.leftmost(right));
            }
            if !trie.nodes[parent as usize].is_intermediate() {
                return Some(parent);
            }
            node = stack.pop()?;
        }
        None
    }

    fn prefix_too_long(&self, prefixlen: u32) -> MapError {
        MapError::PrefixTooLong {
            prefixlen,
            max_prefixlen: self.max_prefixlen,
        }
    }
}

impl Trie {
    fn get(&self, link: Link) -> u32 {
        match link {
            Link::Root => self.root,
            Link::Child(node, bit) => self.nodes[node as usize].child[bit],
        }
    }

    fn set(&mut self, link: Link, to: u32) {
        match link {
            Link::Root => self.root = to,
            Link::Child(node, bit) => self.nodes[node as usize].child[bit] = to,
        }
    }

    /// Stores `node`, reusing a freed node's place. Nodes are reached only
    /// under the lock, so their places are reused at once (values are what
    /// programs point into, and those wait for a grace period).
    fn alloc_node(&mut self, node: Node) -> u32 {
        match self.free_nodes.pop() {
            Some(at) => {
                self.nodes[at as usize] = node;
                at
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    /// The first node in post-order under `at`: the leftmost, deepest node
    /// with a value. Intermediate nodes always have two children, so there
    /// is one.
    fn leftmost(&self, mut at: u32) -> u32 {
        let mut found = at;
        while at != NIL {
            let node = &self.nodes[at as usize];
            if !node.is_intermediate() {
                found = at;
            }
            at = match node.child {
                [NIL, right] if !node.is_intermediate() => right,
                [left, _] => left,
            };
        }
        found
    }
}

/// The kernel's `trie_alloc` checks.
fn check_def(def: &MapDef) -> Result<(), MapError> {
    if def.max_entries == 0 {
        return Err(def.invalid("max_entries is 0"));
    }
    if def.flags & BPF_F_NO_PREALLOC == 0 {
        return Err(def.invalid("LPM tries need BPF_F_NO_PREALLOC"));
    }
    def.check_flags(BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK)?;
    let key_min = PREFIXLEN_SIZE as u32 + DATA_SIZE_MIN;
    let key_max = PREFIXLEN_SIZE as u32 + DATA_SIZE_MAX;
    if !(key_min..=key_max).contains(&def.key_size) {
        return Err(def.invalid(format!(
            "key_size {} outside {key_min}..={key_max} (4-byte prefixlen and 1 to 256 data bytes)",
            def.key_size
        )));
    }
    let value_max = KMALLOC_MAX_SIZE - u64::from(DATA_SIZE_MAX) - LPM_NODE_HEADER;
    if def.value_size == 0 || u64::from(def.value_size) > value_max {
        return Err(def.invalid(format!(
            "value_size {} outside 1..={value_max}",
            def.value_size
        )));
    }
    Ok(())
}

impl Map for LpmTrie {
    fn def(&self) -> &MapDef {
        &self.def
    }

    fn lookup_percpu(&self, key: &[u8], _cpu: u32) -> Option<*mut u8> {
        let key = self.split(key).ok()?;
        let trie = self.read();
        let slot = self.lookup_slot(&trie, key)?;
        trie.pool.values().slot_ptr(slot as usize, 0)
    }

    fn update_percpu(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        _cpu: u32,
    ) -> Result<(), MapError> {
        self.update_elem(key, value, flags)
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        let key = self.split(key)?;
        if key.prefixlen > self.max_prefixlen {
            return Err(self.prefix_too_long(key.prefixlen));
        }
        self.delete_elem(key)
    }

    fn get_next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<(), MapError> {
        self.def.check_key(next)?;
        let key = key.map(|k| self.split(k)).transpose()?;
        self.next_key(key, next)
    }

    fn lookup_copy(&self, key: &[u8]) -> Result<Vec<u8>, MapError> {
        self.def.check_sys_lookup()?;
        let key = self.split(key)?;
        let trie = self.read();
        let slot = self.lookup_slot(&trie, key).ok_or(MapError::NoEntry)?;
        let mut out = vec![0; self.def.value_size as usize];
        trie.pool.values().read(slot as usize, 0, &mut out);
        Ok(out)
    }

    fn update_copy(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.def.check_sys_update(flags)?;
        self.update_elem(key, value, flags)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
