//! Serving any `statx` request mask from one stored result.
//!
//! The kernel's answer depends on the request mask, and how it depends varies by filesystem
//! (and, for the same driver, by the name it was mounted as). Read from `fs/stat.c` (6.18):
//!
//! * `vfs_getattr_nosec` starts from `STATX_BASIC_STATS`, drops `STATX_ATIME` on `SB_NOATIME`
//!   superblocks and ORs in `STATX_ATTR_AUTOMOUNT`/`STATX_ATTR_DAX`, all regardless of the mask;
//!   then the filesystem's `getattr` (or `generic_fillattr`) runs with the mask.
//! * `generic_fillattr` calls `fill_mg_cmtime` on multigrain-timestamp filesystems (`FS_MGTIME`:
//!   ext4, xfs, btrfs, tmpfs in 6.18, but not ext2/ext3 mounted by the ext4 driver, nor ramfs,
//!   squashfs, erofs): unless `STATX_MTIME` or `STATX_CTIME` is asked for, both bits are cleared
//!   and both values stay zero; either bit brings both back. Elsewhere they are always filled.
//! * Filesystems add fields only when asked (`ext4_getattr`: `STATX_BTIME`, `STATX_DIOALIGN` and
//!   `STATX_WRITE_ATOMIC` for regular files; `shmem_getattr`: `STATX_BTIME`; `xfs_vn_getattr`:
//!   `STATX_BTIME`, and `STATX_DIOALIGN` together with `STATX_DIO_READ_ALIGN` when either is
//!   asked) or always (`btrfs_getattr`: `STATX_BTIME` and `STATX_SUBVOL`; f2fs: `STATX_BTIME`).
//! * `generic_fill_statx_atomic_writes` (only called when `STATX_WRITE_ATOMIC` is asked) sets
//!   `STATX_ATTR_WRITE_ATOMIC` in `stx_attributes_mask`, and in `stx_attributes` when the file
//!   supports atomic writes: the one attribute bit that depends on the request.
//! * `vfs_statx_path` fills `stx_mnt_id` with the unique 64-bit mount id and sets
//!   `STATX_MNT_ID_UNIQUE` if that bit is asked, else the old id with `STATX_MNT_ID` — always one
//!   of the two; `STATX_ATTR_MOUNT_ROOT` is path-dependent but not mask-dependent.
//! * `do_statx` refuses `STATX__RESERVED` with `EINVAL` and drops `STATX_CHANGE_COOKIE`;
//!   `cp_statx` zeroes the whole buffer and copies every field whatever the result mask says.
//!
//! So one result cannot say what the kernel returns for bits that were asked for in it but not
//! in a later request. The cache therefore learns it per file, from the kernel: [`fetch`] makes
//! two calls, one with [`FETCH_MASK`] (the full result) and one with [`PROBE_MASK`] (everything
//! the filesystem returns unasked, plus the unique mount id), and [`seal`] checks that the two
//! differ only in ways this model explains and records the difference in the spare tail of the
//! stored record. [`project`] then builds the answer for any request mask made of known bits:
//! each field group comes from the full result if its request bits are asked, else as the probe
//! saw it. Anything the model cannot derive exactly gives `None` (ask the kernel).

use crate::sys::{self, Errno};

pub const STATX_TYPE: u32 = 0x1;
pub const STATX_MODE: u32 = 0x2;
pub const STATX_NLINK: u32 = 0x4;
pub const STATX_UID: u32 = 0x8;
pub const STATX_GID: u32 = 0x10;
pub const STATX_ATIME: u32 = 0x20;
pub const STATX_MTIME: u32 = 0x40;
pub const STATX_CTIME: u32 = 0x80;
pub const STATX_INO: u32 = 0x100;
pub const STATX_SIZE: u32 = 0x200;
pub const STATX_BLOCKS: u32 = 0x400;
pub const STATX_BASIC_STATS: u32 = 0x7ff;
pub const STATX_BTIME: u32 = 0x800;
pub const STATX_ALL: u32 = 0xfff;
pub const STATX_MNT_ID: u32 = 0x1000;
pub const STATX_DIOALIGN: u32 = 0x2000;
pub const STATX_MNT_ID_UNIQUE: u32 = 0x4000;
pub const STATX_SUBVOL: u32 = 0x8000;
pub const STATX_WRITE_ATOMIC: u32 = 0x10000;
pub const STATX_DIO_READ_ALIGN: u32 = 0x20000;
pub const STATX_CHANGE_COOKIE: u32 = 0x4000_0000;
pub const STATX_RESERVED: u32 = 0x8000_0000;

