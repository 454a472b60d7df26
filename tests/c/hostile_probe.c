/* hostile_probe.c: the probe of tests/hostile.rs. Each mode puts the process in a hostile
 * situation (exhausted inotify limits, forks and raw clones, signal handlers that stat, chroot,
 * mounts, setuid, bad pointers, closed descriptors, huge trees ...) and compares every answer
 * of the interposed stat family with the raw system call made right after it (and, where
 * something may change concurrently, right before it: the answer must be one of the two).
 *
 * Output: `MISMATCH ...` and `FAIL ...` lines for problems, informational `key value` lines, and
 * one `summary pid=P compared=N mismatches=M failures=F` line per process that checked anything.
 * Exit status: 0 when clean, 1 on any mismatch or failure, 2 when the probe itself could not
 * set the situation up, 77 when the situation is not available on this machine (skip).
 *
 * Usage: hostile_probe MODE ARGS... (see main()).
 */
#define _GNU_SOURCE
/* Paths here are built from directories well below PATH_MAX. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MASK (STATX_BASIC_STATS | STATX_BTIME)
/* Access times in the future: reads never move them (relatime), so regular files stay
 * answerable from the cache and both the cached and the raw answer carry the same atime. */
#define FUTURE_ATIME 4000000000L

static _Atomic long n_compared, n_mismatch, n_fail;
static _Atomic int reports_left = 20;
/* Set while running in a signal handler: no stdio there. */
static __thread int quiet;
/* Something may change concurrently: the answer may equal the raw answer before or after. */
static int concurrent;

enum kind { K_STAT, K_LSTAT, K_FSTATAT, K_STATX, K_LSTATX, NK };
static const char *const kname[NK] = {"stat", "lstat", "fstatat", "statx", "statx-nofollow"};

struct res {
    long ret;
    int err;
    unsigned char b[256];
};

static size_t ksize(int k) { return k >= K_STATX ? 256 : 144; }

/* Hides a pointer's value from the compiler (the prototypes carry __nonnull). */
static inline void *launder(const void *p) {
    void *q = (void *)p;
    __asm__ volatile("" : "+r"(q));
    return q;
}

/* The interposed call of kind k into an arbitrary buffer. */
static long lib_callp(int k, const char *p, void *b, int *err) {
    long r;
    p = launder(p);
    b = launder(b);
    errno = 0;
    switch (k) {
    case K_STAT: r = stat(p, b); break;
    case K_LSTAT: r = lstat(p, b); break;
    case K_FSTATAT: r = fstatat(AT_FDCWD, p, b, 0); break;
    case K_STATX: r = statx(AT_FDCWD, p, 0, MASK, b); break;
    default: r = statx(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, MASK, b); break;
    }
    *err = r < 0 ? errno : 0;
    return r;
}

/* The raw system call the kind stands for. */
static long raw_callp(int k, const char *p, void *b, int *err) {
    long r;
    errno = 0;
    if (k >= K_STATX)
        r = syscall(SYS_statx, AT_FDCWD, p, k == K_LSTATX ? AT_SYMLINK_NOFOLLOW : 0, MASK, b);
    else
        r = syscall(SYS_newfstatat, AT_FDCWD, p, b, k == K_LSTAT ? AT_SYMLINK_NOFOLLOW : 0);
    *err = r < 0 ? errno : 0;
    return r;
}

static void lib_call(int k, const char *p, struct res *r) {
    memset(r->b, 0xa5, sizeof r->b);
    r->ret = lib_callp(k, p, r->b, &r->err);
}

static void raw_call(int k, const char *p, struct res *r) {
    memset(r->b, 0xa5, sizeof r->b);
    r->ret = raw_callp(k, p, r->b, &r->err);
}

static int same(int k, const struct res *a, const struct res *b) {
    if (a->ret != b->ret) return 0;
    if (a->ret != 0) return a->err == b->err;
    return memcmp(a->b, b->b, ksize(k)) == 0;
}

static void describe(int k, const struct res *r, char *out, size_t n) {
    if (r->ret != 0) {
        snprintf(out, n, "ret=%ld errno=%d (%s)", r->ret, r->err, strerror(r->err));
    } else if (k >= K_STATX) {
        struct statx s;
        memcpy(&s, r->b, sizeof s);
        snprintf(out, n,
                 "ret=0 mask=%x dev=%u:%u ino=%llu mode=%o nlink=%u uid=%u size=%llu "
                 "mtime=%lld.%09u ctime=%lld.%09u atime=%lld.%09u",
                 s.stx_mask, s.stx_dev_major, s.stx_dev_minor, (unsigned long long)s.stx_ino,
                 s.stx_mode, s.stx_nlink, s.stx_uid, (unsigned long long)s.stx_size,
                 (long long)s.stx_mtime.tv_sec, s.stx_mtime.tv_nsec,
                 (long long)s.stx_ctime.tv_sec, s.stx_ctime.tv_nsec,
                 (long long)s.stx_atime.tv_sec, s.stx_atime.tv_nsec);
    } else {
        struct stat s;
        memcpy(&s, r->b, sizeof s);
        snprintf(out, n,
                 "ret=0 dev=%lx ino=%lu mode=%o nlink=%lu uid=%u size=%ld mtime=%ld.%09ld "
                 "ctime=%ld.%09ld atime=%ld.%09ld",
                 (unsigned long)s.st_dev, (unsigned long)s.st_ino, s.st_mode,
                 (unsigned long)s.st_nlink, s.st_uid, (long)s.st_size, (long)s.st_mtim.tv_sec,
                 s.st_mtim.tv_nsec, (long)s.st_ctim.tv_sec, s.st_ctim.tv_nsec,
                 (long)s.st_atim.tv_sec, s.st_atim.tv_nsec);
    }
}

static void mismatch(const char *label, const char *p, int k, const struct res *lib,
                     const struct res *raw) {
    n_mismatch++;
    if (quiet || atomic_fetch_sub(&reports_left, 1) <= 0) return;
    char a[512], b[512];
    describe(k, lib, a, sizeof a);
    describe(k, raw, b, sizeof b);
    int off = -1;
    for (size_t i = 0; i < ksize(k); i++)
        if (lib->b[i] != raw->b[i]) {
            off = (int)i;
            break;
        }
    printf("MISMATCH pid=%d %s %s %s\n  library: %s\n  kernel:  %s\n  first differing byte: %d\n",
           getpid(), label, kname[k], p, a, b, off);
    fflush(stdout);
}

static void fail(const char *fmt, ...) {
    va_list ap;
    n_fail++;
    printf("FAIL pid=%d ", getpid());
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static void die(const char *fmt, ...) {
    int e = errno;
    va_list ap;
    printf("FATAL pid=%d ", getpid());
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf(": %s\n", strerror(e));
    fflush(stdout);
    _exit(2);
}

static void skip(const char *fmt, ...) {
    int e = errno;
    va_list ap;
    printf("SKIP ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf(": %s\n", strerror(e));
    fflush(stdout);
    exit(77);
}

/* One comparison: the library's answer against the kernel's. */
static int check_kind(const char *label, const char *p, int k) {
    struct res before, lib, after;
    if (concurrent) raw_call(k, p, &before);
    lib_call(k, p, &lib);
    raw_call(k, p, &after);
    n_compared++;
    if (same(k, &lib, &after) || (concurrent && same(k, &lib, &before))) return 1;
    mismatch(label, p, k, &lib, &after);
    return 0;
}

static void check(const char *label, const char *p) {
    for (int k = 0; k < NK; k++) check_kind(label, p, k);
}

static int finish(void) {
    printf("summary pid=%d compared=%ld mismatches=%ld failures=%ld\n", getpid(),
           (long)n_compared, (long)n_mismatch, (long)n_fail);
    fflush(stdout);
    return n_mismatch || n_fail ? 1 : 0;
}

/* ---- paths and trees ---- */

struct paths {
    int n, cap;
    char **p;
};

static void add(struct paths *ps, const char *fmt, ...) {
    va_list ap;
    char *s;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0) die("vasprintf");
    va_end(ap);
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? 2 * ps->cap : 64;
        ps->p = realloc(ps->p, ps->cap * sizeof *ps->p);
        if (!ps->p) die("realloc");
    }
    ps->p[ps->n++] = s;
}

static void check_all(const char *label, const struct paths *ps) {
    for (int i = 0; i < ps->n; i++) check(label, ps->p[i]);
}

static void rounds(const char *label, const struct paths *ps, int n) {
    for (int r = 0; r < n; r++) check_all(label, ps);
}

static void future_atime(const char *p) {
    struct timespec t[2] = {{FUTURE_ATIME, 0}, {0, UTIME_OMIT}};
    if (utimensat(AT_FDCWD, p, t, AT_SYMLINK_NOFOLLOW) != 0) die("utimensat %s", p);
}

static void mkfile(const char *p, size_t size) {
    static const char zeros[4096];
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) die("create %s", p);
    while (size > 0) {
        size_t n = size < sizeof zeros ? size : sizeof zeros;
        if (write(fd, zeros, n) != (ssize_t)n) die("write %s", p);
        size -= n;
    }
    close(fd);
    future_atime(p);
}

static void mkdir_p(const char *p) {
    if (mkdir(p, 0755) != 0 && errno != EEXIST) die("mkdir %s", p);
}

