//! Why a lookup was not answered from the cache — one counter per reason in the statistics.

/// The reason a call went to the real system call instead of the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Reason {
    /// The cache has not turned itself on yet (no reuse seen).
    Inactive,
    /// `STATCACHE=off`.
    Off,
    /// The cache turned itself off after an internal fault or resource limit.
    Disabled,
    /// An fd-based call (`fstat`, `AT_EMPTY_PATH`): the kernel answers those fastest.
    Fd,
    /// A nested call from a signal handler that interrupted the library, or a call before init.
    Reentry,
    /// Flags or a statx mask the cache does not model.
    Flags,
    /// A relative path against a directory fd other than `AT_FDCWD`.
    Dirfd,
    /// The caller's path or buffer pointer faulted (the real call produces `EFAULT`).
    Fault,
    /// Empty path, over-long path or component: the kernel's error is cheap and exact.
    Name,
    /// A filesystem outside the allowlist, a device node, FIFO or socket, or `/dev`, `/proc`.
    FsType,
    /// The entry is not in the cache yet (first sight: filled only once it repeats).
    Cold,
    /// The entry was filled during this call: the real call answered.
    Filled,
    /// The cache saw a concurrent change during the walk (generation moved).
    Raced,
    /// Events were pending and another thread held the drain lock.
    Busy,
    /// An inotify watch could not be added (limit, permission) for a directory on the path.
    Watch,
    /// The arena or the watch table is full.
    Full,
    /// An error the cache does not reproduce (EACCES, ELOOP, EOVERFLOW, ...).
    Errno,
    /// A hard link (`st_nlink > 1`) or other inode the cache cannot watch exactly.
    Inode,
    /// The current directory is unknown (changed in a way the cache did not see).
    Cwd,
    /// Another preloaded library defines the stat family: its answers are not the kernel's.
    Foreign,
    /// Symlink chain too long or too deep to follow from the cache.
    Symlink,
}

/// Number of reasons.
pub const N_REASON: usize = 21;

impl Reason {
    /// All reasons in counter order.
    pub const ALL: [Reason; N_REASON] = [
        Reason::Inactive,
        Reason::Off,
        Reason::Disabled,
        Reason::Fd,
        Reason::Reentry,
        Reason::Flags,
        Reason::Dirfd,
        Reason::Fault,
        Reason::Name,
        Reason::FsType,
        Reason::Cold,
        Reason::Filled,
        Reason::Raced,
        Reason::Busy,
        Reason::Watch,
        Reason::Full,
        Reason::Errno,
        Reason::Inode,
        Reason::Cwd,
        Reason::Foreign,
        Reason::Symlink,
    ];

    /// The reason's name in the statistics line.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Inactive => "inactive",
            Reason::Off => "off",
            Reason::Disabled => "disabled",
            Reason::Fd => "fd",
            Reason::Reentry => "reentry",
            Reason::Flags => "flags",
            Reason::Dirfd => "dirfd",
            Reason::Fault => "fault",
            Reason::Name => "name",
            Reason::FsType => "fs_type",
            Reason::Cold => "cold",
            Reason::Filled => "filled",
            Reason::Raced => "raced",
            Reason::Busy => "busy",
            Reason::Watch => "watch",
            Reason::Full => "full",
            Reason::Errno => "errno",
            Reason::Inode => "inode",
            Reason::Cwd => "cwd",
            Reason::Foreign => "foreign",
            Reason::Symlink => "symlink",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_discriminant_order() {
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i, "{}", r.name());
        }
    }
}
