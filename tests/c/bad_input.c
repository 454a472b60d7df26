/* bad_input.c: every malformed argument a program can pass, through every entry point that takes
 * it, printing the return value, errno and the buffer afterwards, one line per call.
 *
 * Usage: bad_input PASSES [GROUP]   run in the test tree's work/ directory (see
 * common::make_tree); GROUP selects one group of cases (pointers, flags, dirfds, empty, lengths,
 * shapes, legacy), default all.
 * Ends with `calls NAME N` lines.
 */
#include "probe.h"

#include <sys/mman.h>

struct bcase {
    const char *group;
    const char *label;
    int fd;           /* dirfd of the *at forms */
    int ffd;          /* fd of the fstat forms */
    const char *path; /* NULL allowed */
    int flags;
    unsigned mask;
    void *buf;       /* NULL allowed */
    size_t readable; /* bytes of buf the probe may read back afterwards */
    int writable;    /* whether the probe may fill buf with a pattern first */
    int vers;        /* legacy version argument */
    int for_fd;      /* also run through the fstat forms */
};

#define MAX_CASES 128
static struct bcase cases[MAX_CASES];
static int n_cases;

static unsigned char normal[STATX_BYTES + 16] __attribute__((aligned(16)));
static int file_fd;

static const char *group;

static struct bcase *add(const char *label, int fd, const char *path, int flags, unsigned mask) {
    if (n_cases == MAX_CASES) abort();
    struct bcase *c = &cases[n_cases++];
    *c = (struct bcase){group, label, fd, file_fd, path, flags, mask, normal, sizeof normal,
                        1, 1, 0};
    return c;
}