static int exists(const char *p) {
    struct stat st;
    return syscall(SYS_newfstatat, AT_FDCWD, p, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* The flat test tree: DIR/f0..f7, DIR/sub/g0..g2, DIR/link -> f0, DIR/dlink -> sub. */
static void flat_build(const char *dir) {
    char p[PATH_MAX], q[PATH_MAX];
    mkdir_p(dir);
    snprintf(p, sizeof p, "%s/f0", dir);
    if (exists(p)) return;
    for (int i = 0; i < 8; i++) {
        snprintf(p, sizeof p, "%s/f%d", dir, i);
        mkfile(p, (size_t)i * 3 + 1);
    }
    snprintf(p, sizeof p, "%s/sub", dir);
    mkdir_p(p);
    for (int i = 0; i < 3; i++) {
        snprintf(q, sizeof q, "%s/sub/g%d", dir, i);
        mkfile(q, (size_t)i + 100);
    }
    snprintf(p, sizeof p, "%s/link", dir);
    if (symlink("f0", p) != 0) die("symlink %s", p);
    snprintf(p, sizeof p, "%s/dlink", dir);
    if (symlink("sub", p) != 0) die("symlink %s", p);
}

static struct paths flat_paths(const char *dir) {
    struct paths ps = {0};
    add(&ps, "%s", dir);
    for (int i = 0; i < 8; i++) add(&ps, "%s/f%d", dir, i);
    add(&ps, "%s/f3.tmp", dir);
    add(&ps, "%s/fnew", dir);
    add(&ps, "%s/dnew", dir);
    add(&ps, "%s/dnew/x", dir);
    add(&ps, "%s/sub", dir);
    for (int i = 0; i < 3; i++) add(&ps, "%s/sub/g%d", dir, i);
    add(&ps, "%s/sub/missing", dir);
    add(&ps, "%s/link", dir);
    add(&ps, "%s/dlink", dir);
    add(&ps, "%s/dlink/g0", dir);
    add(&ps, "%s/missing", dir);
    add(&ps, "%s/f0/x", dir);
    add(&ps, "%s/./f1", dir);
    add(&ps, "%s/sub/../f2", dir);
    add(&ps, "%s//f4", dir);
    return ps;
}

/* Relative names for a process sitting in a flat tree (or in its sub/). */
static struct paths rel_paths(void) {
    struct paths ps = {0};
    const char *names[] = {".", "..", "f0", "f1", "f3", "f3.tmp", "fnew", "sub", "sub/g0", "g0",
                           "../f2", "./f1", "missing", "link", "dlink/g0", "f0/x", "../sub/g1",
                           "dnew"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) add(&ps, "%s", names[i]);
    return ps;
}

/* One change in a flat tree; `step` picks which. */
static void mutate(const char *dir, int step) {
    char p[PATH_MAX], q[PATH_MAX];
    switch (step % 7) {
    case 0:
        snprintf(p, sizeof p, "%s/f1", dir);
        if (truncate(p, step % 50 + 1) != 0) die("truncate %s", p);
        break;
    case 1:
        snprintf(p, sizeof p, "%s/f2", dir);
        if (chmod(p, (step / 7) % 2 ? 0600 : 0644) != 0) die("chmod %s", p);
        break;
    case 2:
        snprintf(p, sizeof p, "%s/f3", dir);
        snprintf(q, sizeof q, "%s/f3.tmp", dir);
        if (exists(p) ? rename(p, q) : rename(q, p)) die("rename %s", p);
        break;
    case 3:
        snprintf(p, sizeof p, "%s/fnew", dir);
        if (exists(p)) {
            if (unlink(p) != 0) die("unlink %s", p);
        } else {
            mkfile(p, step % 10);
        }
        break;
    case 4:
        snprintf(p, sizeof p, "%s/dnew", dir);
        if (exists(p) ? rmdir(p) : mkdir(p, 0755)) die("mkdir/rmdir %s", p);
        break;
    case 5: {
        struct timespec t[2] = {{0, UTIME_OMIT}, {step, 0}};
        snprintf(p, sizeof p, "%s/f4", dir);
        if (utimensat(AT_FDCWD, p, t, 0) != 0) die("utimensat %s", p);
        break;
    }
    default: {
        snprintf(p, sizeof p, "%s/f5", dir);
        int fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd < 0 || write(fd, "x", 1) != 1) die("append %s", p);
        close(fd);
        break;
    }
    }
}

/* Rounds of checks with a change of the tree between them. */
static void rounds_mutating(const char *label, const char *dir, const struct paths *ps, int n,
                            int *step) {
    for (int r = 0; r < n; r++) {
        check_all(label, ps);
        mutate(dir, (*step)++);
    }
    check_all(label, ps);
}

/* Open descriptors of this process (not counting the one used to count). */
static int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) die("opendir /proc/self/fd");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1;
}

static const char *self_exe(void) {
    static char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n < 0) die("readlink /proc/self/exe");
    buf[n] = 0;
    return buf;
}

static void wait_ok(pid_t pid, const char *what) {
    int st;
    pid_t r;
    while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {
    }
    if (r != pid) die("waitpid %s", what);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail("%s: child ended with status 0x%x", what, st);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* ---- modes ---- */

/* build DIR: the flat tree, nothing else (run without the library). */
static int mode_build(char **a) {
    flat_build(a[0]);
    return 0;
}

/* flat DIR ROUNDS MUTATE: checks over the flat tree, changing it between rounds if MUTATE. */
static int mode_flat(char **a) {
    flat_build(a[0]);
    struct paths ps = flat_paths(a[0]);
    int n = atoi(a[1]), step = 0;
    if (atoi(a[2]))
        rounds_mutating("flat", a[0], &ps, n, &step);
    else
        rounds("flat", &ps, n);
    return finish();
}

/* child-check DIR: a child of another mode checks an existing flat tree. */
static int mode_child_check(char **a) {
    struct paths ps = flat_paths(a[0]);
    rounds("child-check", &ps, 4);
    return finish();
}

/* tree DIR DEPTH ROUNDS: a chain DIR/l1/l2/... with three files per level; the ancestors of
 * DIR are checked too (their watches come first). */
static int mode_tree(char **a) {
    const char *dir = a[0];
    int depth = atoi(a[1]), n = atoi(a[2]), step = 0;
    struct paths ps = {0};
    char p[PATH_MAX], q[PATH_MAX];
    for (const char *s = dir + 1; (s = strchr(s, '/')); s++) add(&ps, "%.*s", (int)(s - dir), dir);
    add(&ps, "/");
    flat_build(dir);
    struct paths flat = flat_paths(dir);
    for (int i = 0; i < flat.n; i++) add(&ps, "%s", flat.p[i]);
    snprintf(p, sizeof p, "%s", dir);
    for (int d = 1; d <= depth; d++) {
        size_t len = strlen(p);
        snprintf(p + len, sizeof p - len, "/l%d", d);
        mkdir_p(p);
        add(&ps, "%s", p);
        for (int i = 0; i < 3; i++) {
            snprintf(q, sizeof q, "%s/t%d", p, i);
            if (!exists(q)) mkfile(q, (size_t)d * 10 + i);
            add(&ps, "%s", q);
        }
        add(&ps, "%s/missing", p);
    }
    rounds_mutating("tree", dir, &ps, n, &step);
    return finish();
}

/* instances DIR: exhausts inotify instances before the first stat. */
static int mode_instances(char **a) {
    flat_build(a[0]);
    struct paths ps = flat_paths(a[0]);
    static int fds[65536];
    int n = 0, err = 0, step = 0;
    for (;;) {
        int fd = inotify_init1(IN_CLOEXEC);
        if (fd < 0) {
            err = errno;
            break;
        }
        fds[n++] = fd;
        if (n == 65536) break;
    }
    /* Instances released by processes that exited just before are freed asynchronously (the
       kernel's unix-socket collector, a workqueue): give them time, then take those too, so
       that the library's first stat really finds none. */
    for (int pass = 0; pass < 5 && n < 65536; pass++) {
        usleep(50000);
        int fd;
        while (n < 65536 && (fd = inotify_init1(IN_CLOEXEC)) >= 0) fds[n++] = fd;
    }
    printf("instances %d errno %d\n", n, err);
    rounds_mutating("instances-exhausted", a[0], &ps, 5, &step);
    for (int i = 0; i < n; i++) close(fds[i]);
    rounds_mutating("instances-released", a[0], &ps, 3, &step);
    int fd = open(a[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail("open after the library saw EMFILE: %s", strerror(errno));
    else close(fd);
    return finish();
}

/* instances-late DIR: the cache is active, then every inotify instance the user may have is
 * taken, then a credential call makes the cache start over (which needs a new instance). */
static int mode_instances_late(char **a) {
    flat_build(a[0]);
    struct paths ps = flat_paths(a[0]);
    static int fds[65536];
    int n = 0, err = 0, step = 0;
    rounds_mutating("warm", a[0], &ps, 5, &step);
    for (;;) {
        int fd = inotify_init1(IN_CLOEXEC);
        if (fd < 0) {
            err = errno;
            break;
        }
        fds[n++] = fd;
        if (n == 65536) break;
    }
    printf("instances %d errno %d\n", n, err);
    if (seteuid(geteuid()) != 0) die("seteuid");
    rounds_mutating("exhausted-after-flush", a[0], &ps, 4, &step);
    for (int i = 0; i < n; i++) close(fds[i]);
    rounds_mutating("released", a[0], &ps, 3, &step);
    return finish();
}

static long read_long(const char *path) {
    FILE *f = fopen(path, "re");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1) v = -1;
        fclose(f);
    }
    return v;
}

/* overflow DIR: a burst of events from another process overflows the inotify queue while
 * entries of DIR are cached; then cached files change (those events are lost too). */
static int mode_overflow(char **a) {
    const char *dir = a[0];
    flat_build(dir);
    struct paths ps = flat_paths(dir);
    int step = 0;
    rounds_mutating("warm", dir, &ps, 6, &step);
    long maxq = read_long("/proc/sys/fs/inotify/max_queued_events");
    if (maxq <= 0) maxq = 16384;
    long names = maxq / 2 + 1000; /* each name: IN_CREATE, IN_CLOSE_WRITE, IN_DELETE */
    if (names > 200000) names = 200000;
    int wfd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (wfd < 0 || inotify_add_watch(wfd, dir, IN_ALL_EVENTS) < 0) die("own inotify watch");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        char p[PATH_MAX];
        for (long i = 0; i < names; i++) {
            snprintf(p, sizeof p, "%s/burst%ld", dir, i);
            int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            if (fd < 0) _exit(3);
            close(fd);
            if (unlink(p) != 0) _exit(4);
        }
        _exit(0);
    }
    wait_ok(pid, "burst writer");
    for (int i = 0; i < 7; i++) mutate(dir, step++);
    int overflow = 0;
    static char buf[65536];
    for (;;) {
        ssize_t n = read(wfd, buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t off = 0; off < n;) {
            struct inotify_event *e = (struct inotify_event *)(buf + off);
            if (e->mask & IN_Q_OVERFLOW) overflow = 1;
            off += sizeof *e + e->len;
        }
    }
    close(wfd);
    printf("max_queued_events %ld burst %ld overflow-seen %d\n", maxq, names, overflow);
    rounds("after-overflow", &ps, 3);
    rounds_mutating("after-overflow-mutating", dir, &ps, 4, &step);
    return finish();
}

