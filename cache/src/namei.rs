//! The path walk over cached nodes, in the kernel's vocabulary (`fs/namei.c`): `path_init`
//! picks the start, `link_path_walk` goes component by component, `walk_component` looks a name
//! up (`lookup_fast`), `step_into` follows symlinks from their cached bodies, `complete_walk`
//! copies the answer out. Lock-free: it only reads nodes under their seqcounts; the caller
//! validates the cache-wide `gen` around it.
//!
//! Like RCU-walk, it may only decide what the real walk would have decided; anything it cannot
//! decide exactly becomes `Fallback` (or a request to fill a node, then walk again).

use crate::dcache::*;
use crate::sys::Errno;
use crate::{Cache, Reason, Want};
use core::sync::atomic::Ordering::Relaxed;

/// Most symlinks one lookup follows (the kernel's MAXSYMLINKS); more gives ELOOP, which we
/// leave to the kernel.
pub const MAXSYMLINKS: u32 = 40;

/// The outcome of one walk.
pub enum Walk {
    /// Answer copied into the output buffer; the node it came from.
    Found(NodeRef),
    /// The name does not exist (ENOENT) or a non-directory was used as one (ENOTDIR).
    Negative(Errno),
    /// `parent` has no cached child called `name`: fill it and walk again.
    NeedChild {
        parent: NodeRef,
        name: [u8; NAME_INLINE],
        len: usize,
    },
    /// The node's name is cached but not the attributes this call wants.
    NeedAttrs(NodeRef),
    /// A regular file whose attributes cannot be answered until an event about it arrives.
    Unstable(NodeRef),
    /// The root or cwd node is not known yet.
    NeedRoot,
    NeedCwd,
    Fallback(Reason),
}

/// Where a walk starts.
#[derive(Clone, Copy)]
pub enum Start {
    Root,
    Cwd,
}

impl Cache {
    /// `path_init` — the live start node.
    fn path_init(&self, start: Start) -> Result<NodeRef, Walk> {
        match start {
            Start::Root => {
                let n = self.arena.node(ROOT);
                let s = n.read_begin().ok_or(Walk::Fallback(Reason::Raced))?;
                let live = n.flags.load(Relaxed) & ST_MASK == ST_POSITIVE;
                let r = NodeRef {
                    idx: ROOT,
                    incarn: n.incarn.load(Relaxed),
                };
                if n.read_retry(s) {
                    return Err(Walk::Fallback(Reason::Raced));
                }
                if live {
                    Ok(r)
                } else {
                    Err(Walk::NeedRoot)
                }
            }
            Start::Cwd => {
                let c = self.arena.header().cwd.load(Relaxed);
                if c == 0 {
                    return Err(Walk::NeedCwd);
                }
                let r = NodeRef {
                    idx: (c >> 32) as u32,
                    incarn: c as u32,
                };
                if self.live(r).is_none() {
                    return Err(Walk::NeedCwd);
                }
                Ok(r)
            }
        }
    }

    /// The node's flags if `r` is still that incarnation and positive.
    #[inline]
    pub(crate) fn live(&self, r: NodeRef) -> Option<u32> {
        let n = self.arena.node(r.idx);
        let s = n.read_begin()?;
        let f = n.flags.load(Relaxed);
        let ok = n.incarn.load(Relaxed) == r.incarn && f & ST_MASK == ST_POSITIVE;
        if n.read_retry(s) || !ok {
            return None;
        }
        Some(f)
    }

