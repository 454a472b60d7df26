//! The miss path: learning one node from the kernel without ever inserting a stale answer.
//!
//! Watch before you look: the parent directory is already watched (every cached directory
//! is); the child's own inode watch is added *before* its real `lstat`; then pending events are
//! drained; the node is inserted only if neither the parent's entries nor the child's watch saw
//! an event in between. An event applied between the real call and the insert would otherwise
//! be lost forever. Writer lock held throughout.

use crate::dcache::*;
use crate::notify::WATCH_MASK;
use crate::sys::{self, Errno};
use crate::{Cache, PerThread, Reason, Want};

/// `Node::statx_mask` of a sealed record (`crate::statx`): it serves every projectable mask.
/// Never a request mask: it has `STATX__RESERVED` set.
pub(crate) const SEALED: u32 = u32::MAX;
use core::sync::atomic::Ordering::Relaxed;

/// What the kernel said about one path.
enum Seen {
    Positive { st: libc::stat, wd: i32 },
    Negative,
}

impl Cache {
    /// Writes the absolute path of `r` (NUL-terminated) into `buf`; returns its length.
    /// Names are written from the leaf up at the end of `buf`, then moved to the front.
    pub(crate) fn node_path(&self, r: NodeRef, buf: &mut [u8; 4096]) -> Option<usize> {
        let mut at = buf.len() - 1;
        buf[at] = 0;
        let mut cur = r;
        while cur.idx != ROOT {
            let f = self.live(cur)?;
            let node = self.arena.node(cur.idx);
            let nl = Node::name_len(f);
            if at < nl + 2 {
                return None;
            }
            at -= nl;
            node.copy_name(f, &mut buf[at..at + nl]);
            at -= 1;
            buf[at] = b'/';
            cur = NodeRef {
                idx: node.parent.load(Relaxed),
                incarn: node.parent_incarn.load(Relaxed),
            };
        }
        self.live(cur)?;
        if at == buf.len() - 1 {
            at -= 1;
            buf[at] = b'/';
        }
        let len = buf.len() - 1 - at;
        buf.copy_within(at.., 0);
        Some(len)
    }

    /// Adds (or finds) the inode watch for `path`; `Ok(None)` if the name does not exist.
    fn watch(&self, path: &[u8]) -> Result<Option<(i32, u32)>, Reason> {
        let h = self.arena.header();
        let fd = h.inotify_fd.load(Relaxed);
        if h.watches.load(Relaxed) >= self.cfg.max_watches.load(Relaxed) {
            return Err(Reason::Full);
        }
        // SAFETY: `path` is NUL-terminated (node_path).
        match unsafe { sys::inotify_add_watch(fd, path.as_ptr(), WATCH_MASK) } {
            Ok(wd) => {
                let wd = wd as i32;
                let Some(e) = self.arena.wd_entry(wd, true) else {
                    // A watch the table cannot hold would be unknown to event application.
                    let _ = sys::inotify_rm_watch(fd, wd);
                    return Err(Reason::Full);
                };
                Ok(Some((wd, e.gen.load(Relaxed))))
            }
            Err(Errno::ENOENT) => Ok(None),
            Err(Errno(libc::ENOSPC)) | Err(Errno(libc::ENOMEM)) => Err(Reason::Watch),
            Err(_) => Err(Reason::Errno),
        }
    }

