/* diff_liar.c: deliberately wrong preload libraries that the differential harness must catch.
 *
 * It exports the same 17 stat entry points as libstatcache.so and answers them with the raw system
 * call (newfstatat / statx / fstat, exactly what glibc does on x86_64), then lies according to
 * DIFF_LIAR_MODE:
 *
 *   corrupt   every DIFF_LIAR_EVERY-th successful call (default 50) gets st_size / stx_size + 1.
 *   stale     the first answer for an absolute path (per entry kind, flags and mask) is kept and
 *             returned forever: a cache with no invalidation at all.
 *   dirwatch  a cache that is exact for everything directory inotify watches report: it caches only
 *             physical absolute paths (no symlink in any prefix, no "." or "..", no "//", no
 *             trailing slash), watches every prefix directory and a directory result itself (watch
 *             before look), and drains the inotify queue before every call. An event for name N in
 *             directory D drops D/N, everything below it and D itself; an event on D itself drops
 *             D and everything below; IN_*_SELF, IN_IGNORED and overflow drop everything. It
 *             listens to IN_MODIFY, IN_ATTRIB, IN_MOVED_FROM/TO, IN_CREATE,
 *             IN_DELETE, IN_DELETE_SELF and IN_MOVE_SELF; not to IN_ACCESS, IN_OPEN or
 *             IN_CLOSE_*. So it can only be wrong through the holes of directory watches: relatime
 *             reads, atime-only utimensat, readdir, shared-mmap stores, chattr, writes and chmod
 *             through a hard link in an unwatched directory, and (with DIFF_LIAR_SYMLINKS=1, which
 *             also caches symlinks' own attributes) atime moved by following a symlink.
 *
 * DIFF_LIAR_PARENT_ONLY=1 makes forked children pass everything through honestly, so that only
 * the parent's answers can be wrong.
 *
 * No <sys/stat.h>: its prototypes would clash with these definitions; buffers are opaque bytes,
 * with the x86_64 offsets of the few fields used.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

#define L_AT_FDCWD (-100)
#define L_AT_SYMLINK_NOFOLLOW 0x100
#define L_S_IFMT 0170000
#define L_S_IFDIR 0040000
#define L_S_IFLNK 0120000
#define STAT_BYTES 144
#define STATX_BYTES 256
#define ST_MODE_OFF 24
#define ST_SIZE_OFF 48
#define STX_MODE_OFF 28
#define STX_SIZE_OFF 40

enum { M_PASS, M_CORRUPT, M_STALE, M_DIRWATCH };
enum { K_AT, K_STATX, K_FD };

static int mode = M_PASS;
static long every = 50;
static int cache_links;
static int parent_only;
static pid_t parent_pid;
static unsigned long ncalls, nhits, nmisses, nflushes;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int ino_fd = -1;

__attribute__((constructor)) static void liar_init(void) {
    const char *m = getenv("DIFF_LIAR_MODE");
    if (!m || !strcmp(m, "corrupt"))
        mode = M_CORRUPT;
    else if (!strcmp(m, "stale"))
        mode = M_STALE;
    else if (!strcmp(m, "dirwatch"))
        mode = M_DIRWATCH;
    const char *e = getenv("DIFF_LIAR_EVERY");
    if (e && atol(e) > 0)
        every = atol(e);
    const char *s = getenv("DIFF_LIAR_SYMLINKS");
    cache_links = s && !strcmp(s, "1");
    const char *p = getenv("DIFF_LIAR_PARENT_ONLY");
    parent_only = p && !strcmp(p, "1");
    parent_pid = getpid();
}

/* DIFF_LIAR_STATS=FILE: one line per process at exit, so a test can tell the cache did serve. */
__attribute__((destructor)) static void liar_fini(void) {
    const char *f = getenv("DIFF_LIAR_STATS");
    if (!f || (parent_only && getpid() != parent_pid))
        return;
    FILE *out = fopen(f, "a");
    if (!out)
        return;
    fprintf(out, "pid=%d hits=%lu misses=%lu flushes=%lu corrupted=%lu\n", (int)getpid(), nhits,
            nmisses, nflushes, mode == M_CORRUPT ? ncalls / every : 0);
    fclose(out);
}

/* ---- the honest answer ---- */
static int real_call(int kind, int dirfd, const char *path, void *buf, int flags, unsigned mask) {
    long r;
    if (kind == K_STATX)
        r = syscall(SYS_statx, dirfd, path, flags, mask, buf);
    else if (kind == K_FD)
        r = syscall(SYS_fstat, dirfd, buf);
    else
        r = syscall(SYS_newfstatat, dirfd, path, buf, flags);
    return (int)r;
}

/* ---- the cache (stale and dirwatch modes) ---- */
#define SLOTS 8192
struct slot {
    char *key;  /* never removed once set, so that probe chains stay intact */
    char *path; /* the path part of the key */
    int valid;
    int ret, err;
    unsigned char buf[STATX_BYTES];
};
static struct slot table[SLOTS];
static int used;