pub const STATX_ATTR_WRITE_ATOMIC: u64 = 0x40_0000;

/// The request mask the cache fetches with: every bit the projection models except
/// `STATX_MNT_ID_UNIQUE` (asking for it replaces the old mount id, which every other request
/// returns; the probe gets it instead).
pub const FETCH_MASK: u32 = STATX_BASIC_STATS
    | STATX_BTIME
    | STATX_MNT_ID
    | STATX_DIOALIGN
    | STATX_SUBVOL
    | STATX_WRITE_ATOMIC
    | STATX_DIO_READ_ALIGN;

/// The request mask of the second call: nothing but the unique mount id, so that every other
/// field shows what the filesystem returns when it is not asked for.
pub const PROBE_MASK: u32 = STATX_MNT_ID_UNIQUE;

/// Every request bit the projection knows. Other bits (`STATX_CHANGE_COOKIE`, bits a later
/// kernel may define, `STATX__RESERVED`) are never projected.
pub const KNOWN: u32 = FETCH_MASK | STATX_MNT_ID_UNIQUE;

/// Size of `struct statx`.
pub const SIZE: usize = 256;

// Field offsets in `struct statx` (include/uapi/linux/stat.h, 6.16+).
const OFF_MASK: usize = 0x00;
const OFF_ATTRIBUTES: usize = 0x08;
const OFF_ATTRIBUTES_MASK: usize = 0x38;
const OFF_MNT_ID: usize = 0x90;
/// `stx_mode`'s padding (`__spare0`).
const SPARE0: (usize, usize) = (0x1e, 0x20);
/// `__spare2` and `__spare3`: nothing a 6.18 kernel fills.
const SPARE_TAIL: usize = 0xbc;
/// Fields no request bit controls (`stx_blksize`, `stx_rdev_*`, `stx_dev_*`): the two results
/// must agree on them.
const FIXED: [(usize, usize); 2] = [(0x04, 0x08), (0x80, 0x90)];

// The seal, kept in `__spare3` of the stored record (the kernel leaves it zero; `project` zeroes
// it again in its output).
const TAG_MAGIC: usize = 0xe0;
const TAG_PROBE_MASK: usize = 0xe4;
const TAG_DEPENDS: usize = 0xe8;
const TAG_ATTR_COUPLED: usize = 0xec;
const TAG_AMASK_COUPLED: usize = 0xf0;
const TAG_UNIQUE_MNT_ID: usize = 0xf8;
const MAGIC: u32 = 0x5358_4331; // "1CXS"
const _: () = assert!(TAG_MAGIC >= SPARE_TAIL + 4 && TAG_UNIQUE_MNT_ID + 8 <= SIZE);

/// A group of fields the kernel fills or leaves out as one, and the request bits that decide it.
struct Unit {
    /// Its bits in `stx_mask`.
    bits: u32,
    /// Request bits that make the filesystem fill it.
    trig: u32,
    /// Whether any one of `trig` suffices (`fill_mg_cmtime`); else a request naming only some of
    /// them cannot be derived.
    any: bool,
    /// Request bits whose effect on this group, when `trig` is not asked, is unknown (xfs fills
    /// both DIO alignments when either is asked; another filesystem may not).
    amb: u32,
    /// Byte ranges of its fields.
    fields: &'static [(usize, usize)],
}

const fn unit(bits: u32, fields: &'static [(usize, usize)]) -> Unit {
    Unit {
        bits,
        trig: bits,
        any: false,
        amb: 0,
        fields,
    }
}

const CMTIME: u32 = STATX_MTIME | STATX_CTIME;
const DIO: u32 = STATX_DIOALIGN | STATX_DIO_READ_ALIGN;