static void *map_pages(size_t pages, int prot) {
    void *p = mmap(NULL, pages * 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    return p;
}

static char *repeat(char c, size_t n) {
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* `prefix` + slashes + `name`, exactly `len` bytes (not counting the NUL). */
static char *path_of_length(const char *prefix, const char *name, size_t len) {
    size_t fixed = strlen(prefix) + strlen(name);
    if (len <= fixed) abort();
    char *s = malloc(len + 1);
    strcpy(s, prefix);
    memset(s + strlen(prefix), '/', len - fixed);
    strcpy(s + len - strlen(name), name);
    if (strlen(s) != len) abort();
    return s;
}

static void run_case(const struct bcase *bc, enum entry e) {
    size_t full = entry_buf_bytes(e);
    size_t readable = bc->readable < full ? bc->readable : full;
    struct call c = {e, bc->vers, entry_takes_fd(e) ? bc->ffd : bc->fd, bc->path, bc->flags, bc->mask, bc->buf};
    int err;
    if (bc->writable && readable) memset(bc->buf, 0xa5, readable);
    int r = invoke(&c, &err);
    print_result(bc->label, &c, r, err, readable);
}

int main(int argc, char **argv) {
    int passes = argc >= 2 ? atoi(argv[1]) : 1;
    const char *only = argc >= 3 ? argv[2] : NULL;
    setvbuf(stdout, NULL, _IOLBF, 0); /* a crash leaves every earlier line in the output */
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return 2;
    char *abs_file = malloc(strlen(cwd) + 8);
    sprintf(abs_file, "%s/file", cwd);
    file_fd = open("file", O_RDONLY | O_CLOEXEC);
    if (file_fd < 0) return 2;

    /* Pages: rw | none | rw | none | rw | none, and a read-only page. */
    char *pages = map_pages(6, PROT_READ | PROT_WRITE);
    for (int i = 1; i < 6; i += 2) mprotect(pages + i * 4096, 4096, PROT_NONE);
    char *none = pages + 4096;
    char *unterminated = pages + 4096 - 4; /* "file", its NUL would be on the next page */
    memcpy(unterminated, "file", 4);
    char *page_of_a = pages + 2 * 4096; /* a whole page without a NUL */
    memset(page_of_a, 'a', 4096);
    char *terminated = pages + 5 * 4096 - 5; /* "file" and its NUL end at the page end */
    memcpy(terminated, "file", 5);
    unsigned char *rdonly = map_pages(1, PROT_READ);
    unsigned char *straddle = map_pages(2, PROT_READ | PROT_WRITE);
    mprotect(straddle + 4096, 4096, PROT_NONE);
    straddle += 4096 - 64; /* 64 writable bytes, then a fault */
    unsigned char *misaligned = normal + 1;

    struct bcase *c;
    group = "pointers"; /* NULL and inaccessible pointers. */
    add("null-path", AT_FDCWD, NULL, 0, STATX_BASIC_STATS);
    add("null-path-empty-path-file-fd", file_fd, NULL, AT_EMPTY_PATH, STATX_BASIC_STATS);
    add("null-path-empty-path-cwd", AT_FDCWD, NULL, AT_EMPTY_PATH, STATX_BASIC_STATS);
    c = add("null-buf-file", AT_FDCWD, "file", 0, STATX_BASIC_STATS);
    c->buf = NULL, c->readable = 0, c->for_fd = 1;
    c = add("null-buf-missing", AT_FDCWD, "missing", 0, STATX_BASIC_STATS);
    c->buf = NULL, c->readable = 0;
    c = add("rust-std-probe-statx(0,NULL,0,STATX_ALL,NULL)", 0, NULL, 0, STATX_ALL);
    c->buf = NULL, c->readable = 0;
    add("path-in-none-page", AT_FDCWD, none, 0, STATX_BASIC_STATS);
    add("unterminated-at-page-end", AT_FDCWD, unterminated, 0, STATX_BASIC_STATS);
    add("page-without-nul", AT_FDCWD, page_of_a, 0, STATX_BASIC_STATS);
    add("terminated-at-page-end", AT_FDCWD, terminated, 0, STATX_BASIC_STATS);
    c = add("buf-in-none-page-file", AT_FDCWD, "file", 0, STATX_BASIC_STATS);
    c->buf = none, c->readable = 0, c->for_fd = 1;
    c = add("buf-in-none-page-missing", AT_FDCWD, "missing", 0, STATX_BASIC_STATS);
    c->buf = none, c->readable = 0;
    c = add("read-only-buf-file", AT_FDCWD, "file", 0, STATX_BASIC_STATS);
    c->buf = rdonly, c->readable = 4096, c->writable = 0, c->for_fd = 1;
    c = add("read-only-buf-missing", AT_FDCWD, "missing", 0, STATX_BASIC_STATS);
    c->buf = rdonly, c->readable = 4096, c->writable = 0;
    c = add("straddling-buf-file", AT_FDCWD, "file", 0, STATX_BASIC_STATS);
    c->buf = straddle, c->readable = 64, c->for_fd = 1;
    c = add("straddling-buf-missing", AT_FDCWD, "missing", 0, STATX_BASIC_STATS);
    c->buf = straddle, c->readable = 64;
    c = add("misaligned-buf-file", AT_FDCWD, "file", 0, STATX_BASIC_STATS);
    c->buf = misaligned, c->readable = STATX_BYTES, c->for_fd = 1;

    group = "flags";
    add("bad-flags-0x12345678", AT_FDCWD, "file", 0x12345678, STATX_BASIC_STATS);
    add("bad-flags-missing", AT_FDCWD, "missing", 0x12345678, STATX_BASIC_STATS);
    add("flags-minus-1", AT_FDCWD, "file", -1, STATX_BASIC_STATS);
    add("flags-AT_REMOVEDIR", AT_FDCWD, "file", AT_REMOVEDIR, STATX_BASIC_STATS);
    add("force-sync-and-dont-sync", AT_FDCWD, "file",
        AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC, STATX_BASIC_STATS);
    add("mask-reserved", AT_FDCWD, "file", 0, STATX__RESERVED);
    add("mask-reserved-missing", AT_FDCWD, "missing", 0, STATX__RESERVED | STATX_BASIC_STATS);
    add("mask-all-ones", AT_FDCWD, "file", 0, 0xffffffffU);

    group = "dirfds";
    c = add("dirfd-minus-5-relative", -5, "file", 0, STATX_BASIC_STATS);
    c->ffd = -5, c->for_fd = 1;
    add("dirfd-minus-5-absolute", -5, abs_file, 0, STATX_BASIC_STATS);
    c = add("dirfd-9999-relative", 9999, "file", 0, STATX_BASIC_STATS);
    c->ffd = 9999, c->for_fd = 1;
    add("dirfd-9999-absolute", 9999, abs_file, 0, STATX_BASIC_STATS);
    add("dirfd-9999-relative-missing", 9999, "missing", 0, STATX_BASIC_STATS);
    add("dirfd-file-relative", file_fd, "x", 0, STATX_BASIC_STATS);
    add("dirfd-file-dot", file_fd, ".", 0, STATX_BASIC_STATS);
    add("dirfd-file-absolute", file_fd, abs_file, 0, STATX_BASIC_STATS);
    add("dirfd-minus-5-empty-path", -5, "", AT_EMPTY_PATH, STATX_BASIC_STATS);
    c = add("fd-AT_FDCWD", AT_FDCWD, "file", 0, STATX_BASIC_STATS);
    c->ffd = AT_FDCWD, c->for_fd = 1;

    group = "empty";
    add("empty-path", AT_FDCWD, "", 0, STATX_BASIC_STATS);
    add("empty-path-AT_EMPTY_PATH-cwd", AT_FDCWD, "", AT_EMPTY_PATH, STATX_BASIC_STATS);
    add("empty-path-AT_EMPTY_PATH-file-fd", file_fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS);
    add("empty-path-file-fd", file_fd, "", 0, STATX_BASIC_STATS);

    group = "lengths"; /* A path of 4096 bytes without its NUL is too long; a component of 256. */
    size_t lens[] = {4094, 4095, 4096, 5000};
    static char labels[8][64];
    for (int i = 0; i < 4; i++) {
        snprintf(labels[i], sizeof labels[i], "path-of-%zu-bytes", lens[i]);
        add(labels[i], AT_FDCWD, path_of_length(cwd, "file", lens[i]), 0, STATX_BASIC_STATS);
        snprintf(labels[4 + i], sizeof labels[4 + i], "path-of-%zu-bytes-missing", lens[i]);
        add(labels[4 + i], AT_FDCWD, path_of_length(".", "missing", lens[i]), 0,
            STATX_BASIC_STATS);
    }
    char *a255 = repeat('a', 255), *a256 = repeat('a', 256);
    char *dir255 = malloc(300), *dir256 = malloc(300), *mid255 = malloc(300), *mid256 = malloc(300);
    sprintf(dir255, "dir/%s", a255);
    sprintf(dir256, "dir/%s", a256);
    sprintf(mid255, "dir/%s/x", a255);
    sprintf(mid256, "dir/%s/x", a256);
    add("component-255", AT_FDCWD, a255, 0, STATX_BASIC_STATS);
    add("component-256", AT_FDCWD, a256, 0, STATX_BASIC_STATS);
    add("dir-component-255", AT_FDCWD, dir255, 0, STATX_BASIC_STATS);
    add("dir-component-256", AT_FDCWD, dir256, 0, STATX_BASIC_STATS);
    add("middle-component-255", AT_FDCWD, mid255, 0, STATX_BASIC_STATS);
    add("middle-component-256", AT_FDCWD, mid256, 0, STATX_BASIC_STATS);

    group = "shapes"; /* Symlink depth and path shapes. */
    add("40-symlinks", AT_FDCWD, "chain40", 0, STATX_BASIC_STATS);
    add("41-symlinks", AT_FDCWD, "chain41", 0, STATX_BASIC_STATS);
    add("41-symlinks-nofollow", AT_FDCWD, "chain41", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS);
    add("41-symlinks-trailing-slash", AT_FDCWD, "chain41/", 0, STATX_BASIC_STATS);
    add("missing/..", AT_FDCWD, "missing/..", 0, STATX_BASIC_STATS);
    add("/missing/..", AT_FDCWD, "/statcache-missing/..", 0, STATX_BASIC_STATS);
    add("file/.", AT_FDCWD, "file/.", 0, STATX_BASIC_STATS);
    add("file/..", AT_FDCWD, "file/..", 0, STATX_BASIC_STATS);
    add("file/", AT_FDCWD, "file/", 0, STATX_BASIC_STATS);
    add("dangling/", AT_FDCWD, "dangling/", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS);
    add("missing/x", AT_FDCWD, "missing/x", 0, STATX_BASIC_STATS);

    group = "legacy"; /* The version argument is checked before anything else. */
    c = add("bad-version-null-path", AT_FDCWD, NULL, 0, STATX_BASIC_STATS);
    c->vers = -1;
    c = add("bad-version-null-buf", AT_FDCWD, "file", 0, STATX_BASIC_STATS);
    c->vers = 3, c->buf = NULL, c->readable = 0, c->for_fd = 1;
    c = add("version-0-bad-flags", AT_FDCWD, "file", 0x12345678, STATX_BASIC_STATS);
    c->vers = 0;

    for (int p = 0; p < passes; p++) {
        printf("pass %d\n", p);
        for (int i = 0; i < n_cases; i++)
            if (!only || strcmp(only, cases[i].group) == 0)
                for (int e = 0; e < E_COUNT; e++)
                    if (entry_takes_path(e) || cases[i].for_fd) run_case(&cases[i], e);
    }
    print_call_counts(entry_calls);
    return 0;
}
