//! Model checks (loom) of the cache's concurrency protocols.
//!
//! Each model restates one protocol of `cache/src` over loom's atomics, with the same orderings
//! and fences as the source (every step names the function and line it mirrors), and loom runs
//! it under the interleavings and the values the C11 memory model lets each load return (stale
//! `Relaxed` loads included). Loom orders `fence(SeqCst)`s in one total order, which is sound
//! for the protocols here: they use SeqCst only on fences (loom would weaken a SeqCst load or
//! store to AcqRel).
//!
//! 1. `seqlock_*`: the node seqcount (`dcache.rs` `read_begin`, `read_retry`, `write_begin`,
//!    `write_end`). A read that validates never returns a torn record.
//! 2. `slot_reuse_*`: kill and reuse of a node slot (`arena.rs` `kill`, `unlink_hash`, `link`,
//!    `fill.rs` `fill_child`) against `lookup_fast`, `walk_component` and `complete_walk`, and
//!    against a memoized node (`lib.rs` `lookup`, memo hit). A reader that found the old key
//!    never answers with the new occupant's record.
//! 3. `gen_*`: the event-application generation (`notify.rs` `gen_begin`, `drain`, `gen_end`)
//!    with the per-hit barrier (`lib.rs` `Cache::lookup`). A lookup that starts after a change
//!    completed never answers the value from before it, whoever drains (another thread or the
//!    reader itself).
//! 4. `fill_*`: the miss path (`fill.rs` `fill_attrs`): watch generation (or a new watch, added
//!    before looking), real call, drain, insert only if the watch saw nothing. Once a change is
//!    complete and the queue drained, the cache never holds the value from before it.
//!
//! 5. `ring_*`: the io_uring barrier (`ring.rs` `quiet`, `consume`; `notify.rs` `drain`,
//!    `consume_ring`) in place of epoll. The kernel side: a modifying call queues its event, then
//!    the poll's wake sets `IORING_SQ_TASKRUN` (a locked `atomic_or`, in the writer's call);
//!    the reader's `io_uring_enter` clears the flag and then, the fd being ready, posts a CQE.
//!
//! Each has deliberately broken variants (a `Flaw`) that loom must catch, which shows the model
//! can fail. Line numbers are those of `cache/src` at commit 8cae704; the function names are the
//! stable reference. One deliberate difference from the source: the writer-lock holder's own
//! `load(Relaxed)` of a word before it stores it is taken from a shadow copy (see `Owned`),
//! which changes no execution but keeps loom from missing races.
//!
//! The kernel is modelled as weakly as the argument allows, so that the models do not lean on
//! ordering the kernel happens to give: a modifying system call stores the new inode state and
//! then queues its event with a Release increment (fsnotify queues the event inside the call,
//! after the change); `read(2)` of the inotify fd takes every event with an Acquire swap;
//! `epoll_wait(ep, .., 0)` is a Relaxed load of the queue length; the real `lstat` is a Relaxed
//! load of the inode state. (The kernel's notification spinlock gives at least this much.) Only
//! the model of a watch added during a fill needs more; see `World::add_watch`.
//!
//! `seqlock`, `slot_reuse_memo` and `gen_unchanged` run exhaustively; the others are bounded in
//! preemptions (`check`'s argument) to keep the run short. `LOOM_MAX_PREEMPTIONS` overrides
//! every bound. `cargo test -p statcache-cache --test loom -- --nocapture` prints how many
//! executions each model explored.

use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering, Ordering::*};
use loom::sync::Arc;
use loom::thread;
use std::sync::atomic::{AtomicU64 as Shadow, AtomicUsize as Tally};
use std::sync::Arc as StdArc;

// `dcache.rs` flag layout (dcache.rs:31-48).
// (Every word is 64 bits wide here; the widths play no part.)
const ST_MASK: u64 = 0b11;
const ST_FREE: u64 = 0;
const ST_POSITIVE: u64 = 1;
const HAS_STAT: u64 = 1 << 4;
const UNSTABLE: u64 = 1 << 7;
const NIL: u64 = 0;

/// Which step of the real protocol a model leaves out (`None`: the protocol as the source has it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Flaw {
    None,
    /// `write_begin` without its `fence(Release)`.
    WriteBeginNoFence,
    /// `read_retry` without its `fence(Acquire)`.
    ReadRetryNoFence,
    /// `complete_walk` without the incarnation check.
    NoIncarnationCheck,
    /// `drain` makes `gen` odd only after it has read the queue.
    GenOddAfterRead,
    /// `gen_begin` without its `fence(SeqCst)`.
    GenBeginNoFence,
    /// `lookup` without the `fence(Acquire)` before re-reading `gen`.
    LookupNoFence,
    /// `lookup` answers without the barrier.
    NoBarrier,
    /// `fill_attrs` inserts without re-checking the watch generation.
    FillNoRecheck,
    /// `fill_attrs` of an unwatched node looks before it adds the watch.
    LookBeforeWatch,
    /// The ring barrier looks only at the CQ ring, not at `IORING_SQ_TASKRUN`.
    RingIgnoresFlag,
    /// `drain` consumes the ring's notices after reading the queue instead of before.
    RingConsumeAfterRead,
    /// A lookup consumes its notices before it holds the writer lock (and may then fall back).
    RingConsumeWithoutLock,
}