static uint64_t hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static struct slot *find(const char *key, int insert) {
    uint64_t h = hash(key);
    for (int i = 0; i < SLOTS; i++) {
        struct slot *s = &table[(h + i) % SLOTS];
        if (!s->key) {
            if (!insert || used >= SLOTS / 2)
                return NULL;
            s->key = strdup(key);
            s->path = strchr(strchr(strchr(s->key, ':') + 1, ':') + 1, ':') + 1;
            used++;
            return s;
        }
        if (!strcmp(s->key, key))
            return s;
    }
    return NULL;
}

static void flush(void) {
    nflushes++;
    for (int i = 0; i < SLOTS; i++)
        table[i].valid = 0;
}

/* Drops the entry for `p` and, with `below`, every entry under it. */
static void drop(const char *p, int below) {
    size_t n = strlen(p);
    for (int i = 0; i < SLOTS; i++) {
        struct slot *s = &table[i];
        if (!s->key || !s->valid)
            continue;
        if (!strcmp(s->path, p) ||
            (below && !strncmp(s->path, p, n) && (s->path[n] == '/' || (n == 1 && p[0] == '/'))))
            s->valid = 0;
    }
}

#define MAX_WD 65536
static char *wd_path[MAX_WD];

static void set_wd(int wd, const char *p) {
    if (wd >= 0 && wd < MAX_WD) {
        free(wd_path[wd]);
        wd_path[wd] = strdup(p);
    }
}

/* Reads and applies every pending event; returns whether there was one. */
static int drain(void) {
    char b[8192] __attribute__((aligned(8)));
    int any = 0;
    for (;;) {
        ssize_t n = read(ino_fd, b, sizeof b);
        if (n <= 0)
            break;
        any = 1;
        for (char *p = b; p < b + n;) {
            struct inotify_event *e = (struct inotify_event *)p;
            p += sizeof *e + e->len;
            const char *dir = e->wd >= 0 && e->wd < MAX_WD ? wd_path[e->wd] : NULL;
            if (!dir || (e->mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF |
                                    IN_UNMOUNT))) {
                flush();
            } else if (e->len && e->name[0]) {
                char child[4400];
                snprintf(child, sizeof child, "%s/%s", strcmp(dir, "/") ? dir : "", e->name);
                drop(child, 1);
                drop(dir, 0);
            } else {
                drop(dir, 1);
            }
        }
    }
    return any;
}

/* A physical absolute path: no ".", "..", "//", trailing slash, and no symlink in any prefix. */
static int plain(const char *path) {
    size_t n = strlen(path);
    if (path[0] != '/' || n < 2 || n >= 4000 || path[n - 1] == '/' || strstr(path, "//") ||
        strstr(path, "/./") || strstr(path, "/../"))
        return 0;
    const char *last = strrchr(path, '/');
    if (!strcmp(last, "/.") || !strcmp(last, "/.."))
        return 0;
    char pre[4096];
    unsigned char st[STAT_BYTES];
    for (const char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
        memcpy(pre, path, p - path);
        pre[p - path] = 0;
        if (syscall(SYS_newfstatat, L_AT_FDCWD, pre, st, L_AT_SYMLINK_NOFOLLOW) != 0)
            return 0;
        if ((*(uint32_t *)(st + ST_MODE_OFF) & L_S_IFMT) != L_S_IFDIR)
            return 0;
    }
    return 1;
}

#define WATCH_MASK (IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | \
                    IN_DELETE_SELF | IN_MOVE_SELF)

static void watch_path(const char *path) {
    char pre[4096];
    set_wd(inotify_add_watch(ino_fd, "/", WATCH_MASK), "/");
    for (const char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
        memcpy(pre, path, p - path);
        pre[p - path] = 0;
        set_wd(inotify_add_watch(ino_fd, pre, WATCH_MASK), pre);
    }
    /* The result itself when it is a directory: its own mtime moves with its children. */
    set_wd(inotify_add_watch(ino_fd, path, WATCH_MASK | IN_ONLYDIR | IN_DONT_FOLLOW), path);
}