const UNITS: [Unit; 15] = [
    // `stx_mode` holds both; every filesystem fills it whatever is asked.
    unit(STATX_TYPE | STATX_MODE, &[(0x1c, 0x1e)]),
    unit(STATX_NLINK, &[(0x10, 0x14)]),
    unit(STATX_UID, &[(0x14, 0x18)]),
    unit(STATX_GID, &[(0x18, 0x1c)]),
    unit(STATX_ATIME, &[(0x40, 0x50)]),
    Unit {
        bits: STATX_CTIME,
        trig: CMTIME,
        any: true,
        amb: 0,
        fields: &[(0x60, 0x70)],
    },
    Unit {
        bits: STATX_MTIME,
        trig: CMTIME,
        any: true,
        amb: 0,
        fields: &[(0x70, 0x80)],
    },
    unit(STATX_INO, &[(0x20, 0x28)]),
    unit(STATX_SIZE, &[(0x28, 0x30)]),
    unit(STATX_BLOCKS, &[(0x30, 0x38)]),
    unit(STATX_BTIME, &[(0x50, 0x60)]),
    Unit {
        bits: STATX_DIOALIGN,
        trig: STATX_DIOALIGN,
        any: false,
        amb: STATX_DIO_READ_ALIGN,
        fields: &[(0x98, 0xa0)],
    },
    unit(STATX_SUBVOL, &[(0xa0, 0xa8)]),
    // `stx_atomic_write_unit_min/max`, `_segments_max`, `_unit_max_opt`.
    unit(STATX_WRITE_ATOMIC, &[(0xa8, 0xb4), (0xb8, 0xbc)]),
    Unit {
        bits: STATX_DIO_READ_ALIGN,
        trig: STATX_DIO_READ_ALIGN,
        any: false,
        amb: STATX_DIOALIGN,
        fields: &[(0xb4, 0xb8)],
    },
];
const U_ATOMIC: usize = 13;
const _: () = assert!(UNITS[U_ATOMIC].bits == STATX_WRITE_ATOMIC);
const _: () = assert!(DIO == UNITS[11].bits | UNITS[14].bits);

#[inline(always)]
fn rd32(b: &[u8; SIZE], off: usize) -> u32 {
    u32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

#[inline(always)]
fn rd64(b: &[u8; SIZE], off: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[off..off + 8]);
    u64::from_ne_bytes(x)
}

#[inline(always)]
fn wr32(b: &mut [u8; SIZE], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

#[inline(always)]
fn wr64(b: &mut [u8; SIZE], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_ne_bytes());
}

fn zero(b: &[u8]) -> bool {
    b.iter().all(|&c| c == 0)
}

/// Cheap pre-check for the hit path: whether `req` is made only of bits [`project`] models.
/// [`project`] may still answer `None` (a request naming one DIO alignment of a file whose
/// filesystem may report both, or an unsealed record).
#[inline(always)]
pub fn projectable(req: u32) -> bool {
    req & !KNOWN == 0
}

/// Whether `rec` carries a seal (see [`seal`]).
#[inline]
pub fn is_sealed(rec: &[u8; SIZE]) -> bool {
    rd32(rec, TAG_MAGIC) == MAGIC
}

/// Checks a full result (`statx(path, AT_SYMLINK_NOFOLLOW, FETCH_MASK)`) against a probe of the
/// same file (`statx(path, AT_SYMLINK_NOFOLLOW, PROBE_MASK)`), and if every difference between
/// them is one this model explains, records what [`project`] needs in `full`'s spare tail.
/// Returns false (and leaves `full` unsealed) otherwise: fields the kernel filled that this
/// code does not know, an attribute that changed with the request other than
/// `STATX_ATTR_WRITE_ATOMIC`, request-independent fields that differ (the file changed between
/// the calls), or a filesystem that filled a group unasked with other values.
pub fn seal(full: &mut [u8; SIZE], probe: &[u8; SIZE]) -> bool {
    match learn(full, probe) {
        Some(t) => {
            wr32(full, TAG_MAGIC, MAGIC);
            wr32(full, TAG_PROBE_MASK, t.probe_mask);
            wr32(full, TAG_DEPENDS, t.depends);
            wr32(full, TAG_ATTR_COUPLED, t.attr_coupled);
            wr32(full, TAG_AMASK_COUPLED, t.amask_coupled);
            wr64(full, TAG_UNIQUE_MNT_ID, t.unique_mnt_id);
            true
        }
        None => false,
    }
}

