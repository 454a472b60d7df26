/* hostile_liar.c: a preload library that changes what the stat family reports (st_size and
 * stx_size one larger for regular files), as fakeroot-like libraries change ownership. Loaded
 * after libstatcache.so in LD_PRELOAD, it sits between statcache and libc: statcache must pass
 * every call through to it. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>

typedef int (*path_fn)(const char *, void *);
typedef int (*at_fn)(int, const char *, void *, int);
typedef int (*statx_fn)(int, const char *, int, unsigned, struct statx *);

#define NEXT(name, type)                                                                          \
    static type next_fn;                                                                          \
    if (!next_fn) next_fn = (type)dlsym(RTLD_NEXT, name)

static void lie(int r, struct stat *b) {
    if (r == 0 && b && S_ISREG(b->st_mode)) b->st_size += 1;
}

int stat(const char *p, struct stat *b) {
    NEXT("stat", path_fn);
    int r = next_fn(p, b);
    lie(r, b);
    return r;
}

int stat64(const char *p, struct stat64 *b) {
    NEXT("stat64", path_fn);
    int r = next_fn(p, b);
    lie(r, (struct stat *)b);
    return r;
}

int lstat(const char *p, struct stat *b) {
    NEXT("lstat", path_fn);
    int r = next_fn(p, b);
    lie(r, b);
    return r;
}

int lstat64(const char *p, struct stat64 *b) {
    NEXT("lstat64", path_fn);
    int r = next_fn(p, b);
    lie(r, (struct stat *)b);
    return r;
}

int fstatat(int d, const char *p, struct stat *b, int fl) {
    NEXT("fstatat", at_fn);
    int r = next_fn(d, p, b, fl);
    lie(r, b);
    return r;
}

int fstatat64(int d, const char *p, struct stat64 *b, int fl) {
    NEXT("fstatat64", at_fn);
    int r = next_fn(d, p, b, fl);
    lie(r, (struct stat *)b);
    return r;
}

int statx(int d, const char *p, int fl, unsigned mask, struct statx *b) {
    NEXT("statx", statx_fn);
    int r = next_fn(d, p, fl, mask, b);
    if (r == 0 && S_ISREG(b->stx_mode) && (b->stx_mask & STATX_SIZE)) b->stx_size += 1;
    return r;
}
