/* ctor_early.c: a shared library whose constructor calls stat, lstat, statx and the legacy
 * __xstat, before or after statcache's own constructor depending on the load order (see
 * tests/tests/constructor.rs). ctor_main calls the same from its .preinit_array, which runs before
 * any library constructor, and again from main. */
#include "probe.h"

static unsigned char buf[STATX_BYTES] __attribute__((aligned(16)));

/* Calls the four entry points on a few paths relative to the working directory; prints each. */
void early_report(const char *phase) {
    static const char *paths[] = {"/", "file", "link", "dangling", "missing", "dir/inner"};
    const enum entry entries[] = {E_STAT, E_LSTAT, E_STATX, E_XSTAT};
    char label[64];
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++)
        for (size_t e = 0; e < sizeof entries / sizeof entries[0]; e++) {
            struct call c = {entries[e], 1, AT_FDCWD, paths[p], 0, STATX_BASIC_STATS | STATX_BTIME,
                             buf};
            snprintf(label, sizeof label, "%s \"%s\"", phase, paths[p]);
            call_and_print(label, &c, entry_buf_bytes(c.e));
        }
    fflush(stdout);
}

/* The calls made so far, per entry point. */
const unsigned long *early_counts(void) { return entry_calls; }

__attribute__((constructor)) static void early_constructor(void) { early_report("constructor"); }