/// What one exploration saw, summed over every execution (std atomics: outside the model).
#[derive(Default)]
struct Seen {
    executions: Tally,
    answers: Tally,
}

impl Seen {
    fn bump(c: &Tally) {
        c.fetch_add(1, Relaxed);
    }
    fn get(c: &Tally) -> usize {
        c.load(Relaxed)
    }
}

/// Runs `model` under loom, bounded by `bound` preemptions if given (`LOOM_MAX_PREEMPTIONS`
/// overrides), and reports what it explored.
fn check<F>(name: &str, bound: Option<usize>, model: F) -> StdArc<Seen>
where
    F: Fn(&Seen) + Sync + Send + 'static,
{
    let seen = StdArc::new(Seen::default());
    let s = seen.clone();
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = bound;
    }
    let start = std::time::Instant::now();
    b.check(move || {
        Seen::bump(&s.executions);
        model(&s);
    });
    eprintln!(
        "{name}: {} executions (preemption bound {:?}), {} answers checked, {:.2?}",
        Seen::get(&seen.executions),
        b.preemption_bound,
        Seen::get(&seen.answers),
        start.elapsed()
    );
    seen
}

/// A word that only the writer-lock holder stores (`seq`, `incarn`, `flags`, `gen`, a watch's
/// `gen`, a hash bucket). Readers load `word`. The holder's own `load(Relaxed)` of it before
/// storing (as in `write_begin`, `gen_begin`, `forget_attrs`, `kill`) can only return the last
/// store, its own or an earlier holder's (the lock's Acquire/Release orders the holders), and
/// orders nothing; the model takes that value from `last` instead of an atomic load. This is
/// the same execution, but it keeps loom from missing races: its DPOR remembers only the last
/// access to each atomic, so a load by the storing thread between another thread's load and the
/// store hides the race of those two (loom then never runs the store before that load).
///
/// A lookup that drains or fills is both: it loads `gen`, the node and the queue as a reader,
/// then stores them as the holder. Every model but `gen_readers_drain` has at most one such
/// thread, so there the hiding cannot happen. `gen_readers_drain` has two and may miss some
/// interleavings; it adds to `gen_reader_after_change`, whose other drainer only stores.
struct Owned {
    word: AtomicU64,
    last: Shadow,
}

impl Owned {
    fn new(v: u64) -> Self {
        Owned {
            word: AtomicU64::new(v),
            last: Shadow::new(v),
        }
    }

    /// A reader's load.
    fn load(&self, o: Ordering) -> u64 {
        self.word.load(o)
    }

    /// The holder's own `load(Relaxed)`.
    fn own(&self) -> u64 {
        self.last.load(Relaxed)
    }

    /// The holder's store.
    fn store(&self, v: u64, o: Ordering) {
        self.word.store(v, o);
        self.last.store(v, Relaxed);
    }
}

/// `dcache::Node`, reduced to the fields the protocols touch; `N` words of stat record.
struct Node<const N: usize> {
    seq: Owned,
    incarn: Owned,
    flags: Owned,
    name: AtomicU64,
    stat: [AtomicU64; N],
    flaw: Flaw,
}

impl<const N: usize> Node<N> {
    fn new(flags: u64, name: u64, v: u64, flaw: Flaw) -> Self {
        Node {
            seq: Owned::new(0),
            incarn: Owned::new(0),
            flags: Owned::new(flags),
            name: AtomicU64::new(name),
            stat: std::array::from_fn(|_| AtomicU64::new(v)),
            flaw,
        }
    }

    /// dcache.rs:85-93 `read_begin`.
    fn read_begin(&self) -> Option<u64> {
        let s = self.seq.load(Acquire); // dcache.rs:87
        if s & 1 == 1 {
            None
        } else {
            Some(s)
        }
    }

    /// dcache.rs:97-101 `read_retry`.
    fn read_retry(&self, s: u64) -> bool {
        if self.flaw != Flaw::ReadRetryNoFence {
            fence(Acquire); // dcache.rs:99
        }
        self.seq.load(Relaxed) != s // dcache.rs:100
    }

    /// dcache.rs:105-110 `write_begin` (writer lock held).
    fn write_begin(&self) {
        let s = self.seq.own(); // dcache.rs:106
        self.seq.store(s + 1, Relaxed); // dcache.rs:107
        if self.flaw != Flaw::WriteBeginNoFence {
            fence(Release); // dcache.rs:109
        }
    }

    /// dcache.rs:114-118 `write_end` (writer lock held).
    fn write_end(&self) {
        let s = self.seq.own(); // dcache.rs:115
        self.seq.store(s + 1, Release); // dcache.rs:117
    }

    /// `store_stat` / `store_bytes` (fill.rs:469-473, dcache.rs:165-177): Relaxed word stores.
    fn store_stat(&self, v: u64) {
        for w in &self.stat {
            w.store(v, Relaxed);
        }
    }

    /// `load_bytes` (dcache.rs:181-189): Relaxed word loads.
    fn load_stat(&self) -> [u64; N] {
        std::array::from_fn(|i| self.stat[i].load(Relaxed))
    }
}