struct Tag {
    probe_mask: u32,
    /// Bit i: `UNITS[i]` differs between the two results (depends on the request).
    depends: u32,
    attr_coupled: u32,
    amask_coupled: u32,
    unique_mnt_id: u64,
}

fn learn(full: &[u8; SIZE], probe: &[u8; SIZE]) -> Option<Tag> {
    let fm = rd32(full, OFF_MASK);
    let pm = rd32(probe, OFF_MASK);
    // Nothing outside the model, nothing in the spare fields (this also keeps a record from
    // being sealed twice).
    if fm & !FETCH_MASK != 0 || pm & !KNOWN != 0 {
        return None;
    }
    for b in [full, probe] {
        if !zero(&b[SPARE0.0..SPARE0.1]) || !zero(&b[SPARE_TAIL..]) {
            return None;
        }
    }
    for (a, e) in FIXED {
        if full[a..e] != probe[a..e] {
            return None;
        }
    }
    // Mount id: the full result has the old id; the probe the unique one, or the old one again
    // on a kernel without STATX_MNT_ID_UNIQUE.
    const MNT: u32 = STATX_MNT_ID | STATX_MNT_ID_UNIQUE;
    let unique_mnt_id = rd64(probe, OFF_MNT_ID);
    match (fm & MNT, pm & MNT) {
        (STATX_MNT_ID, STATX_MNT_ID_UNIQUE) => {}
        (f, p) if f == p && f != STATX_MNT_ID_UNIQUE && unique_mnt_id == rd64(full, OFF_MNT_ID) => {
        }
        _ => return None,
    }
    let mut depends = 0u32;
    for (i, u) in UNITS.iter().enumerate() {
        let same =
            fm & u.bits == pm & u.bits && u.fields.iter().all(|&(a, e)| full[a..e] == probe[a..e]);
        if same {
            continue;
        }
        // Left out when not asked: the probe has no values there and no bit the full result
        // lacks.
        if pm & u.bits & !fm != 0 || !u.fields.iter().all(|&(a, e)| zero(&probe[a..e])) {
            return None;
        }
        depends |= 1 << i;
    }
    // Attributes: the probe's must be a subset of the full result's; the difference can only be
    // what `generic_fill_statx_atomic_writes` adds, and only if that group depends on the request.
    let mut coupled = [0u32; 2];
    for (k, off) in [OFF_ATTRIBUTES, OFF_ATTRIBUTES_MASK]
        .into_iter()
        .enumerate()
    {
        let (f, p) = (rd64(full, off), rd64(probe, off));
        let extra = f & !p;
        if p & !f != 0 || extra & !STATX_ATTR_WRITE_ATOMIC != 0 {
            return None;
        }
        if extra != 0 && depends & (1 << U_ATOMIC) == 0 {
            return None;
        }
        coupled[k] = extra as u32;
    }
    Some(Tag {
        probe_mask: pm,
        depends,
        attr_coupled: coupled[0],
        amask_coupled: coupled[1],
        unique_mnt_id,
    })
}

