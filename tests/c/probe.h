/* probe.h: shared by the interposition probes. Calls any of the 17 stat entry points through the
 * dynamic symbol a program would use (the legacy __xstat family through the versioned symbols
 * pre-2.33 binaries import), counts the calls, and prints every byte of every answer.
 *
 * Output is one line per call: a label, the entry point, the return value, errno (set to a
 * sentinel before the call, so a clobbered errno shows), and the buffer as named fields plus the
 * spare bytes in hex. Two runs on the same files must print the same lines.
 */
#ifndef STATCACHE_PROBE_H
#define STATCACHE_PROBE_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* glibc 2.33+ headers no longer declare these; old binaries import them at these versions. */
extern int __xstat(int, const char *, struct stat *);
extern int __xstat64(int, const char *, struct stat64 *);
extern int __lxstat(int, const char *, struct stat *);
extern int __lxstat64(int, const char *, struct stat64 *);
extern int __fxstat(int, int, struct stat *);
extern int __fxstat64(int, int, struct stat64 *);
extern int __fxstatat(int, int, const char *, struct stat *, int);
extern int __fxstatat64(int, int, const char *, struct stat64 *, int);
__asm__(".symver __xstat,__xstat@GLIBC_2.2.5");
__asm__(".symver __xstat64,__xstat64@GLIBC_2.2.5");
__asm__(".symver __lxstat,__lxstat@GLIBC_2.2.5");
__asm__(".symver __lxstat64,__lxstat64@GLIBC_2.2.5");
__asm__(".symver __fxstat,__fxstat@GLIBC_2.2.5");
__asm__(".symver __fxstat64,__fxstat64@GLIBC_2.2.5");
__asm__(".symver __fxstatat,__fxstatat@GLIBC_2.4");
__asm__(".symver __fxstatat64,__fxstatat64@GLIBC_2.4");

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x1000U
#endif
#ifndef STATX_DIOALIGN
#define STATX_DIOALIGN 0x2000U
#endif
#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x4000U
#endif
#ifndef STATX__RESERVED
#define STATX__RESERVED 0x80000000U
#endif

/* The kernel's struct statx is 256 bytes; glibc's struct stat (= stat64 on x86_64) 144. */
#define STATX_BYTES 256
#define STAT_BYTES 144
#define ERRNO_SENTINEL 4242

enum entry {
    E_STAT, E_STAT64, E_LSTAT, E_LSTAT64, E_FSTAT, E_FSTAT64, E_FSTATAT, E_FSTATAT64, E_STATX,
    E_XSTAT, E_XSTAT64, E_LXSTAT, E_LXSTAT64, E_FXSTAT, E_FXSTAT64, E_FXSTATAT, E_FXSTATAT64,
    E_COUNT
};

static const char *const entry_name[E_COUNT] = {
    "stat", "stat64", "lstat", "lstat64", "fstat", "fstat64", "fstatat", "fstatat64", "statx",
    "__xstat", "__xstat64", "__lxstat", "__lxstat64", "__fxstat", "__fxstat64", "__fxstatat",
    "__fxstatat64",
};

/* What each entry point takes. */
static inline int entry_takes_path(enum entry e) {
    return e != E_FSTAT && e != E_FSTAT64 && e != E_FXSTAT && e != E_FXSTAT64;
}
static inline int entry_takes_dirfd(enum entry e) {
    return e == E_FSTATAT || e == E_FSTATAT64 || e == E_STATX || e == E_FXSTATAT ||
           e == E_FXSTATAT64;
}
static inline int entry_takes_fd(enum entry e) { return !entry_takes_path(e); }
static inline int entry_is_legacy(enum entry e) { return e >= E_XSTAT; }

static unsigned long entry_calls[E_COUNT];

/* Hides a pointer's value from the compiler, so that a NULL or odd pointer reaches the call as
 * written (the prototypes carry __nonnull). */
static inline void *launder(const void *p) {
    void *q = (void *)p;
    __asm__ volatile("" : "+r"(q));
    return q;
}

/* One call: `fd` is the dirfd of the *at entry points and the fd of the fstat ones; `vers` the
 * legacy version argument. */
struct call {
    enum entry e;
    int vers;
    int fd;
    const char *path;
    int flags;
    unsigned mask;
    void *buf;
};

/* Makes the call through the dynamic symbol; returns its result, errno in *err. */
static inline int invoke(const struct call *c, int *err) {
    const char *p = launder(c->path);
    void *b = launder(c->buf);
    int r = -2;
    entry_calls[c->e]++;
    errno = ERRNO_SENTINEL;
    switch (c->e) {
    case E_STAT: r = stat(p, b); break;
    case E_STAT64: r = stat64(p, b); break;
    case E_LSTAT: r = lstat(p, b); break;
    case E_LSTAT64: r = lstat64(p, b); break;
    case E_FSTAT: r = fstat(c->fd, b); break;
    case E_FSTAT64: r = fstat64(c->fd, b); break;
    case E_FSTATAT: r = fstatat(c->fd, p, b, c->flags); break;
    case E_FSTATAT64: r = fstatat64(c->fd, p, b, c->flags); break;
    case E_STATX: r = statx(c->fd, p, c->flags, c->mask, b); break;
    case E_XSTAT: r = __xstat(c->vers, p, b); break;
    case E_XSTAT64: r = __xstat64(c->vers, p, b); break;
    case E_LXSTAT: r = __lxstat(c->vers, p, b); break;
    case E_LXSTAT64: r = __lxstat64(c->vers, p, b); break;
    case E_FXSTAT: r = __fxstat(c->vers, c->fd, b); break;
    case E_FXSTAT64: r = __fxstat64(c->vers, c->fd, b); break;
    case E_FXSTATAT: r = __fxstatat(c->vers, c->fd, p, b, c->flags); break;
    case E_FXSTATAT64: r = __fxstatat64(c->vers, c->fd, p, b, c->flags); break;
    default: abort();
    }
    *err = errno;
    return r;
}