/// `namei::Walk`, reduced.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Walk<const N: usize> {
    Found([u64; N]),
    NeedChild,
    NeedAttrs,
    Unstable,
    Raced,
}

/// namei.rs:260-296 `complete_walk` for `Want::Stat` (the atime deadline left out: it only adds
/// `NeedAttrs` answers).
fn complete_walk<const N: usize>(n: &Node<N>, incarn: u64) -> Walk<N> {
    let Some(s) = n.read_begin() else {
        return Walk::Raced; // namei.rs:262-264
    };
    let f = n.flags.load(Relaxed); // namei.rs:265
    let same = n.flaw == Flaw::NoIncarnationCheck || n.incarn.load(Relaxed) == incarn;
    if !same || f & ST_MASK != ST_POSITIVE {
        return Walk::Raced; // namei.rs:266-268
    }
    if f & UNSTABLE != 0 {
        return Walk::Unstable; // namei.rs:269-271
    }
    if f & HAS_STAT == 0 {
        return Walk::NeedAttrs; // namei.rs:274-276
    }
    let v = n.load_stat(); // namei.rs:277
    if n.read_retry(s) {
        return Walk::Raced; // namei.rs:292-294
    }
    Walk::Found(v)
}

// ------------------------------------------------------------------------------------------
// 1. The node seqlock.
// ------------------------------------------------------------------------------------------

/// One writer (the writer lock holder) rewrites a three-word record twice, `[v, v, v]` for
/// v = 1, 2, between `write_begin` and `write_end`; a reader copies it under `read_begin` /
/// `read_retry`. A copy that validates must be one whole record. Exhaustive.
fn seqlock(flaw: Flaw) -> StdArc<Seen> {
    check("seqlock", None, move |seen| {
        let n = Arc::new(Node::<3>::new(ST_POSITIVE | HAS_STAT, 0, 0, flaw));
        let w = {
            let n = n.clone();
            thread::spawn(move || {
                for v in 1..=2 {
                    n.write_begin();
                    n.store_stat(v); // as fill_attrs does, fill.rs:346-363
                    n.write_end();
                }
            })
        };
        if let Some(s) = n.read_begin() {
            let r = n.load_stat();
            if !n.read_retry(s) {
                Seen::bump(&seen.answers);
                assert!(r[0] == r[1] && r[1] == r[2], "torn record {r:?}");
            }
        }
        w.join().unwrap();
    })
}

#[test]
fn seqlock_never_returns_a_torn_record() {
    let seen = seqlock(Flaw::None);
    assert!(Seen::get(&seen.answers) > 0, "no read ever validated");
}

#[test]
#[should_panic(expected = "torn record")]
fn seqlock_broken_without_write_begin_fence() {
    seqlock(Flaw::WriteBeginNoFence);
}

#[test]
#[should_panic(expected = "torn record")]
fn seqlock_broken_without_read_retry_fence() {
    seqlock(Flaw::ReadRetryNoFence);
}

// ------------------------------------------------------------------------------------------
// 2. Slot reuse and incarnations.
// ------------------------------------------------------------------------------------------

/// One hash bucket (the arena's bucket array, arena.rs:164-170) holding node 1.
struct Slot {
    bucket: Owned,
    node: Node<1>,
}

const KEY_A: u64 = 0xA;
const KEY_B: u64 = 0xB;
const REC_A: u64 = 1;
const REC_B: u64 = 2;

/// arena.rs:195-220 `lookup_fast`: the flags and seq of the node for `name`.
fn lookup_fast(s: &Slot, name: u64) -> Option<(u64, u64)> {
    let i = s.bucket.load(Acquire); // arena.rs:198
    if i == NIL {
        return None; // arena.rs:200
    }
    let n = &s.node;
    let seq = n.read_begin()?; // arena.rs:202
    let f = n.flags.load(Relaxed); // arena.rs:203
                                   // arena.rs:204-208; the hash and the parent's index and incarnation are the same for both
                                   // keys here, so the name decides.
    let hit = f & ST_MASK != ST_FREE && n.name.load(Relaxed) == name;
    // arena.rs:209 reads `hash_next` (Acquire); the chain has one node, so it is NIL.
    if n.read_retry(seq) {
        return None; // arena.rs:210-212
    }
    hit.then_some((f, seq)) // arena.rs:213-215
}

/// The walk of the last component, `name`, of a path whose parent is already known:
/// namei.rs:160-237 (`walk_component`, then `complete_walk`).
fn walk_last(s: &Slot, name: u64) -> Walk<1> {
    let Some((f, seq)) = lookup_fast(s, name) else {
        return Walk::NeedChild; // namei.rs:160-168
    };
    if f & ST_MASK != ST_POSITIVE {
        return Walk::Raced; // namei.rs:169-174
    }
    let incarn = s.node.incarn.load(Relaxed); // namei.rs:176-179
    if s.node.read_retry(seq) {
        return Walk::Raced; // namei.rs:219-221
    }
    complete_walk(&s.node, incarn) // namei.rs:237
}