/// Projects a sealed record (fetched with [`FETCH_MASK`] and `AT_SYMLINK_NOFOLLOW`, flags
/// otherwise 0, then [`seal`]ed) onto what the kernel returns for request mask `req`, all 256
/// bytes. `None` when the answer for `req` cannot be derived exactly (unknown or reserved bits,
/// an ambiguous request, an unsealed record): then ask the kernel.
pub fn project(full: &[u8; SIZE], req: u32, out: &mut [u8; SIZE]) -> Option<()> {
    if !projectable(req) || !is_sealed(full) {
        return None;
    }
    let probe_mask = rd32(full, TAG_PROBE_MASK);
    let depends = rd32(full, TAG_DEPENDS);
    *out = *full;
    out[SPARE_TAIL..].fill(0);
    let mut mask = rd32(full, OFF_MASK);
    let mut d = depends;
    while d != 0 {
        let i = d.trailing_zeros() as usize;
        d &= d - 1;
        let u = &UNITS[i];
        let asked = req & u.trig;
        let filled = if u.any {
            asked != 0
        } else if asked == u.trig {
            true
        } else if asked == 0 {
            false
        } else {
            return None;
        };
        if filled {
            continue;
        }
        if req & u.amb != 0 {
            return None;
        }
        mask = (mask & !u.bits) | (probe_mask & u.bits);
        for &(a, e) in u.fields {
            out[a..e].fill(0);
        }
        if i == U_ATOMIC {
            let attr = rd64(full, OFF_ATTRIBUTES) & !(rd32(full, TAG_ATTR_COUPLED) as u64);
            let amask = rd64(full, OFF_ATTRIBUTES_MASK) & !(rd32(full, TAG_AMASK_COUPLED) as u64);
            wr64(out, OFF_ATTRIBUTES, attr);
            wr64(out, OFF_ATTRIBUTES_MASK, amask);
        }
    }
    if req & STATX_MNT_ID_UNIQUE != 0 {
        const MNT: u32 = STATX_MNT_ID | STATX_MNT_ID_UNIQUE;
        mask = (mask & !MNT) | (probe_mask & MNT);
        wr64(out, OFF_MNT_ID, rd64(full, TAG_UNIQUE_MNT_ID));
    }
    wr32(out, OFF_MASK, mask);
    Some(())
}