/* fork DIR: the child checks and changes files; the parent's answers must follow. An event is
 * pending in the parent's queue when it forks. */
static int mode_fork(char **a) {
    const char *dir = a[0];
    flat_build(dir);
    struct paths ps = flat_paths(dir);
    int step = 0;
    rounds_mutating("parent-warm", dir, &ps, 6, &step);
    mutate(dir, step++);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        int cstep = 100;
        rounds("child", &ps, 4);
        for (int i = 0; i < 4; i++) mutate(dir, cstep++);
        rounds_mutating("child-mutating", dir, &ps, 3, &cstep);
        exit(finish());
    }
    wait_ok(pid, "fork child");
    rounds("parent-after-child", &ps, 4);
    rounds_mutating("parent-final", dir, &ps, 4, &step);
    return finish();
}

static struct res vf_lib, vf_raw;

/* vfork DIR: the vfork child stats (sharing the parent's memory), then execs a checker. */
static int mode_vfork(char **a) {
    const char *dir = a[0];
    const char *exe = self_exe();
    flat_build(dir);
    struct paths ps = flat_paths(dir);
    int step = 0;
    char target[PATH_MAX];
    rounds_mutating("parent-warm", dir, &ps, 6, &step);
    snprintf(target, sizeof target, "%s/f1", dir);
    mutate(dir, 0); /* f1 changes: an event is pending */
    char *argv[] = {(char *)exe, "child-check", (char *)dir, NULL};
    fflush(stdout);
    pid_t pid = vfork();
    if (pid < 0) die("vfork");
    if (pid == 0) {
        lib_call(K_STAT, target, &vf_lib);
        raw_call(K_STAT, target, &vf_raw);
        execve(exe, argv, environ);
        _exit(127);
    }
    n_compared++;
    if (!same(K_STAT, &vf_lib, &vf_raw)) mismatch("vfork-child", target, K_STAT, &vf_lib, &vf_raw);
    wait_ok(pid, "vfork child");
    rounds("parent-after-vfork", &ps, 4);
    rounds_mutating("parent-final", dir, &ps, 4, &step);
    return finish();
}

/* spawn DIR: posix_spawn of a checker while an event is pending. */
static int mode_spawn(char **a) {
    const char *dir = a[0];
    const char *exe = self_exe();
    flat_build(dir);
    struct paths ps = flat_paths(dir);
    int step = 0;
    rounds_mutating("parent-warm", dir, &ps, 6, &step);
    mutate(dir, step++);
    char *argv[] = {(char *)exe, "child-check", (char *)dir, NULL};
    fflush(stdout);
    pid_t pid;
    int e = posix_spawn(&pid, exe, NULL, NULL, argv, environ);
    if (e != 0) {
        errno = e;
        die("posix_spawn");
    }
    wait_ok(pid, "posix_spawn child");
    rounds("parent-after-spawn", &ps, 4);
    rounds_mutating("parent-final", dir, &ps, 4, &step);
    return finish();
}

/* clone DIR: a raw clone(SIGCHLD) child (no fork handlers) checks and changes files while an
 * event is pending in the parent's queue; it must not consume the parent's events. */
static int mode_clone(char **a) {
    const char *dir = a[0];
    flat_build(dir);
    struct paths ps = flat_paths(dir);
    int step = 0;
    rounds_mutating("parent-warm", dir, &ps, 6, &step);
    mutate(dir, step++);
    fflush(stdout);
    long pid = syscall(SYS_clone, (unsigned long)SIGCHLD, 0UL, 0UL, 0UL, 0UL);
    if (pid < 0) die("clone");
    if (pid == 0) {
        int cstep = 100;
        rounds("clone-child", &ps, 4);
        for (int i = 0; i < 4; i++) mutate(dir, cstep++);
        rounds_mutating("clone-child-mutating", dir, &ps, 3, &cstep);
        exit(finish());
    }
    wait_ok((pid_t)pid, "clone child");
    rounds("parent-after-clone", &ps, 4);
    rounds_mutating("parent-final", dir, &ps, 4, &step);
    return finish();
}

/* threads DIR N: N short-lived threads, 50 at a time, each checking a few paths. */
static struct paths thread_ps;

static void *thread_body(void *arg) {
    long i = (long)arg;
    for (int r = 0; r < 4; r++) {
        check("thread", thread_ps.p[i % thread_ps.n]);
        check("thread", thread_ps.p[(i * 7 + 3) % thread_ps.n]);
    }
    return NULL;
}

static int mode_threads(char **a) {
    const char *dir = a[0];
    long n = atol(a[1]);
    flat_build(dir);
    thread_ps = flat_paths(dir);
    rounds("main-warm", &thread_ps, 6);
    int before = count_fds();
    for (long b = 0; b < n; b += 50) {
        pthread_t t[50];
        int m = 0;
        for (long i = b; i < b + 50 && i < n; i++) {
            if (pthread_create(&t[m], NULL, thread_body, (void *)i) != 0) die("pthread_create");
            m++;
        }
        for (int i = 0; i < m; i++) pthread_join(t[i], NULL);
    }
    int after = count_fds();
    printf("threads %ld fds-before %d fds-after %d\n", n, before, after);
    if (after != before) fail("descriptors before %d, after %ld threads %d", before, n, after);
    rounds("main-after", &thread_ps, 2);
    return finish();
}

/* Signal handlers that stat. */
static struct paths sig_ps;
static _Atomic long handler_runs;
static _Atomic long handler_mismatch_path = -1;

static void stat_handler(int sig) {
    (void)sig;
    int e = errno;
    long runs = handler_runs++;
    long before = n_mismatch;
    quiet = 1;
    for (int i = 0; i < 2; i++) {
        long idx = (runs * 3 + i) % sig_ps.n;
        check_kind("handler", sig_ps.p[idx], (int)((runs + i) % NK));
    }
    quiet = 0;
    if (n_mismatch != before && handler_mismatch_path < 0) handler_mismatch_path = runs % sig_ps.n;
    errno = e;
}

static volatile int stop_killer;