/// The writer: kill node 1 (key A), then reuse the slot for key B in the same bucket.
fn kill_and_reuse(s: &Slot) {
    let n = &s.node;
    // kill (arena.rs:281-304) of a live node (arena.rs:283 checks `n.flags`) in the hash:
    // unlink_hash first (arena.rs:257-264: the node heads its bucket, which takes its
    // hash_next, NIL), then the node dies under its seqcount.
    assert_eq!(n.flags.own() & ST_MASK, ST_POSITIVE); // arena.rs:283
    assert_eq!(s.bucket.own(), 1); // arena.rs:261-262
    s.bucket.store(NIL, Release); // arena.rs:263
    n.write_begin(); // arena.rs:290
    n.flags.store(ST_FREE, Relaxed); // arena.rs:291
    let inc = n.incarn.own();
    n.incarn.store(inc + 1, Relaxed); // arena.rs:292-293
    n.write_end(); // arena.rs:294

    // `alloc` hands the slot back (arena.rs:223-237); fill_child writes key B into it
    // (fill.rs:207-225; the parent fields it also stores are the same for both keys here).
    n.write_begin(); // fill.rs:207
    n.name.store(KEY_B, Relaxed); // fill.rs:210
    n.store_stat(REC_B); // fill.rs:216
    n.flags.store(ST_POSITIVE | HAS_STAT, Relaxed); // fill.rs:223-224
    n.write_end(); // fill.rs:225

    // link (arena.rs:241-253): the node takes the bucket's head as hash_next (NIL; arena.rs:247)
    // and is published in the bucket with Release.
    assert_eq!(s.bucket.own(), NIL); // arena.rs:247
    s.bucket.store(1, Release); // arena.rs:249
}

/// Node 1 starts as key A with record `REC_A`. The writer kills it (as an entry event or
/// `reclaim` does) and reuses the slot for key B with record `REC_B`. A reader walking to key A
/// concurrently must answer `REC_A` or not at all. (One record word: torn records are the
/// seqlock model's business.) Bounded: 4 preemptions.
fn slot_reuse(flaw: Flaw) -> StdArc<Seen> {
    check("slot_reuse", Some(4), move |seen| {
        let s = Arc::new(Slot {
            bucket: Owned::new(1),
            node: Node::new(ST_POSITIVE | HAS_STAT, KEY_A, REC_A, flaw),
        });
        let w = {
            let s = s.clone();
            thread::spawn(move || kill_and_reuse(&s))
        };
        if let Walk::Found(r) = walk_last(&s, KEY_A) {
            Seen::bump(&seen.answers);
            assert_eq!(r, [REC_A], "key A answered with another record");
        }
        w.join().unwrap();
    })
}

#[test]
fn slot_reuse_never_answers_the_new_occupant() {
    let seen = slot_reuse(Flaw::None);
    assert!(Seen::get(&seen.answers) > 0, "key A was never found");
}

#[test]
#[should_panic(expected = "key A answered with another record")]
fn slot_reuse_broken_without_incarnation_check() {
    slot_reuse(Flaw::NoIncarnationCheck);
}

/// The same, for a lookup answered through the per-thread memo (lib.rs:383-384): the memo
/// hands `complete_walk` a node reference `{1, incarnation 0}` learned by an earlier walk, with
/// no `lookup_fast` in between, while the slot is killed and reused. Exhaustive.
fn slot_reuse_memo(flaw: Flaw) -> StdArc<Seen> {
    check("slot_reuse_memo", None, move |seen| {
        let s = Arc::new(Slot {
            bucket: Owned::new(1),
            node: Node::new(ST_POSITIVE | HAS_STAT, KEY_A, REC_A, flaw),
        });
        let w = {
            let s = s.clone();
            thread::spawn(move || kill_and_reuse(&s))
        };
        if let Walk::Found(r) = complete_walk(&s.node, 0) {
            Seen::bump(&seen.answers);
            assert_eq!(r, [REC_A], "key A answered with another record");
        }
        w.join().unwrap();
    })
}

#[test]
fn slot_reuse_memo_never_answers_the_new_occupant() {
    let seen = slot_reuse_memo(Flaw::None);
    assert!(Seen::get(&seen.answers) > 0, "key A was never found");
}

#[test]
#[should_panic(expected = "key A answered with another record")]
fn slot_reuse_memo_broken_without_incarnation_check() {
    slot_reuse_memo(Flaw::NoIncarnationCheck);
}

// ------------------------------------------------------------------------------------------
// 3 and 4. The event generation, the barrier, and the fill.
// ------------------------------------------------------------------------------------------

/// The file's attributes before and after the change.
const OLD: u64 = 10;
const NEW: u64 = 20;
/// `MAX_ROUNDS` (lib.rs:110) is 64; three rounds are enough for drain, fill, answer. A lookup
/// that runs out of rounds falls back, which is always allowed.
const ROUNDS: usize = 3;