/// Fetches a sealed record for `path` (relative to `dirfd`), not following a final symlink: the
/// full result, then the probe, back to back (the caller's change detection must cover both).
/// `Ok(true)`: `rec` is sealed; `Ok(false)`: `rec` holds the full result but the two calls
/// disagreed beyond the model (or the file changed between them), so nothing can be projected
/// from it; `Err`: the kernel's error for either call.
///
/// # Safety
/// `path` must point to a NUL-terminated string.
pub unsafe fn fetch(dirfd: i32, path: *const u8, rec: &mut [u8; SIZE]) -> Result<bool, Errno> {
    let mut probe = [0u8; SIZE];
    // SAFETY: `path` is NUL-terminated (caller's contract); both buffers are 256 writable bytes,
    // which is all the kernel writes (it copies with copy_to_user and needs no alignment).
    unsafe {
        sys::statx(
            dirfd,
            path,
            libc::AT_SYMLINK_NOFOLLOW,
            FETCH_MASK,
            rec.as_mut_ptr().cast(),
        )?;
        sys::statx(
            dirfd,
            path,
            libc::AT_SYMLINK_NOFOLLOW,
            PROBE_MASK,
            probe.as_mut_ptr().cast(),
        )?;
    }
    Ok(seal(rec, &probe))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record with every field set to a distinct non-zero value.
    struct Rec([u8; SIZE]);

    impl Rec {
        fn new(mask: u32) -> Rec {
            let mut b = [0u8; SIZE];
            wr32(&mut b, OFF_MASK, mask);
            wr32(&mut b, 0x04, 4096); // blksize
            wr32(&mut b, 0x10, 1); // nlink
            wr32(&mut b, 0x14, 1000);
            wr32(&mut b, 0x18, 1000);
            b[0x1c..0x1e].copy_from_slice(&0o100644u16.to_ne_bytes());
            wr64(&mut b, 0x20, 1234567);
            wr64(&mut b, 0x28, 3);
            wr64(&mut b, 0x30, 8);
            wr64(&mut b, OFF_ATTRIBUTES_MASK, 0x303874);
            for (off, s) in [
                (0x40, 4_000_000_000u64),
                (0x50, 1_700_000_001),
                (0x60, 1_700_000_002),
            ] {
                wr64(&mut b, off, s);
                wr32(&mut b, off + 8, 123_456_789);
            }
            wr64(&mut b, 0x70, 1_600_000_000);
            wr32(&mut b, 0x78, 5);
            wr32(&mut b, 0x88, 254); // dev major
            wr64(&mut b, OFF_MNT_ID, 27);
            Rec(b)
        }
        fn set32(mut self, off: usize, v: u32) -> Rec {
            wr32(&mut self.0, off, v);
            self
        }
        fn set64(mut self, off: usize, v: u64) -> Rec {
            wr64(&mut self.0, off, v);
            self
        }
        fn clear(mut self, unit_bits: u32) -> Rec {
            for u in UNITS.iter().filter(|u| u.bits & unit_bits != 0) {
                for &(a, e) in u.fields {
                    self.0[a..e].fill(0);
                }
            }
            self
        }
    }

    const UNIQ: u64 = 0x8000_001c;

    /// ext4, regular file, 6.18: multigrain times, btime/DIO/atomic only when asked.
    fn ext4_file() -> (Rec, Rec) {
        let full = Rec::new(0x13fff)
            .set32(0x98, 512)
            .set32(0x9c, 512)
            .set64(OFF_ATTRIBUTES_MASK, 0x703874);
        let probe = Rec::new(0x473f)
            .clear(CMTIME | STATX_BTIME)
            .set64(OFF_MNT_ID, UNIQ);
        (full, probe)
    }

    fn sealed(f: (Rec, Rec)) -> [u8; SIZE] {
        let (mut full, probe) = f;
        assert!(seal(&mut full.0, &probe.0));
        full.0
    }

    fn proj(rec: &[u8; SIZE], req: u32) -> Option<[u8; SIZE]> {
        let mut out = [0xa5u8; SIZE];
        project(rec, req, &mut out).map(|()| out)
    }

    #[test]
    fn units_and_fixed_fields_cover_the_struct_once() {
        let mut owner = [0u8; SIZE];
        let mut mark = |a: usize, e: usize| {
            for o in &mut owner[a..e] {
                *o += 1;
            }
        };
        mark(OFF_MASK, OFF_MASK + 4);
        mark(OFF_ATTRIBUTES, OFF_ATTRIBUTES + 8);
        mark(OFF_ATTRIBUTES_MASK, OFF_ATTRIBUTES_MASK + 8);
        mark(OFF_MNT_ID, OFF_MNT_ID + 8);
        mark(SPARE0.0, SPARE0.1);
        mark(SPARE_TAIL, SIZE);
        for (a, e) in FIXED {
            mark(a, e);
        }
        for u in &UNITS {
            for &(a, e) in u.fields {
                mark(a, e);
            }
        }
        assert!(owner.iter().all(|&n| n == 1), "{owner:?}");
        let bits = UNITS.iter().fold(STATX_MNT_ID, |m, u| m | u.bits);
        assert_eq!(bits, FETCH_MASK);
    }

    #[test]
    fn ext4_regular_file_matches_the_kernel_table() {
        let rec = sealed(ext4_file());
        // The masks measured on ext4 (6.18) for a regular file.
        for (req, want) in [
            (0, 0x173f),
            (STATX_TYPE, 0x173f),
            (STATX_MTIME, 0x17ff),
            (STATX_CTIME, 0x17ff),
            (STATX_BTIME, 0x1f3f),
            (STATX_MNT_ID, 0x173f),
            (STATX_DIOALIGN, 0x373f),
            (STATX_MNT_ID_UNIQUE, 0x473f),
            (STATX_SUBVOL, 0x173f),
            (STATX_WRITE_ATOMIC, 0x1173f),
            (STATX_BASIC_STATS, 0x17ff),
            (STATX_ALL, 0x1fff),
            (FETCH_MASK, 0x13fff),
        ] {
            let out = proj(&rec, req).unwrap_or_else(|| panic!("{req:#x}"));
            assert_eq!(rd32(&out, OFF_MASK), want, "req {req:#x}");
            assert!(zero(&out[SPARE_TAIL..]));
        }
        let t = proj(&rec, STATX_TYPE).unwrap();
        assert!(zero(&t[0x50..0x80]), "btime, ctime, mtime zeroed");
        assert_eq!(rd64(&t, 0x40), 4_000_000_000, "atime kept");
        assert!(zero(&t[0x98..0xa0]));
        assert_eq!(rd64(&t, OFF_ATTRIBUTES_MASK), 0x303874);
        assert_eq!(rd64(&t, OFF_MNT_ID), 27);
        let m = proj(&rec, STATX_MTIME).unwrap();
        assert_eq!(m[0x60..0x80], rec[0x60..0x80]);
        let a = proj(&rec, STATX_WRITE_ATOMIC).unwrap();
        assert_eq!(rd64(&a, OFF_ATTRIBUTES_MASK), 0x703874);
        let u = proj(&rec, STATX_MNT_ID_UNIQUE | STATX_SIZE).unwrap();
        assert_eq!(rd64(&u, OFF_MNT_ID), UNIQ);
        assert_eq!(
            rd32(&u, OFF_MASK) & (STATX_MNT_ID | STATX_MNT_ID_UNIQUE),
            STATX_MNT_ID_UNIQUE
        );
        // The full request gives the full result, minus the seal.
        let mut plain = rec;
        plain[SPARE_TAIL..].fill(0);
        assert_eq!(proj(&rec, FETCH_MASK).unwrap(), plain);
        // ext4 has no DIO read alignment: DIO_READ_ALIGN alone might or might not fill DIOALIGN
        // on another filesystem, so it is not derived.
        assert!(proj(&rec, STATX_DIO_READ_ALIGN).is_none());
        assert!(proj(&rec, STATX_DIO_READ_ALIGN | STATX_DIOALIGN).is_some());
    }

    #[test]
    fn unknown_reserved_and_unsealed_fall_back() {
        let rec = sealed(ext4_file());
        for req in [
            STATX_CHANGE_COOKIE,
            STATX_RESERVED,
            0x40000,
            0x8_0000 | STATX_TYPE,
            !0,
        ] {
            assert!(!projectable(req));
            assert!(proj(&rec, req).is_none(), "{req:#x}");
        }
        assert!(projectable(KNOWN) && projectable(0));
        let (full, _) = ext4_file();
        assert!(!is_sealed(&full.0));
        assert!(proj(&full.0, STATX_TYPE).is_none());
    }

    #[test]
    fn non_multigrain_filesystem_keeps_times_unasked() {
        // ramfs / ext2 / squashfs: mtime and ctime always filled.
        let full = Rec::new(0x17ff);
        let probe = Rec::new(0x47ff).set64(OFF_MNT_ID, UNIQ);
        let rec = sealed((full, probe));
        let t = proj(&rec, STATX_TYPE).unwrap();
        assert_eq!(rd32(&t, OFF_MASK), 0x17ff);
        assert_eq!(t[0x60..0x80], rec[0x60..0x80]);
        assert_eq!(rd32(&proj(&rec, STATX_BTIME).unwrap(), OFF_MASK), 0x17ff);
    }

    #[test]
    fn btrfs_btime_and_subvol_come_unasked() {
        let full = Rec::new(0x9fff)
            .set64(0xa0, 5)
            .set64(OFF_ATTRIBUTES_MASK, 0x203074);
        let probe = Rec::new(0xcf3f)
            .clear(CMTIME)
            .set64(0xa0, 5)
            .set64(OFF_ATTRIBUTES_MASK, 0x203074)
            .set64(OFF_MNT_ID, UNIQ);
        let rec = sealed((full, probe));
        let t = proj(&rec, 0).unwrap();
        assert_eq!(rd32(&t, OFF_MASK), 0x9f3f);
        assert_eq!(t[0x50..0x60], rec[0x50..0x60]);
        assert_eq!(rd64(&t, 0xa0), 5);
        assert_eq!(
            rd32(&proj(&rec, STATX_MNT_ID_UNIQUE).unwrap(), OFF_MASK),
            0xcf3f
        );
    }

    #[test]
    fn xfs_dio_pair_and_atomic_attribute() {
        let full = Rec::new(0x33fff)
            .set32(0x98, 512)
            .set32(0x9c, 512)
            .set32(0xb4, 512)
            .set32(0xa8, 4096)
            .set32(0xac, 1 << 20)
            .set32(0xb0, 1)
            .set64(OFF_ATTRIBUTES, 0x400000)
            .set64(OFF_ATTRIBUTES_MASK, 0x603070);
        let probe = Rec::new(0x473f)
            .clear(CMTIME | STATX_BTIME)
            .set64(OFF_ATTRIBUTES_MASK, 0x203070)
            .set64(OFF_MNT_ID, UNIQ);
        let rec = sealed((full, probe));
        let d = proj(&rec, DIO).unwrap();
        assert_eq!(rd32(&d, OFF_MASK), 0x2373f);
        assert_eq!(rd64(&d, OFF_ATTRIBUTES), 0);
        // xfs fills both alignments for either bit: one bit alone is not derived.
        assert!(proj(&rec, STATX_DIOALIGN).is_none());
        assert!(proj(&rec, STATX_DIO_READ_ALIGN).is_none());
        let a = proj(&rec, STATX_WRITE_ATOMIC).unwrap();
        assert_eq!(rd32(&a, OFF_MASK), 0x1173f);
        assert_eq!(rd64(&a, OFF_ATTRIBUTES), 0x400000);
        assert_eq!(rd64(&a, OFF_ATTRIBUTES_MASK), 0x603070);
        let n = proj(&rec, STATX_SIZE).unwrap();
        assert_eq!(rd64(&n, OFF_ATTRIBUTES), 0);
        assert_eq!(rd64(&n, OFF_ATTRIBUTES_MASK), 0x203070);
        assert!(zero(&n[0xa8..0xbc]));
    }

    #[test]
    fn seal_refuses_what_the_model_does_not_explain() {
        let refuse = |f: &dyn Fn(Rec, Rec) -> (Rec, Rec)| {
            let (full, probe) = ext4_file();
            let (mut full, probe) = f(full, probe);
            let before = full.0;
            assert!(!seal(&mut full.0, &probe.0));
            assert_eq!(full.0, before, "an unsealable record is left as it was");
        };
        // A field in the spare tail (a newer kernel's).
        refuse(&|f, p| (f.set32(0xc0, 1), p));
        refuse(&|f, p| (f, p.set32(0xbc, 1)));
        // Bits outside the model.
        refuse(&|f, p| (f.set32(OFF_MASK, 0x13fff | 0x40000), p));
        refuse(&|f, p| (f.set32(OFF_MASK, 0x13fff | STATX_MNT_ID_UNIQUE), p));
        // blksize or dev differ: not the same file state.
        refuse(&|f, p| (f, p.set32(0x04, 1024)));
        refuse(&|f, p| (f, p.set32(0x8c, 1)));
        // A group filled unasked with other values (the file changed between the calls).
        refuse(&|f, p| (f, p.set64(0x28, 4)));
        refuse(&|f, p| (f, p.set64(0x40, 1)));
        // An attribute that changed with the request, other than WRITE_ATOMIC.
        refuse(&|f, p| (f.set64(OFF_ATTRIBUTES, 0x20), p));
        refuse(&|f, p| (f, p.set64(OFF_ATTRIBUTES_MASK, 0x703874 | 0x800000)));
        // WRITE_ATOMIC attribute without a request-dependent atomic group.
        refuse(&|f, p| {
            (
                f,
                p.set32(OFF_MASK, 0x473f | STATX_WRITE_ATOMIC)
                    .set64(OFF_ATTRIBUTES_MASK, 0x303874),
            )
        });
        // Mount ids that do not fit.
        refuse(&|f, p| (f, p.set32(OFF_MASK, 0x173f)));
        refuse(&|f, p| (f.set32(OFF_MASK, 0x12fff), p));
        // Sealing twice.
        let (mut full, probe) = ext4_file();
        assert!(seal(&mut full.0, &probe.0));
        assert!(!seal(&mut full.0, &probe.0));
    }

    #[test]
    fn old_kernel_without_unique_mount_id() {
        // STATX_MNT_ID_UNIQUE ignored: the probe returns the old id, and so does the projection.
        let (full, _) = ext4_file();
        let probe = Rec::new(0x173f).clear(CMTIME | STATX_BTIME);
        let rec = sealed((full, probe));
        let u = proj(&rec, STATX_MNT_ID_UNIQUE).unwrap();
        assert_eq!(rd32(&u, OFF_MASK), 0x173f);
        assert_eq!(rd64(&u, OFF_MNT_ID), 27);
    }
}