static void *killer_body(void *arg) {
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    struct timespec ts = {0, 20000};
    while (!stop_killer) {
        kill(getpid(), SIGUSR1);
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* signals DIR HOW SECONDS: HOW is `itimer` (SIGALRM every 200 us) or `kill` (another thread
 * sends SIGUSR1 to the process in a loop). The main thread checks and changes the tree. */
static int mode_signals(char **a) {
    const char *dir = a[0];
    int itimer = strcmp(a[1], "itimer") == 0;
    double secs = atof(a[2]);
    flat_build(dir);
    sig_ps = flat_paths(dir);
    int step = 0;
    rounds_mutating("warm", dir, &sig_ps, 4, &step);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = stat_handler;
    sigemptyset(&sa.sa_mask);
    pthread_t killer;
    if (sigaction(itimer ? SIGALRM : SIGUSR1, &sa, NULL) != 0) die("sigaction");
    if (itimer) {
        struct itimerval it = {{0, 200}, {0, 200}};
        if (setitimer(ITIMER_REAL, &it, NULL) != 0) die("setitimer");
    } else if (pthread_create(&killer, NULL, killer_body, NULL) != 0) {
        die("pthread_create");
    }
    double end = now() + secs;
    long loops = 0;
    while (now() < end) {
        check_all("main", &sig_ps);
        mutate(dir, step++);
        loops++;
    }
    if (itimer) {
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_REAL, &off, NULL);
    } else {
        stop_killer = 1;
        pthread_join(killer, NULL);
    }
    printf("loops %ld handler-runs %ld\n", loops, (long)handler_runs);
    if (handler_mismatch_path >= 0)
        printf("first handler mismatch near %s\n", sig_ps.p[handler_mismatch_path]);
    rounds("after", &sig_ps, 2);
    return finish();
}

/* chdir DIR: relative lookups after chdir and fchdir, with changes in between. */
static int mode_chdir(char **a) {
    const char *dir = a[0];
    char p[PATH_MAX];
    flat_build(dir);
    struct paths rel = rel_paths();
    int step = 0;
    if (chdir(dir) != 0) die("chdir %s", dir);
    rounds_mutating("cwd=dir", dir, &rel, 4, &step);
    if (chdir("sub") != 0) die("chdir sub");
    rounds("cwd=sub", &rel, 3);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) die("open %s", dir);
    if (chdir("/") != 0) die("chdir /");
    rounds("cwd=/", &rel, 2);
    if (fchdir(fd) != 0) die("fchdir");
    rounds_mutating("fchdir=dir", dir, &rel, 3, &step);
    snprintf(p, sizeof p, "%s/sub", dir);
    int sfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sfd < 0 || fchdir(sfd) != 0) die("fchdir sub");
    rounds("fchdir=sub", &rel, 3);
    if (chdir("..") != 0) die("chdir ..");
    rounds_mutating("cwd=..", dir, &rel, 3, &step);
    close(fd);
    close(sfd);
    return finish();
}

/* cwdgone DIR: the working directory is renamed, its parent renamed, then it is removed while
 * the process sits in it; relative and absolute lookups must follow. */
static int mode_cwdgone(char **a) {
    const char *dir = a[0];
    char w[PATH_MAX], sub[PATH_MAX], p[PATH_MAX], q[PATH_MAX];
    snprintf(w, sizeof w, "%s/w", dir);
    snprintf(sub, sizeof sub, "%s/w/sub", dir);
    mkdir_p(dir);
    mkdir_p(w);
    mkdir_p(sub);
    snprintf(p, sizeof p, "%s/file", sub);
    mkfile(p, 5);
    snprintf(p, sizeof p, "%s/inner", sub);
    mkdir_p(p);
    snprintf(p, sizeof p, "%s/x", w);
    mkfile(p, 7);
    struct paths ps = {0};
    const char *rel[] = {".", "..", "file", "inner", "../x", "../sub/file", "../sub2/file",
                         "missing", "../..", "../../w2/sub2/file", "./inner/.."};
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) add(&ps, "%s", rel[i]);
    add(&ps, "%s/w/sub/file", dir);
    add(&ps, "%s/w/sub2/file", dir);
    add(&ps, "%s/w2/sub2/file", dir);
    add(&ps, "%s/w2/sub2", dir);
    if (chdir(sub) != 0) die("chdir %s", sub);
    rounds("in-place", &ps, 5);
    snprintf(p, sizeof p, "%s/w/sub2", dir);
    if (rename(sub, p) != 0) die("rename cwd");
    rounds("cwd-renamed", &ps, 3);
    snprintf(q, sizeof q, "%s/w2", dir);
    if (rename(w, q) != 0) die("rename parent");
    rounds("parent-renamed", &ps, 3);
    snprintf(p, sizeof p, "%s/w2/sub2/file", dir);
    if (unlink(p) != 0) die("unlink");
    snprintf(p, sizeof p, "%s/w2/sub2/inner", dir);
    if (rmdir(p) != 0) die("rmdir inner");
    snprintf(p, sizeof p, "%s/w2/sub2", dir);
    if (rmdir(p) != 0) die("rmdir cwd");
    rounds("cwd-removed", &ps, 3);
    if (mkdir(p, 0755) != 0) die("mkdir again");
    snprintf(q, sizeof q, "%s/w2/sub2/file", dir);
    mkfile(q, 9);
    rounds("same-name-recreated", &ps, 3);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char from[PATH_MAX], to[PATH_MAX];
        snprintf(from, sizeof from, "%s/w2", dir);
        snprintf(to, sizeof to, "%s/w", dir);
        _exit(rename(from, to) == 0 ? 0 : 1);
    }
    wait_ok(pid, "renaming child");
    rounds("renamed-by-another-process", &ps, 3);
    return finish();
}

/* chroot DIR: chroot into DIR/root while the cwd stays outside it. */
static int mode_chroot(char **a) {
    const char *dir = a[0];
    char root[PATH_MAX], t[PATH_MAX];
    snprintf(root, sizeof root, "%s/root", dir);
    snprintf(t, sizeof t, "%s/root/t", dir);
    mkdir_p(dir);
    mkdir_p(root);
    flat_build(t);
    struct paths before = flat_paths(t);
    add(&before, "root/t/f0");
    add(&before, "root/t/sub/g1");
    add(&before, "/t/f0");
    struct paths after = flat_paths("/t");
    for (int i = 0; i < before.n; i++) add(&after, "%s", before.p[i]);
    add(&after, "/");
    add(&after, "..");
    add(&after, "../..");
    int step = 0;
    if (chdir(dir) != 0) die("chdir");
    rounds_mutating("before-chroot", t, &before, 5, &step);
    if (chroot(root) != 0) die("chroot %s", root);
    rounds("after-chroot", &after, 3);
    rounds_mutating("after-chroot-mutating", "/t", &after, 3, &step);
    if (chdir("/") != 0) die("chdir /");
    rounds_mutating("after-chroot-cwd=/", "/t", &after, 3, &step);
    return finish();
}

/* unshare DIR: the program itself enters a new mount namespace (through libc), then mounts a
 * tmpfs over a cached directory and unmounts it. */
static int mode_unshare(char **a) {
    const char *dir = a[0];
    char m[PATH_MAX], p[PATH_MAX];
    snprintf(m, sizeof m, "%s/m", dir);
    mkdir_p(dir);
    flat_build(m);
    struct paths ps = flat_paths(m);
    int step = 0;
    rounds_mutating("warm", m, &ps, 5, &step);
    if (unshare(CLONE_NEWNS) != 0) skip("unshare(CLONE_NEWNS)");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("make / private");
    if (mount("tmpfs", m, "tmpfs", 0, "size=1m") != 0) die("mount tmpfs");
    rounds("tmpfs-over", &ps, 3);
    snprintf(p, sizeof p, "%s/f0", m);
    mkfile(p, 11);
    rounds("tmpfs-with-file", &ps, 3);
    if (umount(m) != 0) die("umount");
    rounds_mutating("unmounted", m, &ps, 3, &step);
    return finish();
}

/* mountover DIR: already in a private mount namespace; mounts over cached directories and
 * files (tmpfs over a directory, a file bind-mounted over a file, a directory over a
 * directory) and unmounts them, checking after each step. */
static int mode_mountover(char **a) {
    const char *dir = a[0];
    char m[PATH_MAX], o[PATH_MAX], p[PATH_MAX], q[PATH_MAX];
    snprintf(m, sizeof m, "%s/m", dir);
    snprintf(o, sizeof o, "%s/other", dir);
    mkdir_p(dir);
    flat_build(m);
    flat_build(o);
    struct paths ps = flat_paths(m);
    int step = 0;
    rounds_mutating("warm", m, &ps, 5, &step);
    if (mount("tmpfs", m, "tmpfs", 0, "size=1m") != 0) die("mount tmpfs");
    rounds("tmpfs-over", &ps, 4);
    snprintf(p, sizeof p, "%s/f0", m);
    mkfile(p, 11);
    rounds("tmpfs-with-file", &ps, 3);
    if (umount(m) != 0) die("umount tmpfs");
    rounds_mutating("tmpfs-gone", m, &ps, 3, &step);
    snprintf(p, sizeof p, "%s/f6", o);
    snprintf(q, sizeof q, "%s/f1", m);
    if (mount(p, q, NULL, MS_BIND, NULL) != 0) die("bind file");
    rounds("file-bound", &ps, 4);
    if (umount(q) != 0) die("umount file");
    rounds_mutating("file-unbound", m, &ps, 3, &step);
    snprintf(p, sizeof p, "%s/sub", o);
    snprintf(q, sizeof q, "%s/sub", m);
    if (mount(p, q, NULL, MS_BIND, NULL) != 0) die("bind dir");
    rounds("dir-bound", &ps, 4);
    if (umount(q) != 0) die("umount dir");
    rounds_mutating("dir-unbound", m, &ps, 3, &step);
    return finish();
}

/* bindwatch DIR SRC STOP: keeps checking DIR/m while another process bind-mounts SRC over it
 * and unmounts it, until STOP exists. Every answer must be that of DIR/m unmounted, of SRC, or
 * the kernel's answer right before or after. */