/// One regular file: the kernel's side and the cache's.
struct World {
    // The kernel.
    /// The inode's attributes (what the real `lstat` returns).
    inode: AtomicU64,
    /// Whether the inode carries the cache's inotify watch (mark).
    marked: AtomicU32,
    /// The mark existed before any thread started.
    marked_at_start: bool,
    /// Events queued on the inotify fd.
    queue: AtomicU32,
    // The cache (arena.rs `Header`, `WdEntry`, `Node`).
    /// `Header::wlock`.
    wlock: AtomicU32,
    /// `Header::gen`.
    gen: Owned,
    /// `WdEntry::gen` of the file's inode watch.
    wd_gen: Owned,
    /// `Node::wd`: 1 once the node is attached to its inode watch.
    wd: Owned,
    /// The file's node (incarnation 0, never killed here).
    node: Node<1>,
    flaw: Flaw,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Answer {
    Hit(u64),
    Fallback,
}

impl World {
    /// The file, its node caching `cached` (or only its name) and its inode watched or not.
    fn new(cached: Option<u64>, watched: bool, flaw: Flaw) -> Self {
        let (flags, v) = match cached {
            Some(v) => (ST_POSITIVE | HAS_STAT, v),
            None => (ST_POSITIVE, 0),
        };
        World {
            inode: AtomicU64::new(OLD),
            marked: AtomicU32::new(watched as u32),
            marked_at_start: watched,
            queue: AtomicU32::new(0),
            wlock: AtomicU32::new(0),
            gen: Owned::new(0),
            wd_gen: Owned::new(0),
            wd: Owned::new(watched as u64),
            node: Node::new(flags, 0, v, flaw),
            flaw,
        }
    }

    // The kernel's side.

    /// A modifying system call (chmod, write, utimes): the inode changes, then fsnotify queues
    /// the event for the marks it finds, before the call returns.
    fn modify(&self, v: u64) {
        self.inode.store(v, Relaxed);
        if !self.marked_at_start {
            // A mark may be added meanwhile: the kernel orders the change before its look for
            // marks (a full barrier: on x86 the locked instructions of the setattr/write path).
            fence(SeqCst);
            if self.marked.load(Relaxed) == 0 {
                return;
            }
        }
        self.queue.fetch_add(1, Release);
    }

    /// `inotify_add_watch(2)`: the mark is attached before the call returns, and ordered before
    /// the caller's next system call (a full barrier: the locked instructions that attach it).
    fn add_watch(&self) {
        self.marked.store(1, Relaxed);
        fence(SeqCst);
    }

    /// `read(2)` of the inotify fd: every queued event.
    fn read_events(&self) -> u32 {
        self.queue.swap(0, Acquire)
    }

    /// `epoll_wait(ep, .., 0)` (notify.rs:108): is an event queued?
    fn poll(&self) -> bool {
        self.queue.load(Relaxed) != 0
    }

    /// The real `lstat`.
    fn real_stat(&self) -> u64 {
        self.inode.load(Relaxed)
    }

    // The cache's side.

    /// notify.rs:81-88 `try_lock`.
    fn try_lock(&self) -> bool {
        self.wlock.compare_exchange(0, 1, Acquire, Relaxed).is_ok()
    }

    /// notify.rs:90-93 `unlock`.
    fn unlock(&self) {
        self.wlock.store(0, Release);
    }

    /// notify.rs:315-321 `gen_begin`.
    fn gen_begin(&self) {
        self.gen.store(self.gen.own() | 1, Relaxed); // notify.rs:317
        if self.flaw != Flaw::GenBeginNoFence {
            fence(SeqCst); // notify.rs:320
        }
    }

    /// notify.rs:324-328 `gen_end`.
    fn gen_end(&self) {
        self.gen.store((self.gen.own() | 1) + 1, Release); // notify.rs:327
    }

    /// notify.rs:206-255 `drain` (writer lock held; no mount change here).
    fn drain(&self) -> bool {
        let mut begun = false;
        if self.flaw != Flaw::GenOddAfterRead {
            self.gen_begin(); // notify.rs:211
            begun = true;
        }
        loop {
            let n = self.read_events(); // notify.rs:220
            if !begun {
                self.gen_begin();
                begun = true;
            }
            if n == 0 {
                break; // notify.rs:222 (EAGAIN)
            }
            for _ in 0..n {
                self.apply(); // notify.rs:241
            }
        }
        self.gen_end(); // notify.rs:253
        true
    }

    /// notify.rs:258-312 `apply` of an attribute event (IN_ATTRIB, IN_MODIFY) on the regular
    /// file's own watch: bump the watch generation, drop the node's attributes.
    fn apply(&self) {
        let g = self.wd_gen.own();
        self.wd_gen.store(g + 1, Relaxed); // notify.rs:266
        self.forget_attrs(); // notify.rs:307
    }

    /// arena.rs:307-317 `forget_attrs`.
    fn forget_attrs(&self) {
        let n = &self.node;
        let f = n.flags.own(); // arena.rs:309
        if f & (HAS_STAT | UNSTABLE) == 0 {
            return; // arena.rs:310-312
        }
        n.write_begin(); // arena.rs:313
        n.flags.store(f & !(HAS_STAT | UNSTABLE), Relaxed); // arena.rs:314-315
        n.write_end(); // arena.rs:316
    }

