/* uaccess_copy.c: drives the library's fault-tolerant copy routines directly, through the test
 * hooks statcache_selftest_copy_path(src, out) and statcache_selftest_copy_to_user(dst, len)
 * (length or 0 / -1 fault / -2 too long / -3 not installed).
 *
 * Every line is "case result"; the test compares them with the expected answers (what the
 * kernel gives for the same pointer: EFAULT <-> -1, ENAMETOOLONG <-> -2). Lines starting with
 * FAIL are self-checks that went wrong. Without the library the hooks are missing: the probe
 * prints "no-selftest" and exits 0.
 *
 * Usage: uaccess_copy [cases|race|speed]
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef int (*copy_path_fn)(const char *src, char *out);
typedef int (*copy_to_user_fn)(void *dst, size_t len);

static copy_path_fn copy_path;
static copy_to_user_fn copy_out;
static long page;
static char out[4096];

/* A read-write region of `pages` pages followed by one PROT_NONE page; returns the guard. */
static char *guarded_region(int pages) {
    char *p = mmap(NULL, (pages + 1) * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    if (mprotect(p + pages * page, page, PROT_NONE) != 0) {
        perror("mprotect");
        exit(2);
    }
    return p + pages * page;
}

/* What the kernel says for the same pointer, as our result codes. */
static int kernel_says(const char *path) {
    struct stat st;
    errno = 0;
    int r = stat(path, &st);
    if (r == 0 || errno == ENOENT || errno == ENOTDIR || errno == EACCES)
        return 0;
    if (errno == EFAULT)
        return -1;
    if (errno == ENAMETOOLONG)
        return -2;
    return -100 - errno;
}

static void check_path(const char *label, const char *src, int want) {
    int r = copy_path(src, out);
    printf("%s %d\n", label, r);
    if (r >= 0 && (r != (int)strnlen(out, 4096) || out[r] != 0))
        printf("FAIL %s: stored string does not match the length\n", label);
    if (r >= 0 && memcmp(out, src, r + 1) != 0)
        printf("FAIL %s: stored bytes differ from the source\n", label);
    int k = kernel_says(src);
    if ((r >= 0 ? 0 : r) != k)
        printf("FAIL %s: kernel says %d, copy says %d\n", label, k, r);
    if (r != want)
        printf("FAIL %s: want %d\n", label, want);
}

static void cases(void) {
    char *guard, *rw;

    check_path("short", "/usr/lib/os-release", 19);
    check_path("empty", "", 0);
    check_path("null", NULL, -1);
    check_path("low-address", (const char *)16, -1);

    guard = guarded_region(2);
    check_path("prot-none", guard, -1);
    check_path("vsyscall-page", (const char *)0xffffffffff600000UL, -1);
    check_path("kernel-half", (const char *)0xffff800000000000UL, -1);
    check_path("non-canonical", (const char *)0x0000800000000000UL, -1);
    check_path("top", (const char *)-1L, -1);

    /* Strings ending exactly at the page end: every length 1..40 and some longer, NUL last. */
    int bad = 0;
    for (int len = 0; len < 300; len++) {
        char *s = guard - len - 1;
        memset(s, 'a', len);
        s[len] = 0;
        int r = copy_path(s, out);
        if (r != len) {
            printf("FAIL nul-at-page-end len %d: %d\n", len, r);
            bad++;
        }
        /* The same bytes without the NUL run into the guard page. */
        s[len] = 'b';
        r = copy_path(s, out);
        if (r != -1 || kernel_says(s) != -1) {
            printf("FAIL unterminated-at-page-end len %d: %d\n", len, r);
            bad++;
        }
    }
    printf("page-end-lengths %s\n", bad ? "bad" : "ok");

    /* 4095 bytes + NUL fit; 4096 bytes without NUL are too long, whatever follows. Slashes,
     * so that the kernel resolves the path ("/") instead of refusing a long component. */
    rw = guard - 2 * page;
    for (int misalign = 0; misalign < 9; misalign++) {
        char *s = rw + misalign;
        memset(s, '/', 4095);
        s[4095] = 0;
        int r = copy_path(s, out);
        if (r != 4095 || kernel_says(s) != 0)
            printf("FAIL max-length misalign %d: %d\n", misalign, r);
        s[4095] = '/';
        s[4096] = 0;
        r = copy_path(s, out);
        if (r != -2 || kernel_says(s) != -2)
            printf("FAIL too-long misalign %d: %d\n", misalign, r);
    }
    printf("max-length ok-if-no-FAIL\n");
    /* Exactly 4096 bytes, no NUL, ending at the guard: too long, not a fault (the kernel stops
     * at 4096 bytes too). One byte fewer: the 4096th byte is in the guard page: a fault. */
    memset(guard - 4096, '/', 4096);
    check_path("too-long-at-guard", guard - 4096, -2);
    check_path("unterminated-4095-at-guard", guard - 4095, -1);

    /* copy_to_user */
    char buf[300];
    memset(buf, 0, sizeof buf);
    int r = copy_out(buf, 144);
    printf("write-ok %d\n", r);
    int pattern_ok = 1;
    for (int i = 0; i < 144; i++)
        pattern_ok &= (unsigned char)buf[i] == 0xA5;
    if (!pattern_ok || buf[144] != 0)
        printf("FAIL write-ok: wrong bytes\n");
    printf("write-null %d\n", copy_out(NULL, 144));
    printf("write-zero-length-null %d\n", copy_out(NULL, 0));
    printf("write-prot-none %d\n", copy_out(guard, 144));
    printf("write-vsyscall %d\n", copy_out((void *)0xffffffffff600000UL, 8));
    char *ro = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("write-read-only %d\n", copy_out(ro, 144));
    char *text = (char *)&cases;
    printf("write-text %d\n", copy_out(text, 16));
    /* Straddling into the guard page: fails; the bytes before the guard may be written. */
    char *straddle = guard - 100;
    memset(straddle, 0, 100);
    printf("write-straddle %d\n", copy_out(straddle, 144));
    printf("write-straddle-large %d\n", copy_out(guard - 3000, 8192));

    /* SIGBUS: a shared mapping of a file two pages long, truncated to one page. */
    int fd = memfd_create("statcache-uaccess", 0);
    if (fd < 0 || ftruncate(fd, 2 * page) != 0) {
        perror("memfd");
        exit(2);
    }
    char *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    memset(m, 'e', 2 * page);
    if (ftruncate(fd, page) != 0) {
        perror("ftruncate");
        exit(2);
    }
    printf("bus-read %d\n", copy_path(m + page, out));
    printf("bus-read-into %d\n", copy_path(m + page - 10, out));
    m[page - 1] = 0;
    printf("bus-read-nul-before %d\n", copy_path(m + page - 10, out));
    printf("bus-write %d\n", copy_out(m + page, 16));
    printf("bus-write-straddle %d\n", copy_out(m + page - 8, 16));

    /* Nothing of this reached the program's own dispositions. */
    struct sigaction sa;
    sigaction(SIGSEGV, NULL, &sa);
    printf("sigsegv-after %s flags=%#x\n", sa.sa_handler == SIG_DFL ? "SIG_DFL" : "changed", sa.sa_flags);
    sigaction(SIGBUS, NULL, &sa);
    printf("sigbus-after %s flags=%#x\n", sa.sa_handler == SIG_DFL ? "SIG_DFL" : "changed", sa.sa_flags);
}

/* A writer flips one byte of a string between NUL and 'x' while copies run: every copy must be
 * self-consistent (its length is where the NUL it stored is), as when each byte is read once. */
static volatile char shared[64] __attribute__((aligned(64)));
static volatile int stop;

static void *flipper(void *arg) {
    (void)arg;
    while (!stop) {
        shared[13] = 0;
        shared[13] = 'x';
        shared[29] = 0;
        shared[29] = 'y';
    }
    return NULL;
}

static void race(void) {
    memset((char *)shared, 'a', 40);
    shared[40] = 0;
    pthread_t t;
    pthread_create(&t, NULL, flipper, NULL);
    int lens[64] = {0}, bad = 0;
    for (int i = 0; i < 2000000; i++) {
        int r = copy_path((const char *)shared + 3, out);
        if (r < 0 || r > 37 || out[r] != 0 || (int)strlen(out) != r)
            bad++;
        else
            lens[r]++;
    }
    stop = 1;
    pthread_join(t, NULL);
    printf("race bad=%d\n", bad);
    printf("race lengths-seen %s\n", lens[37] ? "ok" : "none-full");
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void speed(void) {
    const char *path = "/usr/lib/x86_64-linux-gnu/libc.so";
    int n = 5000000;
    copy_path(path, out);
    double t0 = now();
    for (int i = 0; i < n; i++)
        copy_path(path + (i & 1), out);
    double t1 = now();
    char buf[256];
    for (int i = 0; i < n; i++)
        copy_out(buf, 144);
    double t2 = now();
    printf("speed copy_path(%zu bytes) %.1f ns, copy_to_user(144) %.1f ns\n", strlen(path), (t1 - t0) / n * 1e9,
           (t2 - t1) / n * 1e9);
}

int main(int argc, char **argv) {
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore);
    alarm(120);
    setvbuf(stdout, NULL, _IOLBF, 0);
    page = sysconf(_SC_PAGESIZE);
    copy_path = (copy_path_fn)dlsym(RTLD_DEFAULT, "statcache_selftest_copy_path");
    copy_out = (copy_to_user_fn)dlsym(RTLD_DEFAULT, "statcache_selftest_copy_to_user");
    if (!copy_path || !copy_out) {
        printf("no-selftest\n");
        return 0;
    }
    const char *what = argc > 1 ? argv[1] : "cases";
    if (!strcmp(what, "cases"))
        cases();
    else if (!strcmp(what, "race"))
        race();
    else if (!strcmp(what, "speed"))
        speed();
    else {
        fprintf(stderr, "unknown case %s\n", what);
        return 2;
    }
    return 0;
}