static int mode_bindwatch(char **a) {
    const char *dir = a[0], *src = a[1], *stop = a[2];
    char m[PATH_MAX], p[PATH_MAX];
    snprintf(m, sizeof m, "%s/m", dir);
    mkdir_p(dir);
    flat_build(m);
    flat_build(src);
    snprintf(p, sizeof p, "%s/onlysrc", src);
    mkfile(p, 3);
    struct paths ps = flat_paths(m);
    add(&ps, "%s/onlysrc", m);
    int n = ps.n;
    struct res(*orig)[NK] = calloc(n, sizeof *orig);
    struct res(*alt)[NK] = calloc(n, sizeof *alt);
    size_t mlen = strlen(m);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < NK; k++) {
            raw_call(k, ps.p[i], &orig[i][k]);
            snprintf(p, sizeof p, "%s%s", src, ps.p[i] + mlen);
            raw_call(k, p, &alt[i][k]);
        }
    rounds("warm", &ps, 5);
    printf("ready\n");
    fflush(stdout);
    long loops = 0;
    double deadline = now() + 30;
    while (!exists(stop) && now() < deadline) {
        for (int i = 0; i < n; i++)
            for (int k = 0; k < NK; k++) {
                /* the unmounted answer, the bound one (but stx_mnt_id names the bind mount, so
                 * statx through it is only known from the kernel), or the kernel's own answer
                 * just before or after */
                struct res before, r, after;
                raw_call(k, ps.p[i], &before);
                lib_call(k, ps.p[i], &r);
                raw_call(k, ps.p[i], &after);
                n_compared++;
                if (!same(k, &r, &orig[i][k]) && !same(k, &r, &alt[i][k]) &&
                    !same(k, &r, &before) && !same(k, &r, &after))
                    mismatch("during-bind-mounts", ps.p[i], k, &r, &after);
            }
        loops++;
    }
    printf("loops %ld\n", loops);
    rounds("after", &ps, 3);
    return finish();
}

/* setuid DIR: credentials change through libc; a path in a 0700 root directory must then give
 * EACCES like the kernel, never a cached success. */
struct cred_sync {
    pthread_barrier_t b;
    struct paths *ps;
};

static void *cred_thread(void *arg) {
    struct cred_sync *s = arg;
    rounds("thread-warm-as-root", s->ps, 5);
    pthread_barrier_wait(&s->b); /* main changes its euid */
    pthread_barrier_wait(&s->b);
    rounds("thread-after-seteuid", s->ps, 3);
    pthread_barrier_wait(&s->b);
    return NULL;
}

static void expect_errno(const char *p, int want) {
    struct res r;
    raw_call(K_STAT, p, &r);
    if (r.ret != -1 || r.err != want)
        fail("the kernel gave ret=%ld errno=%d for %s, the test expects errno %d", r.ret, r.err,
             p, want);
}

static int mode_setuid(char **a) {
    const char *dir = a[0];
    char priv[PATH_MAX], pub[PATH_MAX], p[PATH_MAX];
    snprintf(priv, sizeof priv, "%s/priv", dir);
    snprintf(pub, sizeof pub, "%s/pub", dir);
    mkdir_p(dir);
    if (chmod(dir, 0755) != 0) die("chmod");
    if (mkdir(priv, 0700) != 0 && errno != EEXIST) die("mkdir priv");
    if (chmod(priv, 0700) != 0) die("chmod priv");
    mkdir_p(pub);
    snprintf(p, sizeof p, "%s/f", priv);
    mkfile(p, 4);
    char pf[PATH_MAX];
    snprintf(pf, sizeof pf, "%s", p);
    snprintf(p, sizeof p, "%s/f", pub);
    mkfile(p, 6);
    struct paths ps = {0};
    add(&ps, "%s", pf);
    add(&ps, "%s/missing", priv);
    add(&ps, "%s", priv);
    add(&ps, "%s", pub);
    add(&ps, "%s/f", pub);
    add(&ps, "%s", dir);
    struct cred_sync s = {.ps = &ps};
    pthread_barrier_init(&s.b, NULL, 2);
    pthread_t t;
    rounds("warm-as-root", &ps, 6);
    if (pthread_create(&t, NULL, cred_thread, &s) != 0) die("pthread_create");
    pthread_barrier_wait(&s.b);
    if (seteuid(65534) != 0) die("seteuid");
    expect_errno(pf, EACCES);
    pthread_barrier_wait(&s.b);
    rounds("main-after-seteuid", &ps, 3);
    pthread_barrier_wait(&s.b);
    pthread_join(t, NULL);
    if (seteuid(0) != 0) die("seteuid 0");
    rounds("back-to-root", &ps, 4);
    if (setresuid(65534, 65534, 0) != 0) die("setresuid");
    expect_errno(pf, EACCES);
    rounds("after-setresuid", &ps, 3);
    if (setresuid(0, 0, 0) != 0) die("setresuid 0");
    rounds("back-to-root-2", &ps, 3);
    if (setegid(65534) != 0 || seteuid(65534) != 0) die("setegid/seteuid");
    expect_errno(pf, EACCES);
    rounds("after-setegid-seteuid", &ps, 3);
    if (seteuid(0) != 0 || setegid(0) != 0) die("back");
    rounds("back-to-root-3", &ps, 3);
    return finish();
}

/* fsuid DIR: glibc's setfsuid changes only the calling thread's fsuid. Another thread (still
 * fsuid 0) learns a path in a 0700 root directory; the main thread (fsuid 65534) must then
 * get EACCES for it. */
struct fsuid_sync {
    pthread_barrier_t b;
    struct paths *ps;
};

static void *fsuid_thread(void *arg) {
    struct fsuid_sync *s = arg;
    pthread_barrier_wait(&s->b); /* main has set its fsuid */
    rounds("root-thread", s->ps, 6);
    pthread_barrier_wait(&s->b);
    pthread_barrier_wait(&s->b); /* main has checked */
    rounds("root-thread-again", s->ps, 3);
    return NULL;
}

static int mode_fsuid(char **a) {
    const char *dir = a[0];
    char priv[PATH_MAX], pf[PATH_MAX];
    snprintf(priv, sizeof priv, "%s/priv", dir);
    mkdir_p(dir);
    if (chmod(dir, 0755) != 0) die("chmod");
    if (mkdir(priv, 0700) != 0 && errno != EEXIST) die("mkdir priv");
    snprintf(pf, sizeof pf, "%s/f", priv);
    mkfile(pf, 4);
    struct paths ps = {0};
    add(&ps, "%s", pf);
    add(&ps, "%s/missing", priv);
    add(&ps, "%s", priv);
    add(&ps, "%s", dir);
    struct fsuid_sync s = {.ps = &ps};
    pthread_barrier_init(&s.b, NULL, 2);
    pthread_t t;
    rounds("warm-as-root", &ps, 6);
    if (pthread_create(&t, NULL, fsuid_thread, &s) != 0) die("pthread_create");
    setfsuid(65534);
    if ((int)setfsuid(-1) != 65534) die("setfsuid did not take");
    expect_errno(pf, EACCES);
    rounds("main-fsuid-nobody", &ps, 3);
    pthread_barrier_wait(&s.b);
    pthread_barrier_wait(&s.b); /* the root thread has learned everything again */
    rounds("main-fsuid-nobody-after-root-thread", &ps, 4);
    pthread_barrier_wait(&s.b);
    pthread_join(t, NULL);
    setfsuid(0);
    rounds("main-back-to-root", &ps, 3);
    return finish();
}

/* paths ROUNDS CONCURRENT P...: checks explicit paths (/proc, /sys, /dev ...). */
static int mode_paths(int argc, char **a) {
    int n = atoi(a[0]);
    concurrent = atoi(a[1]);
    struct paths ps = {0};
    for (int i = 2; i < argc; i++) add(&ps, "%s", a[i]);
    rounds("paths", &ps, n);
    return finish();
}

/* walk ROUNDS DIR...: every entry under each DIR (three levels, at most 400). */
static void walk_add(struct paths *ps, const char *dir, int depth) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) && ps->n < 400) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        add(ps, "%s/%s", dir, e->d_name);
        if (e->d_type == DT_DIR && depth < 3) walk_add(ps, ps->p[ps->n - 1], depth + 1);
    }
    closedir(d);
}

static int mode_walk(int argc, char **a) {
    int n = atoi(a[0]);
    struct paths ps = {0};
    for (int i = 1; i < argc; i++) {
        add(&ps, "%s", a[i]);
        add(&ps, "%s/missing", a[i]);
        walk_add(&ps, a[i], 1);
    }
    printf("walked %d\n", ps.n);
    rounds("walk", &ps, n);
    return finish();
}

/* print ROUNDS P...: prints every answer of the interposed calls (no comparison), for runs
 * with another preloaded library; also prints the difference from the kernel's st_size. */
static int mode_print(int argc, char **a) {
    int n = atoi(a[0]);
    for (int r = 0; r < n; r++)
        for (int i = 1; i < argc; i++)
            for (int k = 0; k < NK; k++) {
                struct res l, w;
                lib_call(k, a[i], &l);
                raw_call(k, a[i], &w);
                printf("%s %s ret=%ld errno=%d ", kname[k], a[i], l.ret, l.err);
                if (l.ret == 0)
                    for (size_t j = 0; j < ksize(k); j++) printf("%02x", l.b[j]);
                if (l.ret == 0 && w.ret == 0 && k < K_STATX)
                    printf(" size-delta=%ld", (long)(((struct stat *)l.b)->st_size -
                                                     ((struct stat *)w.b)->st_size));
                printf("\n");
            }
    return 0;
}