    /// fill.rs:239-365 `fill_attrs` for `Want::Stat` (writer lock held).
    fn fill_attrs(&self) -> bool {
        if !self.drain() {
            return false; // fill.rs:240-242
        }
        // fill.rs:243-245: the node is live (never killed in this model).
        let watched = self.wd.own() != 0; // fill.rs:252
        if !watched && self.flaw != Flaw::LookBeforeWatch {
            self.add_watch(); // watch before you look: fill.rs:259-265 (`watch`, fill.rs:56-73)
        }
        let g = self.wd_gen.own(); // fill.rs:258 (or `watch`, fill.rs:67)
        let st = self.real_stat(); // fill.rs:279-295
        if !watched && self.flaw == Flaw::LookBeforeWatch {
            self.add_watch();
        }
        if !self.drain() {
            return false; // fill.rs:299
        }
        if self.flaw != Flaw::FillNoRecheck && self.wd_gen.own() != g {
            return false; // fill.rs:299-301
        }
        let n = &self.node;
        let f = n.flags.own(); // fill.rs:305

        // fill.rs:343-345 attaches the new watch to the node (apply finds it from then on;
        // before, an event only bumps the watch generation, which the re-check compares).
        if !watched {
            self.wd.store(1, Relaxed);
        }
        n.write_begin(); // fill.rs:346
        n.store_stat(st); // fill.rs:350
        n.flags.store(f | HAS_STAT, Relaxed); // fill.rs:351
        n.write_end(); // fill.rs:363
        true
    }

    /// lib.rs:336-451 `Cache::lookup` of the file's path, every node above it cached and valid,
    /// so the walk (or the memo, lib.rs:383-407) ends in `complete_walk` of the file's node. The
    /// path has been seen before (lib.rs:386-390), so a miss fills.
    fn lookup(&self) -> Answer {
        for _ in 0..ROUNDS {
            let g1 = self.gen.load(Acquire); // lib.rs:364
            if g1 & 1 != 0 {
                return Answer::Fallback; // lib.rs:365-367
            }
            let w = complete_walk(&self.node, 0); // lib.rs:383-407
            let answer = matches!(w, Walk::Found(_) | Walk::Unstable); // lib.rs:409
            if answer && self.flaw != Flaw::NoBarrier {
                // lib.rs:410-426: the barrier (no mount change here, so no `mount_dirty`).
                if self.poll() {
                    if !self.try_lock() {
                        return Answer::Fallback; // lib.rs:416-418
                    }
                    let ok = self.drain(); // lib.rs:419
                    self.unlock(); // lib.rs:420
                    if !ok {
                        return Answer::Fallback; // lib.rs:421-423
                    }
                    continue; // lib.rs:424
                }
            }
            if self.flaw != Flaw::LookupNoFence {
                fence(Acquire); // lib.rs:429
            }
            if self.gen.load(Relaxed) != g1 {
                continue; // lib.rs:430-432
            }
            match w {
                Walk::Found([v]) => return Answer::Hit(v), // lib.rs:434
                Walk::NeedAttrs => {}
                _ => return Answer::Fallback, // lib.rs:436-437
            }
            if !self.try_lock() {
                return Answer::Fallback; // lib.rs:440-442
            }
            let ok = self.fill_attrs(); // lib.rs:443
            self.unlock(); // lib.rs:444
            if !ok {
                return Answer::Fallback; // lib.rs:445-447
            }
        }
        Answer::Fallback // lib.rs:450
    }

    /// Another thread's lookup that found events pending (lib.rs:415-425): drain under the lock.
    fn drain_locked(&self) {
        if self.try_lock() {
            self.drain();
            self.unlock();
        }
    }