    /// The real `lstat` of `path` (NUL-terminated) with its watch in place.
    fn look(&self, path: &[u8]) -> Result<(Seen, Option<(i32, u32)>), Reason> {
        let w = self.watch(path)?;
        // SAFETY: zeroed stat is a valid output buffer.
        let mut st: libc::stat = unsafe { core::mem::zeroed() };
        // SAFETY: NUL-terminated path; `st` is writable.
        match unsafe {
            sys::newfstatat(
                libc::AT_FDCWD,
                path.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        } {
            Ok(_) => match w {
                Some((wd, _)) => Ok((Seen::Positive { st, wd }, w)),
                None => Err(Reason::Raced), // appeared between the watch and the lstat
            },
            Err(Errno::ENOENT) if w.is_none() => Ok((Seen::Negative, None)),
            Err(Errno::ENOENT) => Err(Reason::Raced),
            Err(_) => Err(Reason::Errno),
        }
    }

    /// Removes watch `wd` if no node uses it (its `IN_IGNORED` later frees the table slot).
    fn unwatch_if_unused(&self, wd: i32) {
        if !self.arena.wd_in_use(wd) {
            let _ = sys::inotify_rm_watch(self.arena.header().inotify_fd.load(Relaxed), wd);
        }
    }

    /// True if the watch saw no event since `w` was taken.
    fn quiet(&self, w: Option<(i32, u32)>) -> bool {
        match w {
            None => true,
            Some((wd, g)) => self
                .arena
                .wd_entry(wd, false)
                .is_some_and(|e| e.gen.load(Relaxed) == g),
        }
    }

    /// Fills the root directory's node.
    pub(crate) fn fill_root(&self, pt: &PerThread) -> Result<(), Reason> {
        if !self.drain(pt) {
            return Err(Reason::Busy);
        }
        let (seen, w) = self.look(b"/\0")?;
        if !self.drain(pt) || !self.quiet(w) {
            return Err(Reason::Raced);
        }
        let Seen::Positive { st, wd } = seen else {
            return Err(Reason::Errno);
        };
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR || !self.mounts.allowed(st.st_dev) {
            return Err(Reason::FsType);
        }
        let n = self.arena.node(ROOT);
        n.write_begin();
        n.parent.store(NIL, Relaxed);
        n.parent_incarn.store(0, Relaxed);
        n.link_len.store(0, Relaxed);
        store_stat(n, &st);
        n.flags.store(ST_POSITIVE | IS_DIR | HAS_STAT, Relaxed);
        n.write_end();
        self.arena.attach_wd(ROOT, wd);
        Ok(())
    }

    /// Fills child `name` of directory `parent`.
    pub(crate) fn fill_child(
        &self,
        pt: &PerThread,
        parent: NodeRef,
        name: &[u8],
    ) -> Result<(), Reason> {
        if !self.drain(pt) {
            return Err(Reason::Busy);
        }
        let Some(pf) = self.live(parent) else {
            return Err(Reason::Raced);
        };
        if pf & IS_DIR == 0 {
            return Err(Reason::Raced);
        }
        if self.arena.lookup_fast(parent, name).is_some() {
            return Ok(()); // another thread filled it
        }
        // SAFETY: this thread's scratch (in_lib guard).
        let buf = unsafe { &mut (*pt.scratch.get()).fill };
        let Some(mut len) = self.node_path(parent, buf) else {
            return Err(Reason::Name);
        };
        if len + 1 + name.len() + 1 > buf.len() {
            return Err(Reason::Name);
        }
        if len > 1 {
            buf[len] = b'/';
            len += 1;
        }
        buf[len..len + name.len()].copy_from_slice(name);
        len += name.len();
        buf[len] = 0;
        let eg = self.arena.node(parent.idx).entry_gen.load(Relaxed);
        let (seen, w) = self.look(&buf[..=len])?;
        let mut link = [0u8; LINK_INLINE];
        let mut link_len = 0;
        let mut flags = ST_NEGATIVE;
        if let Seen::Positive { st, .. } = &seen {
            flags = self.classify(st);
            if st.st_mode & libc::S_IFMT == libc::S_IFLNK && flags & ST_MASK == ST_POSITIVE {
                // SAFETY: NUL-terminated path; `link` is writable for its length.
                let r = unsafe {
                    sys::readlinkat(libc::AT_FDCWD, buf.as_ptr(), link.as_mut_ptr(), link.len())
                };
                match r {
                    Ok(n) if n as i64 == st.st_size && n > 0 && n < LINK_INLINE => link_len = n,
                    _ => flags = ST_NOCACHE,
                }
                if flags & ST_MASK == ST_POSITIVE && self.may_follow(pt.scratch.get(), parent, st) {
                    flags |= FOLLOW_OK;
                }
            }
        }
        if !self.drain(pt) || !self.quiet(w) || self.live(parent).is_none() {
            return Err(Reason::Raced);
        }
        if self.arena.node(parent.idx).entry_gen.load(Relaxed) != eg {
            return Err(Reason::Raced);
        }
        let i = self.alloc_node(pt)?;
        let n = self.arena.node(i);
        n.write_begin();
        n.parent.store(parent.idx, Relaxed);
        n.parent_incarn.store(parent.incarn, Relaxed);
        n.set_name(name);
        n.link_len.store(link_len as u32, Relaxed);
        store_bytes(&n.link, &link[..link_len]);
        n.entry_gen.store(0, Relaxed);
        n.wd.store(0, Relaxed);
        if let Seen::Positive { st, .. } = &seen {
            store_stat(n, st);
            n.atime_deadline.store(
                self.atime_deadline(st.st_dev, st.st_atime, st.st_atime_nsec, st)
                    .unwrap_or(0),
                Relaxed,
            );
        }
        n.flags
            .store(flags | (name.len() as u32) << NAME_SHIFT, Relaxed);
        n.write_end();
        if let Seen::Positive { wd, .. } = seen {
            if flags & UNSTABLE == 0 {
                self.arena.attach_wd(i, wd);
            } else {
                self.unwatch_if_unused(wd);
            }
        }
        self.arena.link(i, parent, name);
        Ok(())
    }

    /// Re-reads the attributes of a node whose name is still valid (child events or a statx
    /// mask not yet seen).
    pub(crate) fn fill_attrs(&self, pt: &PerThread, r: NodeRef, want: Want) -> Result<(), Reason> {
        if !self.drain(pt) {
            return Err(Reason::Busy);
        }
        if self.live(r).is_none() {
            return Err(Reason::Raced);
        }
        // SAFETY: this thread's scratch.
        let buf = unsafe { &mut (*pt.scratch.get()).fill };
        let Some(_) = self.node_path(r, buf) else {
            return Err(Reason::Name);
        };
        let n = self.arena.node(r.idx);
        let wd0 = n.wd.load(Relaxed);
        // Watch before you look: a name-only node (UNSTABLE) has no inode watch yet.
        let (wd, g) = if wd0 > 0 {
            let Some(e) = self.arena.wd_entry(wd0, false) else {
                return Err(Reason::Raced);
            };
            (wd0, e.gen.load(Relaxed))
        } else {
            match self.watch(&buf[..]) {
                Ok(Some(w)) => w,
                Ok(None) => return Err(Reason::Raced),
                Err(e) => return Err(e),
            }
        };
        let Some(e) = self.arena.wd_entry(wd, false) else {
            return Err(Reason::Raced);
        };
        let p = NodeRef {
            idx: n.parent.load(Relaxed),
            incarn: n.parent_incarn.load(Relaxed),
        };
        let eg = self.arena.node(p.idx).entry_gen.load(Relaxed);
        // SAFETY: zeroed structs are valid output buffers.
        let mut st: libc::stat = unsafe { core::mem::zeroed() };
        // SAFETY: as above.
        let mut stx: libc::statx = unsafe { core::mem::zeroed() };
        // SAFETY: NUL-terminated path, writable outputs.
        let r_ = unsafe {
            match want {
                Want::Stat => sys::newfstatat(
                    libc::AT_FDCWD,
                    buf.as_ptr(),
                    &mut st,
                    libc::AT_SYMLINK_NOFOLLOW,
                ),
                // A projectable mask: one sealed record serves every such mask (two calls).
                Want::Statx(m) if crate::statx::projectable(m) => {
                    // SAFETY: `libc::statx` is 256 bytes of plain old data.
                    let rec = &mut *(&mut stx as *mut libc::statx as *mut [u8; STATX_SIZE]);
                    match crate::statx::fetch(libc::AT_FDCWD, buf.as_ptr(), rec) {
                        Ok(true) => Ok(0),
                        Ok(false) => return Err(Reason::Flags),
                        Err(e) => Err(e),
                    }
                }
                Want::Statx(m) => sys::statx(
                    libc::AT_FDCWD,
                    buf.as_ptr(),
                    libc::AT_SYMLINK_NOFOLLOW,
                    m,
                    &mut stx,
                ),
            }
        };
        if r_.is_err() {
            return Err(Reason::Raced);
        }
        let stored_mask = match want {
            Want::Statx(m) if crate::statx::projectable(m) => SEALED,
            Want::Statx(m) => m,
            Want::Stat => 0,
        };
        if !self.drain(pt) || self.live(r).is_none() || e.gen.load(Relaxed) != g {
            return Err(Reason::Raced);
        }
        if r.idx != ROOT && self.arena.node(p.idx).entry_gen.load(Relaxed) != eg {
            return Err(Reason::Raced);
        }
        let f = n.flags.load(Relaxed);
        let deadline = if f & (IS_DIR | IS_LNK) != 0 {
            u64::MAX
        } else {
            // SAFETY: zeroed stat is valid; only the time and dev fields are read below.
            let mut t: libc::stat = unsafe { core::mem::zeroed() };
            match want {
                Want::Stat => t = st,
                Want::Statx(_) => {
                    // The sealed record asked for every time; an exact-mask record must have.
                    const TIMES: u32 = libc::STATX_ATIME | libc::STATX_MTIME | libc::STATX_CTIME;
                    if stored_mask != SEALED && stored_mask & TIMES != TIMES {
                        return Err(Reason::Inode);
                    }
                    t.st_dev = libc::makedev(stx.stx_dev_major, stx.stx_dev_minor);
                    t.st_atime = stx.stx_atime.tv_sec;
                    t.st_atime_nsec = stx.stx_atime.tv_nsec as i64;
                    t.st_mtime = stx.stx_mtime.tv_sec;
                    t.st_mtime_nsec = stx.stx_mtime.tv_nsec as i64;
                    t.st_ctime = stx.stx_ctime.tv_sec;
                    t.st_ctime_nsec = stx.stx_ctime.tv_nsec as i64;
                }
            }
            match self.atime_deadline(t.st_dev, t.st_atime, t.st_atime_nsec, &t) {
                Some(d) => d,
                None => {
                    // Not answerable until something happens to it: keep the name, drop the
                    // watch (its directory's watch reports the read that would settle it).
                    n.write_begin();
                    n.flags
                        .store(f & !(HAS_STAT | HAS_STATX) | UNSTABLE, Relaxed);
                    n.write_end();
                    if wd0 <= 0 {
                        self.unwatch_if_unused(wd);
                    }
                    return Err(Reason::Inode);
                }
            }
        };
        if wd0 <= 0 {
            self.arena.attach_wd(r.idx, wd);
        }
        n.write_begin();
        n.atime_deadline.store(deadline, Relaxed);
        match want {
            Want::Stat => {
                store_stat(n, &st);
                n.flags.store(f | HAS_STAT, Relaxed);
            }
            Want::Statx(m) => {
                // SAFETY: statx is plain old data of STATX_SIZE bytes.
                let b = unsafe {
                    core::slice::from_raw_parts(&stx as *const libc::statx as *const u8, STATX_SIZE)
                };
                store_bytes(&n.statx, b);
                let _ = m;
                n.statx_mask.store(stored_mask, Relaxed);
                n.flags.store(f | HAS_STATX, Relaxed);
            }
        }
        n.write_end();
        Ok(())
    }

    /// Which node state an lstat result earns: only directories, regular files and symlinks on
    /// allowlisted filesystems are answered from the cache.
    fn classify(&self, st: &libc::stat) -> u32 {
        let t = st.st_mode & libc::S_IFMT;
        if !self.mounts.allowed(st.st_dev) {
            return ST_NOCACHE;
        }
        match t {
            libc::S_IFDIR => ST_POSITIVE | IS_DIR | HAS_STAT,
            libc::S_IFREG
                if self
                    .atime_deadline(st.st_dev, st.st_atime, st.st_atime_nsec, st)
                    .is_some() =>
            {
                ST_POSITIVE | HAS_STAT
            }
            libc::S_IFREG => ST_POSITIVE | UNSTABLE,
            libc::S_IFLNK => ST_POSITIVE | IS_LNK | HAS_STAT,
            _ => ST_NOCACHE,
        }
    }

    /// Until when (a CLOCK_REALTIME second) no read, EOF read or mmap can change this regular
    /// file's atime. Those updates send no inotify event (`IN_ACCESS` only comes with data), so a
    /// file is answered from the cache only while `relatime_need_update` (fs/inode.c) is false:
    /// atime newer than mtime and ctime, and less than a day old (less a margin).
    pub(crate) fn atime_deadline(
        &self,
        dev: u64,
        asec: i64,
        ansec: i64,
        st: &libc::stat,
    ) -> Option<u64> {
        const DAY: i64 = 24 * 60 * 60;
        const MARGIN: i64 = 120;
        let newer = |sec: i64, nsec: i64| (asec, ansec) > (sec, nsec);
        match self.mounts.atime_mode(dev)? {
            crate::mounts::NOATIME => Some(u64::MAX),
            crate::mounts::RELATIME
                if newer(st.st_mtime, st.st_mtime_nsec) && newer(st.st_ctime, st.st_ctime_nsec) =>
            {
                let deadline = asec.saturating_add(DAY - MARGIN);
                (deadline > now_coarse()).then_some(deadline as u64)
            }
            _ => None,
        }
    }

    /// `may_follow_link` (fs/namei.c) for the protected_symlinks sysctl: following a symlink in
    /// a sticky world-writable directory is refused unless the follower or the directory owns it.
    fn may_follow(
        &self,
        self_scratch: *mut crate::Scratch,
        parent: NodeRef,
        link: &libc::stat,
    ) -> bool {
        let h = self.arena.header();
        if h.protected_symlinks.load(Relaxed) == 0 || link.st_uid == h.euid.load(Relaxed) {
            return true;
        }
        // SAFETY: this thread's scratch; `aux` is used by nothing else during a fill.
        let pb = unsafe { &mut (*self_scratch).aux };
        let Some(_) = self.node_path(parent, pb) else {
            return false;
        };
        // SAFETY: zeroed stat is a valid buffer.
        let mut pst: libc::stat = unsafe { core::mem::zeroed() };
        // SAFETY: NUL-terminated path.
        if unsafe {
            sys::newfstatat(
                libc::AT_FDCWD,
                pb.as_ptr(),
                &mut pst,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        }
        .is_err()
        {
            return false;
        }
        let sticky_ww = libc::S_ISVTX | libc::S_IWOTH;
        pst.st_mode & sticky_ww != sticky_ww || pst.st_uid == link.st_uid
    }

    /// A free node, reclaiming garbage or flushing when the arena is full.
    fn alloc_node(&self, pt: &PerThread) -> Result<u32, Reason> {
        if let Some(i) = self.arena.alloc() {
            return Ok(i);
        }
        if self.arena.reclaim() > 0 {
            if let Some(i) = self.arena.alloc() {
                return Ok(i);
            }
        }
        self.gen_begin();
        self.flush(pt);
        self.gen_end();
        Err(Reason::Full)
    }
}

/// Stores an lstat result in the node (inside write_begin/write_end).
fn store_stat(n: &Node, st: &libc::stat) {
    // SAFETY: struct stat is plain old data of STAT_SIZE bytes on x86_64.
    let b = unsafe { core::slice::from_raw_parts(st as *const libc::stat as *const u8, STAT_SIZE) };
    store_bytes(&n.stat, b);
}

/// CLOCK_REALTIME_COARSE seconds (vDSO, no system call).
pub(crate) fn now_coarse() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is writable; clock_gettime is async-signal-safe.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    ts.tv_sec
}