    /// The walk: `link_path_walk` plus the last component and `complete_walk`.
    pub(crate) fn path_lookupat(
        &self,
        path: &[u8],
        walk: &mut [[u8; 4096]; 2],
        start: Start,
        nofollow: bool,
        want: Want,
        out: &mut [u8; STATX_SIZE],
    ) -> Walk {
        let mut dir = match self.path_init(start) {
            Ok(r) => r,
            Err(w) => return w,
        };
        // The path being walked lives in `path` or, after a symlink, in one of two scratch
        // buffers (alternating, so a body can be spliced in front of the rest).
        let mut which: usize = 2; // 2: caller's path
        let mut len = path.len();
        let mut pos = 0usize;
        let mut links = 0u32;
        loop {
            let p: &[u8] = if which == 2 {
                &path[..len]
            } else {
                &walk[which][..len]
            };
            while pos < p.len() && p[pos] == b'/' {
                pos += 1;
            }
            if pos == p.len() {
                // Ended on a directory ("/", "a/", ".", "a/..").
                return self.complete_walk(dir, want, out);
            }
            let s = pos;
            while pos < p.len() && p[pos] != b'/' {
                pos += 1;
            }
            let name = &p[s..pos];
            let mut rest = pos;
            while rest < p.len() && p[rest] == b'/' {
                rest += 1;
            }
            let last = rest == p.len();
            let trailing = last && pos < p.len();
            if name.len() > 255 {
                return Walk::Fallback(Reason::Name);
            }
            if name == b"." {
                continue;
            }
            if name == b".." {
                dir = match self.parent_of(dir) {
                    Some(r) => r,
                    None => return Walk::Fallback(Reason::Raced),
                };
                continue;
            }
            if name.len() > NAME_INLINE {
                return Walk::Fallback(Reason::Name);
            }
            // walk_component
            let Some((i, f, seq)) = self.arena.lookup_fast(dir, name) else {
                let mut nb = [0u8; NAME_INLINE];
                nb[..name.len()].copy_from_slice(name);
                return Walk::NeedChild {
                    parent: dir,
                    name: nb,
                    len: name.len(),
                };
            };
            match f & ST_MASK {
                ST_NEGATIVE => return Walk::Negative(Errno::ENOENT),
                ST_NOCACHE => return Walk::Fallback(Reason::FsType),
                ST_POSITIVE => {}
                _ => return Walk::Fallback(Reason::Raced),
            }
            let n = self.arena.node(i);
            let child = NodeRef {
                idx: i,
                incarn: n.incarn.load(Relaxed),
            };
            // step_into: follow a symlink unless it is the last component and not followed.
            if f & IS_LNK != 0 && (!last || !nofollow || trailing) {
                if f & FOLLOW_OK == 0 {
                    return Walk::Fallback(Reason::Errno);
                }
                links += 1;
                if links > MAXSYMLINKS {
                    return Walk::Fallback(Reason::Symlink);
                }
                let blen = n.link_len.load(Relaxed) as usize;
                // The body replaces this component; the slashes and the rest stay after it.
                if blen == 0 || blen > LINK_INLINE || blen + (len - pos) > 4095 {
                    return Walk::Fallback(Reason::Symlink);
                }
                let dst = if which == 0 { 1 } else { 0 };
                let (a, b) = walk.split_at_mut(1);
                let (src_buf, dst_buf): (&[u8], &mut [u8; 4096]) = match (which, dst) {
                    (2, d) => (path, if d == 0 { &mut a[0] } else { &mut b[0] }),
                    (0, _) => (&a[0][..], &mut b[0]),
                    _ => (&b[0][..], &mut a[0]),
                };
                load_bytes(&n.link, &mut dst_buf[..blen]);
                let tail = &src_buf[pos..len];
                dst_buf[blen..blen + tail.len()].copy_from_slice(tail);
                if n.read_retry(seq) {
                    return Walk::Fallback(Reason::Raced);
                }
                let absolute = dst_buf[0] == b'/';
                len = blen + tail.len();
                which = dst;
                pos = 0;
                if absolute {
                    dir = match self.path_init(Start::Root) {
                        Ok(r) => r,
                        Err(w) => return w,
                    };
                }
                continue;
            }
            if n.read_retry(seq) {
                return Walk::Fallback(Reason::Raced);
            }
            if f & IS_LNK != 0 {
                // lstat of a symlink: following a link updates its atime without any inotify
                // event (touch_atime in pick_link), so its own attributes are never served.
                return Walk::Fallback(Reason::Inode);
            }
            if !last {
                if f & IS_DIR == 0 {
                    return Walk::Negative(Errno::ENOTDIR);
                }
                dir = child;
                continue;
            }
            if trailing && f & IS_DIR == 0 {
                return Walk::Negative(Errno::ENOTDIR);
            }
            return self.complete_walk(child, want, out);
        }
    }

    /// The physical parent (`..`); the root is its own parent.
    fn parent_of(&self, r: NodeRef) -> Option<NodeRef> {
        if r.idx == ROOT {
            return Some(r);
        }
        let n = self.arena.node(r.idx);
        let s = n.read_begin()?;
        let p = NodeRef {
            idx: n.parent.load(Relaxed),
            incarn: n.parent_incarn.load(Relaxed),
        };
        let ok = n.incarn.load(Relaxed) == r.incarn;
        if n.read_retry(s) || !ok {
            return None;
        }
        self.live(p).map(|_| p)
    }

    /// `complete_walk` — copies the node's attributes for this call, under its seqcount.
    pub(crate) fn complete_walk(&self, r: NodeRef, want: Want, out: &mut [u8; STATX_SIZE]) -> Walk {
        let n = self.arena.node(r.idx);
        let Some(s) = n.read_begin() else {
            return Walk::Fallback(Reason::Raced);
        };
        let f = n.flags.load(Relaxed);
        if n.incarn.load(Relaxed) != r.incarn || f & ST_MASK != ST_POSITIVE {
            return Walk::Fallback(Reason::Raced);
        }
        if f & UNSTABLE != 0 {
            return Walk::Unstable(r);
        }
        match want {
            Want::Stat => {
                if f & HAS_STAT == 0 {
                    return Walk::NeedAttrs(r);
                }
                load_bytes(&n.stat, &mut out[..STAT_SIZE]);
            }
            Want::Statx(mask) => {
                let stored = n.statx_mask.load(Relaxed);
                if f & HAS_STATX == 0 || (stored != mask && stored != crate::fill::SEALED) {
                    return Walk::NeedAttrs(r);
                }
                if stored == crate::fill::SEALED {
                    let mut rec = [0u8; STATX_SIZE];
                    load_bytes(&n.statx, &mut rec);
                    if n.read_retry(s) {
                        return Walk::Fallback(Reason::Raced);
                    }
                    if crate::statx::project(&rec, mask, out).is_none() {
                        return Walk::Fallback(Reason::Flags);
                    }
                } else {
                    load_bytes(&n.statx, &mut out[..STATX_SIZE]);
                }
            }
        }
        if f & (IS_DIR | IS_LNK) == 0
            && n.atime_deadline.load(Relaxed) <= crate::fill::now_coarse() as u64
        {
            // A read could now change atime without an event (see `atime_deadline`): relearn.
            return Walk::NeedAttrs(r);
        }
        if n.read_retry(s) {
            return Walk::Fallback(Reason::Raced);
        }
        Walk::Found(r)
    }
}