    /// After every thread is done: drain what is left, then the cached record (if any).
    fn settle(&self) -> Option<u64> {
        assert!(self.try_lock(), "writer lock left held");
        self.drain();
        self.unlock();
        let n = &self.node;
        (n.flags.own() & HAS_STAT != 0).then(|| n.stat[0].load(Relaxed))
    }
}

/// Tallies a lookup's answer, failing on the old value.
fn expect_current(seen: &Seen, a: Answer) {
    if let Answer::Hit(v) = a {
        Seen::bump(&seen.answers);
        assert_eq!(
            v, NEW,
            "stale answer: the value from before a completed change"
        );
    }
}

/// The file is cached with its old attributes. A modifier changes it (and its event is
/// queued); a drainer thread (another lookup that saw the event) drains concurrently. The
/// reader starts after the change completed (it joins the modifier: happens-before, as when it
/// learned of the change by any means), so it may answer only the new value; when it finds the
/// event still queued it drains itself, then fills, then answers. Bounded: 3 preemptions.
fn gen_reader_after_change(flaw: Flaw) -> StdArc<Seen> {
    check("gen_reader_after_change", Some(3), move |seen| {
        let w = Arc::new(World::new(Some(OLD), true, flaw));
        let d = {
            let w = w.clone();
            thread::spawn(move || w.drain_locked())
        };
        let m = {
            let w = w.clone();
            thread::spawn(move || w.modify(NEW))
        };
        m.join().unwrap();
        let a = w.lookup();
        expect_current(seen, a);
        d.join().unwrap();
    })
}

#[test]
fn gen_reader_after_change_never_answers_the_old_value() {
    let seen = gen_reader_after_change(Flaw::None);
    assert!(Seen::get(&seen.answers) > 0, "the reader never answered");
}

#[test]
#[should_panic(expected = "stale answer")]
fn gen_broken_when_drain_reads_before_gen_is_odd() {
    gen_reader_after_change(Flaw::GenOddAfterRead);
}

#[test]
#[should_panic(expected = "stale answer")]
fn gen_broken_without_gen_begin_fence() {
    gen_reader_after_change(Flaw::GenBeginNoFence);
}

#[test]
#[should_panic(expected = "stale answer")]
fn gen_broken_without_lookup_fence() {
    gen_reader_after_change(Flaw::LookupNoFence);
}

#[test]
#[should_panic(expected = "stale answer")]
fn gen_broken_without_barrier() {
    gen_reader_after_change(Flaw::NoBarrier);
}

/// Two readers, both starting after the change completed and no one else draining: each finds
/// the event queued (or the other's drain in progress or done) and must drain, fill or fall
/// back; neither may answer the old value. Bounded: 2 preemptions.
fn gen_readers_drain(flaw: Flaw) -> StdArc<Seen> {
    check("gen_readers_drain", Some(2), move |seen| {
        let w = Arc::new(World::new(Some(OLD), true, flaw));
        w.modify(NEW);
        let r2 = {
            let w = w.clone();
            thread::spawn(move || w.lookup())
        };
        let a = w.lookup();
        let b = r2.join().unwrap();
        expect_current(seen, a);
        expect_current(seen, b);
    })
}

#[test]
fn gen_readers_that_drain_never_answer_the_old_value() {
    let seen = gen_readers_drain(Flaw::None);
    assert!(Seen::get(&seen.answers) > 0, "no reader ever answered");
}

#[test]
#[should_panic(expected = "stale answer")]
fn gen_readers_broken_when_drain_reads_before_gen_is_odd() {
    gen_readers_drain(Flaw::GenOddAfterRead);
}

/// Without a change, the cached record is answered while a drainer runs: the answering path
/// is reached, and the barrier does not refuse it. Exhaustive.
#[test]
fn gen_unchanged_file_is_answered_from_the_cache() {
    let seen = check("gen_unchanged", None, |seen| {
        let w = Arc::new(World::new(Some(OLD), true, Flaw::None));
        let d = {
            let w = w.clone();
            thread::spawn(move || w.drain_locked())
        };
        if let Answer::Hit(v) = w.lookup() {
            Seen::bump(&seen.answers);
            assert_eq!(v, OLD);
        }
        d.join().unwrap();
    });
    assert!(
        Seen::get(&seen.answers) > 0,
        "the cached record was never answered"
    );
}

/// The file's attributes are not cached. A filler (a lookup that missed them) fills while a
/// modifier changes the file and a drainer thread drains. Once all are done and the queue is
/// drained, the cache must not hold the old value, and a lookup must not answer it.
/// `watched`: the inode watch exists already (a node whose attributes an event dropped), or
/// the fill adds it (a name-only node). Bounded: 3 preemptions.
fn fill(watched: bool, flaw: Flaw) -> StdArc<Seen> {
    let name = if watched { "fill" } else { "fill_new_watch" };
    check(name, Some(3), move |seen| {
        let w = Arc::new(World::new(None, watched, flaw));
        let f = {
            let w = w.clone();
            thread::spawn(move || w.lookup())
        };
        let d = {
            let w = w.clone();
            thread::spawn(move || w.drain_locked())
        };
        w.modify(NEW);
        f.join().unwrap();
        d.join().unwrap();
        if let Some(v) = w.settle() {
            Seen::bump(&seen.answers);
            assert_eq!(v, NEW, "stale record cached after the drain");
        }
        expect_current(seen, w.lookup());
    })
}

#[test]
fn fill_never_caches_the_old_value() {
    let seen = fill(true, Flaw::None);
    assert!(Seen::get(&seen.answers) > 0, "the fill never inserted");
}

#[test]
#[should_panic(expected = "stale record cached after the drain")]
fn fill_broken_without_watch_recheck() {
    fill(true, Flaw::FillNoRecheck);
}

#[test]
fn fill_with_a_new_watch_never_caches_the_old_value() {
    let seen = fill(false, Flaw::None);
    assert!(Seen::get(&seen.answers) > 0, "the fill never inserted");
}

#[test]
#[should_panic(expected = "stale record cached after the drain")]
fn fill_broken_when_looking_before_watching() {
    fill(false, Flaw::LookBeforeWatch);
}

// ------------------------------------------------------------------------------------------
// 5. The io_uring barrier.
// ------------------------------------------------------------------------------------------

/// `World` seen by one reader whose barrier is its own ring (ring.rs). Other threads drain with
/// `World::drain` (their own rings are not modelled: they only consume their own notices).
struct RingWorld {
    w: World,
    /// `IORING_SQ_TASKRUN` in the reader's ring.
    flag: AtomicU32,
    /// The CQ ring's tail (CQEs posted by the reader's own `io_uring_enter`).
    cq: AtomicU32,
    /// The CQ ring's head: written only by the reader.
    head: Owned,
    flaw: Flaw,
}

impl RingWorld {
    /// `pending`: a notice left from an event someone else already drained (spurious, allowed).
    fn new(pending: bool, flaw: Flaw) -> Self {
        RingWorld {
            w: World::new(Some(OLD), true, Flaw::None),
            flag: AtomicU32::new(pending as u32),
            cq: AtomicU32::new(0),
            head: Owned::new(0),
            flaw,
        }
    }