/* badptr DIR: bad path and buffer pointers on paths the cache already answers. */
static void bad_case(const char *label, const char *path, void *buf, size_t readable) {
    static unsigned char lb[256], rb[256];
    for (int k = 0; k < NK; k++) {
        for (int rep = 0; rep < 2; rep++) {
            int le, re;
            if (readable) memset(buf, 0x5a, readable);
            long lr = lib_callp(k, path, buf, &le);
            if (readable) memcpy(lb, buf, readable);
            if (readable) memset(buf, 0x5a, readable);
            long rr = raw_callp(k, path, buf, &re);
            if (readable) memcpy(rb, buf, readable);
            n_compared++;
            size_t cmp = readable < ksize(k) ? readable : ksize(k);
            if (lr != rr || (lr != 0 && le != re) || memcmp(lb, rb, cmp) != 0) {
                n_mismatch++;
                printf("MISMATCH %s %s: library ret=%ld errno=%d, kernel ret=%ld errno=%d%s\n",
                       label, kname[k], lr, le, rr, re,
                       memcmp(lb, rb, cmp) ? " (written bytes differ)" : "");
            }
        }
    }
}

static int mode_badptr(char **a) {
    const char *dir = a[0];
    flat_build(dir);
    struct paths ps = flat_paths(dir);
    rounds("warm", &ps, 6);
    char target[PATH_MAX];
    snprintf(target, sizeof target, "%s/f2", dir);
    size_t tl = strlen(target);
    long pg = sysconf(_SC_PAGESIZE);
    char *none = mmap(NULL, pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *ro = mmap(NULL, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *two = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (none == MAP_FAILED || ro == MAP_FAILED || two == MAP_FAILED) die("mmap");
    if (mprotect(two + pg, pg, PROT_NONE) != 0) die("mprotect");
    static unsigned char buf[256];
    /* path ending at the page end without its NUL, and one with its NUL as the last byte */
    char *unterminated = two + pg - tl;
    memcpy(unterminated, target, tl);
    char *terminated_page = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (terminated_page == MAP_FAILED || mprotect(terminated_page + pg, pg, PROT_NONE) != 0)
        die("mmap 2");
    char *terminated = terminated_page + pg - tl - 1;
    memcpy(terminated, target, tl + 1);
    for (int rep = 0; rep < 3; rep++) {
        bad_case("null-path", NULL, buf, sizeof buf);
        bad_case("prot-none-path", none, buf, sizeof buf);
        bad_case("unterminated-path-at-page-end", unterminated, buf, sizeof buf);
        bad_case("terminated-path-at-page-end", terminated, buf, sizeof buf);
        bad_case("null-buffer", target, NULL, 0);
        bad_case("prot-none-buffer", target, none, 0);
        bad_case("read-only-buffer", target, ro, 0);
        bad_case("buffer-straddling-into-prot-none", target, two + pg - 100, 100);
        bad_case("buffer-straddling-missing-path", ps.p[ps.n - 5], two + pg - 100, 100);
        bad_case("kernel-address-buffer", target, (void *)0xffff800000000000UL, 0);
        bad_case("non-canonical-path", (const char *)0x0000900000000000UL, buf, sizeof buf);
        check_all("between", &ps);
    }
    return finish();
}

/* pathrace DIR SECONDS: another thread rewrites one byte of the path while the library reads
 * it; every answer must be that of one of the two strings the path can be. */
static char race_path[PATH_MAX] __attribute__((aligned(64)));
static volatile int race_stop;
static size_t race_pos;
static char race_x, race_y;

static void *race_body(void *arg) {
    (void)arg;
    volatile char *c = (volatile char *)&race_path[race_pos];
    while (!race_stop) {
        *c = race_x;
        *c = race_y;
    }
    *c = race_x;
    return NULL;
}

static void race_phase(const char *label, const char *alt1, const char *alt2, double secs) {
    struct res r1[NK], r2[NK];
    for (int k = 0; k < NK; k++) {
        raw_call(k, alt1, &r1[k]);
        raw_call(k, alt2, &r2[k]);
    }
    pthread_t t;
    race_stop = 0;
    if (pthread_create(&t, NULL, race_body, NULL) != 0) die("pthread_create");
    double end = now() + secs;
    long calls = 0;
    while (now() < end) {
        for (int k = 0; k < NK; k++) {
            struct res r;
            lib_call(k, race_path, &r);
            n_compared++;
            calls++;
            if (!same(k, &r, &r1[k]) && !same(k, &r, &r2[k]))
                mismatch(label, alt1, k, &r, &r1[k]);
        }
    }
    race_stop = 1;
    pthread_join(t, NULL);
    printf("%s calls %ld\n", label, calls);
}

static int mode_pathrace(char **a) {
    const char *dir = a[0];
    double secs = atof(a[1]);
    char pa[PATH_MAX], pb[PATH_MAX], da[PATH_MAX];
    mkdir_p(dir);
    snprintf(da, sizeof da, "%s/a", dir);
    mkdir_p(da);
    snprintf(pb, sizeof pb, "%s/b", dir);
    mkdir_p(pb);
    snprintf(pa, sizeof pa, "%s/a/file", dir);
    mkfile(pa, 10);
    snprintf(pb, sizeof pb, "%s/b/file", dir);
    mkfile(pb, 20);
    snprintf(race_path, sizeof race_path, "%s", pa);
    struct paths ps = {0};
    add(&ps, "%s", pa);
    add(&ps, "%s", pb);
    add(&ps, "%s", da);
    rounds("warm", &ps, 6);
    race_pos = strlen(dir) + 1;
    race_x = 'a';
    race_y = 'b';
    race_phase("flip-a-b", pa, pb, secs / 2);
    race_pos = strlen(dir) + 2;
    race_x = '/';
    race_y = '\0';
    race_phase("flip-slash-nul", pa, da, secs / 2);
    return finish();
}

/* deep DIR: a chain of directories `d` down to PATH_MAX and beyond. */
static int mode_deep(char **a) {
    const char *dir = a[0];
    double t_start = now();
    mkdir_p(dir);
    static char path[8192];
    snprintf(path, sizeof path, "%s", dir);
    size_t len = strlen(path);
    int top = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (top < 0) die("open %s", dir);
    int fd = dup(top);
    struct paths ps = {0};
    int level = 0;
    /* up to an absolute length of 4093: "/d" per level */
    while (len + 2 <= 4093) {
        if (mkdirat(fd, "d", 0755) != 0 && errno != EEXIST) die("mkdirat level %d", level);
        if (level % 100 == 0) {
            int f = openat(fd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            if (f < 0) die("create f at level %d", level);
            struct timespec t[2] = {{FUTURE_ATIME, 0}, {0, UTIME_OMIT}};
            futimens(f, t);
            close(f);
            add(&ps, "%s/f", path);
            add(&ps, "%s", path);
        }
        int nfd = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (nfd < 0) die("open level %d", level);
        close(fd);
        fd = nfd;
        memcpy(path + len, "/d", 3);
        len += 2;
        level++;
    }
    /* a file whose absolute path is exactly 4095 bytes, and one byte more */
    char name[300];
    size_t nl = 4095 - len - 1;
    memset(name, 'n', nl);
    name[nl] = 0;
    int f = openat(fd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (f < 0) die("create long name");
    close(f);
    add(&ps, "%s/%s", path, name);
    add(&ps, "%s/%sx", path, name);
    add(&ps, "%s/missing", path);
    add(&ps, "%s", path);
    printf("levels %d deepest-length %zu\n", level, len);
    /* deeper than PATH_MAX, reachable only relative to a descriptor */
    int beyond = 0;
    for (; beyond < 100; beyond++) {
        if (mkdirat(fd, "d", 0755) != 0 && errno != EEXIST) die("mkdirat beyond");
        if (beyond % 10 == 0) {
            int g = openat(fd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            if (g >= 0) close(g);
        }
        int nfd = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (nfd < 0) die("open beyond");
        close(fd);
        fd = nfd;
    }
    printf("built %.2f\n", now() - t_start);
    rounds("absolute", &ps, 3);
    printf("absolute %.2f\n", now() - t_start);
    for (int i = 0; i < 40; i++) check_kind("deepest", ps.p[ps.n - 4], K_STAT);
    rounds("absolute-again", &ps, 2);
    if (fchdir(fd) != 0) die("fchdir deep");
    struct paths rel = {0};
    const char *names[] = {".", "..", "d", "f", "../f", "../../..", "d/d", "missing", "../d"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) add(&rel, "%s", names[i]);
    rounds("beyond-path-max", &rel, 3);
    printf("checked %.2f\n", now() - t_start);
    if (fchdir(top) != 0) die("fchdir top");
    close(fd);
    /* remove the chain bottom-up, one descriptor at a time */
    int cur = openat(top, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int depth = 0;
    while (cur >= 0) {
        int n = openat(cur, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (n < 0) break;
        close(cur);
        cur = n;
        depth++;
    }
    while (cur >= 0 && depth >= 0) {
        unlinkat(cur, "f", 0);
        unlinkat(cur, name, 0);
        int parent = openat(cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        close(cur);
        if (parent < 0) break;
        unlinkat(parent, "d", AT_REMOVEDIR);
        cur = parent;
        depth--;
        if (depth < 0) break;
    }
    if (cur >= 0 && cur != top) close(cur);
    printf("removed %.2f\n", now() - t_start);
    return finish();
}

/* bigdir DIR N: one directory with N entries. */
static int mode_bigdir(char **a) {
    const char *dir = a[0];
    long n = atol(a[1]);
    mkdir_p(dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) die("open %s", dir);
    char name[64], p[PATH_MAX];
    struct timespec t[2] = {{FUTURE_ATIME, 0}, {0, UTIME_OMIT}};
    for (long i = 0; i < n; i++) {
        snprintf(name, sizeof name, "e%06ld", i);
        if (mknodat(dfd, name, S_IFREG | 0644, 0) != 0 && errno != EEXIST) die("mknod %s", name);
        if (utimensat(dfd, name, t, 0) != 0) die("utimensat %s", name);
    }
    double t0 = now();
    for (int r = 0; r < 2; r++)
        for (long i = 0; i < n; i++) {
            snprintf(p, sizeof p, "%s/e%06ld", dir, i);
            check_kind("bigdir", p, K_STAT);
            if (i % 10 == 0) {
                snprintf(p, sizeof p, "%s/x%06ld", dir, i);
                check_kind("bigdir-missing", p, K_LSTAT);
            }
        }
    for (long i = 0; i < n; i += 97) {
        snprintf(p, sizeof p, "%s/e%06ld", dir, i);
        for (int r = 0; r < 4; r++) check("bigdir-sample", p);
    }
    printf("entries %ld seconds %.2f\n", n, now() - t0);
    for (long i = 0; i < n; i++) {
        snprintf(name, sizeof name, "e%06ld", i);
        unlinkat(dfd, name, 0);
    }
    close(dfd);
    return finish();
}

/* manypaths DIR N FILES: N distinct names, FILES of them existing, each looked up twice. */
static int mode_manypaths(char **a) {
    const char *dir = a[0];
    long n = atol(a[1]), files = atol(a[2]);
    mkdir_p(dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) die("open %s", dir);
    char name[64], p[PATH_MAX];
    struct timespec t[2] = {{FUTURE_ATIME, 0}, {0, UTIME_OMIT}};
    for (long i = 0; i < files; i++) {
        snprintf(name, sizeof name, "p%ld", i * (n / files));
        if (mknodat(dfd, name, S_IFREG | 0644, 0) != 0 && errno != EEXIST) die("mknod");
        if (utimensat(dfd, name, t, 0) != 0) die("utimensat");
    }
    double t0 = now();
    for (int r = 0; r < 2; r++) {
        for (long i = 0; i < n; i++) {
            snprintf(p, sizeof p, "%s/p%ld", dir, i);
            check_kind("manypaths", p, r ? K_STAT : K_LSTAT);
        }
        printf("pass %d %.2f\n", r, now() - t0);
    }
    /* a working set that fits the arena: answered from the cache again */
    long hot = files < 300 ? files : 300;
    for (int r = 0; r < 4; r++)
        for (long i = 0; i < hot; i++) {
            snprintf(p, sizeof p, "%s/p%ld", dir, i * (n / files));
            check_kind("manypaths-existing", p, K_STAT);
            check_kind("manypaths-existing", p, K_STATX);
        }
    close(dfd);
    return finish();
}

/* The library's descriptors, found through /proc/self/fd. */
struct libfd {
    int fd;
    const char *kind;
};

static int library_fds(struct libfd *out, int max) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) die("opendir");
    int n = 0, self = dirfd(d);
    struct dirent *e;
    char p[64], target[PATH_MAX];
    while ((e = readdir(d)) && n < max) {
        if (e->d_name[0] == '.') continue;
        int fd = atoi(e->d_name);
        if (fd == self || fd < 3) continue;
        snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
        ssize_t l = readlink(p, target, sizeof target - 1);
        if (l < 0) continue;
        target[l] = 0;
        const char *kind = NULL;
        if (!strcmp(target, "anon_inode:inotify"))
            kind = "inotify";
        else if (!strcmp(target, "anon_inode:[eventpoll]"))
            kind = "epoll";
        else if (!strcmp(target, "anon_inode:[io_uring]"))
            kind = "io_uring";
        else if (l >= 10 && !strcmp(target + l - 10, "/mountinfo"))
            kind = "mountinfo";
        if (kind) out[n++] = (struct libfd){fd, kind};
    }
    closedir(d);
    return n;
}

/* closeall DIR HOW FILLUP: after the cache is active the program closes every descriptor
 * above 2 (HOW: loop, closefrom, close_range) and opens new ones (FILLUP: until the library's
 * old numbers are the program's files and a pipe with data), or (HOW: dup2) puts its own pipe
 * and files at the library's numbers; then it keeps checking and changing the tree, and its own
 * descriptors must be untouched (open, offset 0, the pipe's data unread). */
static int mode_closeall(char **a) {
    const char *dir = a[0], *how = a[1];
    int fillup = atoi(a[2]);
    flat_build(dir);
    struct paths ps = flat_paths(dir);
    int step = 0;
    rounds_mutating("warm", dir, &ps, 6, &step);
    struct libfd lf[64];
    int nl = library_fds(lf, 64), maxfd = -1, inofd = -1;
    for (int i = 0; i < nl; i++) {
        printf("libfd %d %s\n", lf[i].fd, lf[i].kind);
        if (lf[i].fd > maxfd) maxfd = lf[i].fd;
        if (!strcmp(lf[i].kind, "inotify")) inofd = lf[i].fd;
    }
    fflush(stdout);
    static int mine[4096];
    int nm = 0, pipe_r = -1, pipe_w = -1;
    char f0[PATH_MAX];
    snprintf(f0, sizeof f0, "%s/f7", dir);
    int limit = fillup ? maxfd : 8;
    if (!strcmp(how, "loop")) {
        for (int fd = 3; fd < 1024; fd++) close(fd);
    } else if (!strcmp(how, "closefrom")) {
        closefrom(3);
    } else if (!strcmp(how, "close_range")) {
        if (close_range(3, ~0U, 0) != 0) die("close_range");
    } else {
        /* dup2: the program puts its own pipe (with data) and files at the library's numbers */
        for (int i = 0; i < nl; i++) {
            if (!strcmp(lf[i].kind, "inotify")) {
                int pp[2];
                if (pipe(pp) != 0) die("pipe");
                if (write(pp[1], "hello", 5) != 5) die("write pipe");
                if (dup2(pp[0], lf[i].fd) != lf[i].fd) die("dup2 pipe");
                close(pp[0]);
                pipe_r = lf[i].fd;
                pipe_w = pp[1];
            } else {
                int fd = open(f0, O_RDONLY);
                if (fd < 0 || dup2(fd, lf[i].fd) != lf[i].fd) die("dup2 file");
                close(fd);
                mine[nm++] = lf[i].fd;
            }
        }
        limit = -1;
    }
    for (;;) {
        int probe = open("/dev/null", O_RDONLY);
        if (probe < 0) die("open /dev/null");
        close(probe);
        if (probe > limit || nm >= 4000) break;
        if (probe == inofd && pipe_r < 0) {
            int pp[2];
            if (pipe(pp) != 0) die("pipe");
            pipe_r = pp[0];
            pipe_w = pp[1];
            if (write(pipe_w, "hello", 5) != 5) die("write pipe");
            continue;
        }
        int fd = open(f0, O_RDONLY);
        if (fd < 0) die("open %s (%d open)", f0, nm);
        mine[nm++] = fd;
    }
    printf("reopened %d files, pipe %d/%d\n", nm, pipe_r, pipe_w);
    fflush(stdout);
    /* a name never seen before, looked up until the library would learn it: no cached answer
     * (and so no barrier) comes first */
    char fresh_first[PATH_MAX];
    snprintf(fresh_first, sizeof fresh_first, "%s/sub/first-after-close", dir);
    for (int i = 0; i < 4; i++) check("first-after-close", fresh_first);
    rounds_mutating("after-close", dir, &ps, 5, &step);
    struct paths fresh = {0};
    for (int i = 0; i < 20; i++) add(&fresh, "%s/sub/fresh%d", dir, i);
    rounds("fresh-names", &fresh, 3);
    for (int i = 0; i < nm; i++) {
        if (fcntl(mine[i], F_GETFD) < 0) {
            fail("the program's descriptor %d was closed behind its back", mine[i]);
            continue;
        }
        off_t off = lseek(mine[i], 0, SEEK_CUR);
        if (off != 0) fail("the program's descriptor %d moved to offset %ld", mine[i], (long)off);
    }
    if (pipe_r >= 0) {
        char got[8] = {0};
        int fl = fcntl(pipe_r, F_GETFL);
        if (fl < 0) {
            fail("the program's pipe %d was closed behind its back", pipe_r);
        } else {
            fcntl(pipe_r, F_SETFL, fl | O_NONBLOCK);
            ssize_t r = read(pipe_r, got, 5);
            if (r != 5 || memcmp(got, "hello", 5) != 0)
                fail("the program's pipe %d lost its data (read %zd bytes)", pipe_r, r);
        }
    }
    return finish();
}

/* rlimit DIR: RLIMIT_NOFILE is lowered before the first stat so that the program has exactly
 * one free descriptor; the program's own single open must still succeed afterwards. */
static int mode_rlimit(char **a) {
    const char *dir = a[0];
    flat_build(dir);
    struct paths ps = flat_paths(dir);
    char f0[PATH_MAX];
    snprintf(f0, sizeof f0, "%s/f0", dir);
    /* the limit bounds descriptor numbers: lowest free + 1 leaves the program exactly one */
    int n = fcntl(0, F_DUPFD, 0);
    if (n < 0) die("F_DUPFD");
    close(n);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) die("getrlimit");
    rl.rlim_cur = n + 1;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) die("setrlimit");
    /* no changes between rounds: they would need descriptors of their own */
    rounds("limited", &ps, 6);
    int fd = open(f0, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("open after the first stats: %s (limit %d)", strerror(errno), n + 1);
    int fd2 = open(f0, O_RDONLY | O_CLOEXEC);
    int e2 = errno;
    if (fd2 >= 0) {
        printf("second open unexpectedly succeeded (fd %d)\n", fd2);
        close(fd2);
    } else if (e2 != EMFILE) {
        fail("second open: %s, expected EMFILE", strerror(e2));
    }
    rounds("limited-with-file-open", &ps, 2);
    if (fd >= 0) close(fd);
    rounds("limited-closed", &ps, 2);
    fd = open(f0, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("open again: %s", strerror(errno));
    else close(fd);
    printf("lowest-free %d limit %ld\n", n, (long)rl.rlim_cur);
    return finish();
}

/* fds DIR: lists the library's descriptors (number, kind, close-on-exec) with a second thread
 * alive that has its own barrier descriptors. */
static pthread_barrier_t fds_barrier;
static struct paths fds_ps;

static void *fds_thread(void *arg) {
    (void)arg;
    rounds("thread", &fds_ps, 6);
    pthread_barrier_wait(&fds_barrier);
    pthread_barrier_wait(&fds_barrier);
    return NULL;
}

static int mode_fds(char **a) {
    const char *dir = a[0];
    flat_build(dir);
    fds_ps = flat_paths(dir);
    rounds("main", &fds_ps, 6);
    pthread_barrier_init(&fds_barrier, NULL, 2);
    pthread_t t;
    if (pthread_create(&t, NULL, fds_thread, NULL) != 0) die("pthread_create");
    pthread_barrier_wait(&fds_barrier);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    printf("rlimit %ld\n", (long)rl.rlim_cur);
    struct libfd lf[64];
    int nl = library_fds(lf, 64);
    for (int i = 0; i < nl; i++) {
        int fl = fcntl(lf[i].fd, F_GETFD);
        printf("libfd %d %s cloexec=%d\n", lf[i].fd, lf[i].kind, fl >= 0 && (fl & FD_CLOEXEC));
    }
    pthread_barrier_wait(&fds_barrier);
    pthread_join(t, NULL);
    return finish();
}

/* ---- fuse MNT ROUNDS: a minimal FUSE server in a thread; its file's size changes without
 * any inotify event, so only answers from the kernel can be right. ---- */
static int fuse_fd = -1;
static _Atomic uint64_t fuse_size = 1, fuse_mtime = 1000;

static void fuse_attr_of(uint64_t node, struct fuse_attr *at) {
    memset(at, 0, sizeof *at);
    at->ino = node;
    at->blksize = 4096;
    if (node == 1) {
        at->mode = S_IFDIR | 0755;
        at->nlink = 2;
        at->mtime = 500;
    } else {
        at->mode = S_IFREG | 0644;
        at->nlink = 1;
        at->size = fuse_size;
        at->mtime = fuse_mtime;
        at->ctime = fuse_mtime;
        at->atime = FUTURE_ATIME;
    }
}

static void fuse_reply(uint64_t unique, int error, const void *data, size_t len) {
    struct fuse_out_header h = {.len = sizeof h + (error ? 0 : len), .error = error,
                                .unique = unique};
    struct iovec iov[2] = {{&h, sizeof h}, {(void *)data, error ? 0 : len}};
    if (writev(fuse_fd, iov, error || !len ? 1 : 2) < 0 && errno != ENOENT) {
        /* the request may have been interrupted: nothing to do */
    }
}

static void *fuse_server(void *arg) {
    (void)arg;
    static char buf[1 << 20];
    for (;;) {
        ssize_t n = read(fuse_fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR || errno == ENOENT || errno == EAGAIN) continue;
            return NULL; /* ENODEV: unmounted */
        }
        if ((size_t)n < sizeof(struct fuse_in_header)) continue;
        struct fuse_in_header *in = (struct fuse_in_header *)buf;
        const char *body = buf + sizeof *in;
        switch (in->opcode) {
        case FUSE_INIT: {
            struct fuse_init_out out;
            memset(&out, 0, sizeof out);
            out.major = FUSE_KERNEL_VERSION;
            out.minor = FUSE_KERNEL_MINOR_VERSION;
            out.max_readahead = 0;
            out.max_write = 65536;
            out.time_gran = 1;
            out.max_background = 16;
            out.congestion_threshold = 12;
            fuse_reply(in->unique, 0, &out, sizeof out);
            break;
        }
        case FUSE_LOOKUP: {
            if (in->nodeid == 1 && !strcmp(body, "file")) {
                struct fuse_entry_out out;
                memset(&out, 0, sizeof out);
                out.nodeid = 2;
                out.generation = 1;
                fuse_attr_of(2, &out.attr);
                fuse_reply(in->unique, 0, &out, sizeof out);
            } else {
                fuse_reply(in->unique, -ENOENT, NULL, 0);
            }
            break;
        }
        case FUSE_GETATTR: {
            struct fuse_attr_out out;
            memset(&out, 0, sizeof out);
            fuse_attr_of(in->nodeid, &out.attr);
            fuse_reply(in->unique, 0, &out, sizeof out);
            break;
        }
        case FUSE_FORGET:
        case FUSE_BATCH_FORGET:
        case FUSE_INTERRUPT:
            break;
        case FUSE_DESTROY:
            fuse_reply(in->unique, 0, NULL, 0);
            return NULL;
        default:
            fuse_reply(in->unique, -ENOSYS, NULL, 0);
            break;
        }
    }
}

static int mode_fuse(char **a) {
    const char *mnt = a[0];
    int n = atoi(a[1]);
    char opts[256], p[PATH_MAX];
    mkdir_p(mnt);
    fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (fuse_fd < 0) skip("open /dev/fuse");
    snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other",
             fuse_fd);
    if (mount("hostile", mnt, "fuse.hostile", MS_NOSUID | MS_NODEV, opts) != 0)
        skip("mount fuse");
    pthread_t t;
    if (pthread_create(&t, NULL, fuse_server, NULL) != 0) die("pthread_create");
    struct paths ps = {0};
    add(&ps, "%s", mnt);
    add(&ps, "%s/file", mnt);
    add(&ps, "%s/missing", mnt);
    add(&ps, "%s/file/x", mnt);
    for (int r = 0; r < n; r++) {
        fuse_size = 1 + r * 7;
        fuse_mtime = 1000 + r;
        check_all("fuse", &ps);
        check_all("fuse", &ps);
    }
    snprintf(p, sizeof p, "%s", mnt);
    if (umount2(p, MNT_DETACH) != 0) fail("umount fuse: %s", strerror(errno));
    return finish();
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: hostile_probe MODE ARGS...\n");
        return 2;
    }
    const char *m = argv[1];
    char **a = argv + 2;
    int na = argc - 2;
    struct {
        const char *name;
        int nargs;
        int (*fn)(char **);
    } modes[] = {
        {"build", 1, mode_build},       {"flat", 3, mode_flat},
        {"child-check", 1, mode_child_check}, {"tree", 3, mode_tree},
        {"instances", 1, mode_instances}, {"instances-late", 1, mode_instances_late},
        {"overflow", 1, mode_overflow},
        {"fork", 1, mode_fork},         {"vfork", 1, mode_vfork},
        {"spawn", 1, mode_spawn},       {"clone", 1, mode_clone},
        {"threads", 2, mode_threads},   {"signals", 3, mode_signals},
        {"chdir", 1, mode_chdir},       {"cwdgone", 1, mode_cwdgone},
        {"chroot", 1, mode_chroot},     {"unshare", 1, mode_unshare},
        {"mountover", 1, mode_mountover}, {"bindwatch", 3, mode_bindwatch},
        {"setuid", 1, mode_setuid},     {"fsuid", 1, mode_fsuid},
        {"badptr", 1, mode_badptr},     {"pathrace", 2, mode_pathrace},
        {"deep", 1, mode_deep},         {"bigdir", 2, mode_bigdir},
        {"manypaths", 3, mode_manypaths}, {"closeall", 3, mode_closeall},
        {"rlimit", 1, mode_rlimit},     {"fds", 1, mode_fds},
        {"fuse", 2, mode_fuse},
    };
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++)
        if (!strcmp(m, modes[i].name)) {
            if (na < modes[i].nargs) {
                fprintf(stderr, "%s takes %d arguments\n", m, modes[i].nargs);
                return 2;
            }
            return modes[i].fn(a);
        }
    if (!strcmp(m, "paths") && na >= 3) return mode_paths(na, a);
    if (!strcmp(m, "walk") && na >= 2) return mode_walk(na, a);
    if (!strcmp(m, "print") && na >= 2) return mode_print(na, a);
    fprintf(stderr, "unknown mode %s\n", m);
    return 2;
}