static int cached(int kind, int dirfd, const char *path, void *buf, int flags, unsigned mask) {
    int size = kind == K_STATX ? STATX_BYTES : STAT_BYTES;
    if (kind == K_FD || !path || path[0] != '/')
        return real_call(kind, dirfd, path, buf, flags, mask);
    char key[4200];
    if (strlen(path) > 4000)
        return real_call(kind, dirfd, path, buf, flags, mask);
    int nofollow = (flags & L_AT_SYMLINK_NOFOLLOW) != 0;
    snprintf(key, sizeof key, "%d:%x:%x:%s", kind, flags, mask, path);
    pthread_mutex_lock(&lock);
    if (mode == M_DIRWATCH) {
        if (ino_fd < 0)
            ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        drain();
    }
    struct slot *s = find(key, 0);
    if (s && !s->valid)
        s = NULL;
    nmisses += !s;
    nhits += !!s;
    if (s) {
        int ret = s->ret, err = s->err;
        memcpy(buf, s->buf, size);
        pthread_mutex_unlock(&lock);
        if (ret != 0)
            errno = err;
        return ret;
    }
    int cacheable = 1;
    if (mode == M_DIRWATCH) {
        cacheable = plain(path);
        if (cacheable) {
            watch_path(path);
            drain();
        }
    }
    int ret = real_call(kind, dirfd, path, buf, flags, mask);
    int err = errno;
    if (mode == M_DIRWATCH && cacheable) {
        if (drain())
            cacheable = 0; /* something moved while looking: do not trust this answer */
        if (ret == 0) {
            uint32_t m = kind == K_STATX ? *(uint16_t *)((char *)buf + STX_MODE_OFF)
                                         : *(uint32_t *)((char *)buf + ST_MODE_OFF);
            m &= L_S_IFMT;
            /* FIFOs, sockets and devices change without telling their directory: a FIFO's
               mtime moves on every write with IN_MODIFY on its own inode only. */
            if (m != L_S_IFDIR && m != L_S_IFLNK && m != 0100000)
                cacheable = 0;
        }
        /* A followed symlink's answer (success or error) depends on the target, which is not
           watched; a symlink's own atime moves, without an event, whenever something follows
           it. */
        unsigned char st[STAT_BYTES];
        if (syscall(SYS_newfstatat, L_AT_FDCWD, path, st, L_AT_SYMLINK_NOFOLLOW) == 0 &&
            (*(uint32_t *)(st + ST_MODE_OFF) & L_S_IFMT) == L_S_IFLNK &&
            !(cache_links && nofollow))
            cacheable = 0;
    }
    if (cacheable && (s = find(key, 1))) {
        s->valid = 1;
        s->ret = ret;
        s->err = err;
        memcpy(s->buf, buf, size);
    }
    pthread_mutex_unlock(&lock);
    if (ret != 0)
        errno = err;
    return ret;
}

static int answer(int kind, int dirfd, const char *path, void *buf, int flags, unsigned mask) {
    if (mode == M_PASS || (parent_only && getpid() != parent_pid))
        return real_call(kind, dirfd, path, buf, flags, mask);
    if (mode == M_STALE || mode == M_DIRWATCH) {
        int saved = errno; /* the cache's own calls must not leak into errno */
        int r = cached(kind, dirfd, path, buf, flags, mask);
        if (r == 0)
            errno = saved;
        return r;
    }
    int r = real_call(kind, dirfd, path, buf, flags, mask);
    if (r == 0 && __atomic_add_fetch(&ncalls, 1, __ATOMIC_RELAXED) % every == 0) {
        if (kind == K_STATX)
            *(uint64_t *)((char *)buf + STX_SIZE_OFF) += 1;
        else
            *(int64_t *)((char *)buf + ST_SIZE_OFF) += 1;
    }
    return r;
}

/* ---- the 17 entry points ---- */
int stat(const char *p, void *b) { return answer(K_AT, L_AT_FDCWD, p, b, 0, 0); }
int stat64(const char *p, void *b) { return answer(K_AT, L_AT_FDCWD, p, b, 0, 0); }
int lstat(const char *p, void *b) { return answer(K_AT, L_AT_FDCWD, p, b, L_AT_SYMLINK_NOFOLLOW, 0); }
int lstat64(const char *p, void *b) { return answer(K_AT, L_AT_FDCWD, p, b, L_AT_SYMLINK_NOFOLLOW, 0); }
int fstatat(int d, const char *p, void *b, int f) { return answer(K_AT, d, p, b, f, 0); }
int fstatat64(int d, const char *p, void *b, int f) { return answer(K_AT, d, p, b, f, 0); }
int statx(int d, const char *p, int f, unsigned m, void *b) { return answer(K_STATX, d, p, b, f, m); }
int fstat(int fd, void *b) { return answer(K_FD, fd, NULL, b, 0, 0); }
int fstat64(int fd, void *b) { return answer(K_FD, fd, NULL, b, 0, 0); }
int __xstat(int v, const char *p, void *b) { (void)v; return stat(p, b); }
int __xstat64(int v, const char *p, void *b) { (void)v; return stat(p, b); }
int __lxstat(int v, const char *p, void *b) { (void)v; return lstat(p, b); }
int __lxstat64(int v, const char *p, void *b) { (void)v; return lstat(p, b); }
int __fxstat(int v, int fd, void *b) { (void)v; return fstat(fd, b); }
int __fxstat64(int v, int fd, void *b) { (void)v; return fstat(fd, b); }
int __fxstatat(int v, int d, const char *p, void *b, int f) { (void)v; return fstatat(d, p, b, f); }
int __fxstatat64(int v, int d, const char *p, void *b, int f) { (void)v; return fstatat(d, p, b, f); }