    /// The change, then the wake: `io_poll_wake` -> `io_req_local_work_add` ->
    /// `io_ctx_mark_taskrun`, inside the writer's call. (The kernel skips the flag when the
    /// poll's work is already queued, which left the flag set; setting it again is the same.)
    fn modify(&self, v: u64) {
        self.w.modify(v);
        self.flag.fetch_or(1, AcqRel);
    }

    /// The reader's `io_uring_enter(GETEVENTS)`: `__io_run_local_work` clears the flag, then
    /// the poll's task work posts a CQE if the inotify fd is readable.
    fn enter(&self) {
        if self.flag.fetch_and(0, AcqRel) != 0 && self.w.queue.load(Acquire) != 0 {
            self.cq.fetch_add(1, Release);
        }
    }

    /// ring.rs `quiet`.
    fn quiet(&self) -> bool {
        let flag_clear = self.flaw == Flaw::RingIgnoresFlag || self.flag.load(Acquire) == 0;
        flag_clear && self.cq.load(Acquire) as u64 == self.head.own()
    }

    /// ring.rs `consume`.
    fn consume(&self) {
        if self.flag.load(Acquire) != 0 {
            self.enter();
        }
        self.head.store(self.cq.load(Acquire) as u64, Release);
    }

    /// notify.rs `drain` on the reader's thread (writer lock held): notices, then the queue.
    fn drain(&self) {
        self.w.gen_begin();
        if self.flaw != Flaw::RingConsumeAfterRead {
            self.consume();
        }
        while self.w.read_events() != 0 {
            self.w.apply();
        }
        if self.flaw == Flaw::RingConsumeAfterRead {
            self.consume();
        }
        self.w.gen_end();
    }

    /// lib.rs `Cache::lookup` with the ring barrier. A miss fills with `World::fill_attrs`,
    /// whose drains leave the reader's notices in place (only later barriers pay for that).
    fn lookup(&self) -> Answer {
        let w = &self.w;
        for _ in 0..ROUNDS {
            let g1 = w.gen.load(Acquire);
            if g1 & 1 != 0 {
                return Answer::Fallback;
            }
            let walk = complete_walk(&w.node, 0);
            if matches!(walk, Walk::Found(_)) && !self.quiet() {
                if self.flaw == Flaw::RingConsumeWithoutLock {
                    self.consume();
                }
                if !w.try_lock() {
                    return Answer::Fallback;
                }
                self.drain();
                w.unlock();
                continue;
            }
            fence(Acquire);
            if w.gen.load(Relaxed) != g1 {
                continue;
            }
            match walk {
                Walk::Found([v]) => return Answer::Hit(v),
                Walk::NeedAttrs => {}
                _ => return Answer::Fallback,
            }
            if !w.try_lock() {
                return Answer::Fallback;
            }
            let ok = w.fill_attrs();
            w.unlock();
            if !ok {
                return Answer::Fallback;
            }
        }
        Answer::Fallback
    }
}

/// The reader starts after the change completed; another thread drains concurrently (its own
/// notices). The reader may answer only the new value. Bounded: 3 preemptions.
fn ring_reader_after_change(flaw: Flaw) -> StdArc<Seen> {
    check("ring_reader_after_change", Some(3), move |seen| {
        let r = Arc::new(RingWorld::new(false, flaw));
        let d = {
            let r = r.clone();
            thread::spawn(move || r.w.drain_locked())
        };
        let m = {
            let r = r.clone();
            thread::spawn(move || r.modify(NEW))
        };
        m.join().unwrap();
        expect_current(seen, r.lookup());
        d.join().unwrap();
    })
}

#[test]
fn ring_reader_after_change_never_answers_the_old_value() {
    let seen = ring_reader_after_change(Flaw::None);
    assert!(Seen::get(&seen.answers) > 0, "the reader never answered");
}

#[test]
#[should_panic(expected = "stale answer")]
fn ring_broken_when_the_flag_is_ignored() {
    ring_reader_after_change(Flaw::RingIgnoresFlag);
}

/// The reader looks up during the change (with a spurious notice pending, so it drains) while
/// another thread drains too; then, after the change completed, looks up again: the second
/// answer may only be the new value. Bounded: 3 preemptions.
fn ring_reader_during_change(flaw: Flaw) -> StdArc<Seen> {
    check("ring_reader_during_change", Some(3), move |seen| {
        let r = Arc::new(RingWorld::new(true, flaw));
        let d = {
            let r = r.clone();
            thread::spawn(move || r.w.drain_locked())
        };
        let m = {
            let r = r.clone();
            thread::spawn(move || r.modify(NEW))
        };
        let _ = r.lookup();
        m.join().unwrap();
        expect_current(seen, r.lookup());
        d.join().unwrap();
    })
}

#[test]
fn ring_reader_during_change_never_answers_the_old_value_after_it() {
    let seen = ring_reader_during_change(Flaw::None);
    assert!(Seen::get(&seen.answers) > 0, "the reader never answered");
}

#[test]
#[should_panic(expected = "stale answer")]
fn ring_broken_when_notices_are_consumed_after_the_read() {
    ring_reader_during_change(Flaw::RingConsumeAfterRead);
}

#[test]
#[should_panic(expected = "stale answer")]
fn ring_broken_when_notices_are_consumed_without_the_lock() {
    ring_reader_during_change(Flaw::RingConsumeWithoutLock);
}