static inline void print_hex(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
}

static inline uint64_t load_u64(const unsigned char *p, size_t off) {
    uint64_t v;
    memcpy(&v, p + off, sizeof v);
    return v;
}
static inline uint32_t load_u32(const unsigned char *p, size_t off) {
    uint32_t v;
    memcpy(&v, p + off, sizeof v);
    return v;
}
static inline uint16_t load_u16(const unsigned char *p, size_t off) {
    uint16_t v;
    memcpy(&v, p + off, sizeof v);
    return v;
}

static inline void print_ts(const char *name, const unsigned char *p, size_t off) {
    printf(" %s=%lld.%09u/%x", name, (long long)load_u64(p, off), load_u32(p, off + 8),
           load_u32(p, off + 12));
}

/* Every field of a struct stat (the buffer may be unaligned: fields are copied out). */
static inline void print_stat_fields(const unsigned char *b) {
    struct stat st;
    memcpy(&st, b, sizeof st);
    printf(" dev=%lx ino=%lu nlink=%lu mode=%o uid=%u gid=%u pad0=%x rdev=%lx size=%ld"
           " blksize=%ld blocks=%ld atime=%ld.%09ld mtime=%ld.%09ld ctime=%ld.%09ld res=",
           (unsigned long)st.st_dev, (unsigned long)st.st_ino, (unsigned long)st.st_nlink,
           st.st_mode, st.st_uid, st.st_gid, load_u32(b, 36), (unsigned long)st.st_rdev,
           (long)st.st_size, (long)st.st_blksize, (long)st.st_blocks, (long)st.st_atim.tv_sec,
           st.st_atim.tv_nsec, (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
           (long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
    print_hex(b + 120, STAT_BYTES - 120);
}

/* Every field of the kernel's struct statx (6.18 layout), and the spare bytes. */
static inline void print_statx_fields(const unsigned char *b) {
    printf(" mask=%x blksize=%u attributes=%llx nlink=%u uid=%u gid=%u mode=%o spare0=%x"
           " ino=%llu size=%llu blocks=%llu attributes_mask=%llx",
           load_u32(b, 0), load_u32(b, 4), (unsigned long long)load_u64(b, 8), load_u32(b, 16),
           load_u32(b, 20), load_u32(b, 24), load_u16(b, 28), load_u16(b, 30),
           (unsigned long long)load_u64(b, 32), (unsigned long long)load_u64(b, 40),
           (unsigned long long)load_u64(b, 48), (unsigned long long)load_u64(b, 56));
    print_ts("atime", b, 64);
    print_ts("btime", b, 80);
    print_ts("ctime", b, 96);
    print_ts("mtime", b, 112);
    printf(" rdev=%u:%u dev=%u:%u mnt_id=%llx dio_mem_align=%u dio_offset_align=%u subvol=%llx"
           " awu_min=%u awu_max=%u aw_segments_max=%u dio_read_offset_align=%u awu_max_opt=%u"
           " rest=",
           load_u32(b, 128), load_u32(b, 132), load_u32(b, 136), load_u32(b, 140),
           (unsigned long long)load_u64(b, 144), load_u32(b, 152), load_u32(b, 156),
           (unsigned long long)load_u64(b, 160), load_u32(b, 168), load_u32(b, 172),
           load_u32(b, 176), load_u32(b, 180), load_u32(b, 184));
    print_hex(b + 188, STATX_BYTES - 188);
}

static inline size_t entry_buf_bytes(enum entry e) { return e == E_STATX ? STATX_BYTES : STAT_BYTES; }

/* Prints the result line. `readable` is how many bytes of the buffer the probe may read back
 * (0 for NULL or inaccessible buffers); a partial buffer is printed in hex. */
static inline void print_result(const char *label, const struct call *c, int r, int err,
                         size_t readable) {
    const unsigned char *b = c->buf;
    size_t full = entry_buf_bytes(c->e);
    printf("%s %s ret=%d errno=%d", label, entry_name[c->e], r, err);
    if (readable == 0) {
        printf(" buf=-");
    } else if (readable < full) {
        printf(" partial=");
        print_hex(b, readable);
    } else if (c->e == E_STATX) {
        print_statx_fields(b);
    } else {
        print_stat_fields(b);
    }
    printf("\n");
}

/* Fills the buffer with a pattern, calls, prints. */
static inline int call_and_print(const char *label, const struct call *c, size_t readable) {
    int err;
    if (readable) memset(c->buf, 0xa5, readable);
    int r = invoke(c, &err);
    print_result(label, c, r, err, readable);
    return r;
}

/* Prints the probe's own count of its calls: `calls NAME N`. */
static inline void print_call_counts(const unsigned long *counts) {
    for (int e = 0; e < E_COUNT; e++) printf("calls %s %lu\n", entry_name[e], counts[e]);
}

#endif
