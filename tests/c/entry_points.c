/* entry_points.c: calls every one of the 17 stat entry points on a fixed set of paths, descriptors,
 * flags and masks, and prints every returned field, one line per call.
 *
 * Usage: entry_points PASSES   run in the test tree's work/ directory (see common::make_tree);
 *                              repeats everything PASSES times (later passes may be cache hits)
 *        entry_points count    calls entry point number i (0-based, contract order) i+1 times
 * Both end with `calls NAME N` lines: the probe's own count of its calls.
 */
#include "probe.h"

static unsigned char buf[STATX_BYTES] __attribute__((aligned(16)));

static char abs_work[4096], abs_file[4200], abs_link[4200], abs_missing[4200], abs_dir_slash[4200];

static int file_fd, dir_fd, opath_fd, link_opath_fd, closed_fd;

static const char *fd_name(int fd) {
    static char other[32];
    if (fd == AT_FDCWD) return "AT_FDCWD";
    if (fd == file_fd) return "file_fd";
    if (fd == dir_fd) return "dir_fd";
    if (fd == opath_fd) return "opath_fd";
    if (fd == link_opath_fd) return "link_opath_fd";
    if (fd == closed_fd) return "closed_fd";
    snprintf(other, sizeof other, "%d", fd);
    return other;
}

/* One call, labelled with the arguments the entry point takes. */
static void one(enum entry e, int vers, int fd, const char *path, int flags, unsigned mask) {
    char label[4600];
    int n = 0;
    if (entry_is_legacy(e)) n += snprintf(label + n, sizeof label - n, "v=%d ", vers);
    if (entry_takes_dirfd(e) || entry_takes_fd(e))
        n += snprintf(label + n, sizeof label - n, "fd=%s ", fd_name(fd));
    if (entry_takes_path(e)) n += snprintf(label + n, sizeof label - n, "\"%s\" ", path);
    if (entry_takes_dirfd(e)) n += snprintf(label + n, sizeof label - n, "flags=%x ", flags);
    if (e == E_STATX) n += snprintf(label + n, sizeof label - n, "mask=%x ", mask);
    if (n > 0) label[n - 1] = '\0';
    else label[0] = '\0';
    struct call c = {e, vers, fd, path, flags, mask, buf};
    call_and_print(label, &c, entry_buf_bytes(e));
}

static const enum entry path_entries[] = {E_STAT, E_STAT64, E_LSTAT, E_LSTAT64,
                                          E_XSTAT, E_XSTAT64, E_LXSTAT, E_LXSTAT64};
static const enum entry at_entries[] = {E_FSTATAT, E_FSTATAT64, E_FXSTATAT, E_FXSTATAT64};
static const enum entry fd_entries[] = {E_FSTAT, E_FSTAT64, E_FXSTAT, E_FXSTAT64};
#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *paths[] = {
    "file", "empty", "hardlink", "dir", "dir/inner", "inner", "dir/sub", "link", "dirlink",
    "dangling", "missing", "fifo", "file/x", "file/", "file/.", "file/..", "dir/", "dir/.",
    "dir/..", "link/", "dirlink/", "dirlink/..", "dangling/", "missing/..", "/", "/..", ".", "..",
    "./file", "dir/../file", "dir//inner", "chain40", "chain41", "/dev/null",
    abs_work, abs_file, abs_link, abs_missing, abs_dir_slash,
};

static void pass(void) {
    const int dirfds[] = {AT_FDCWD, dir_fd};
    const int at_flags[] = {0, AT_SYMLINK_NOFOLLOW, AT_NO_AUTOMOUNT,
                            AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT};

    /* stat, lstat and the legacy path forms. */
    for (size_t p = 0; p < LEN(paths); p++)
        for (size_t e = 0; e < LEN(path_entries); e++) one(path_entries[e], 1, 0, paths[p], 0, 0);

    /* The *at forms: relative to the cwd and to a directory descriptor, with each flag. */
    for (size_t p = 0; p < LEN(paths); p++)
        for (size_t d = 0; d < LEN(dirfds); d++)
            for (size_t f = 0; f < LEN(at_flags); f++)
                for (size_t e = 0; e < LEN(at_entries); e++)
                    one(at_entries[e], 1, dirfds[d], paths[p], at_flags[f], 0);

    /* AT_EMPTY_PATH: the descriptor itself, or an ordinary path when one is given. */
    const int empty_fds[] = {file_fd, dir_fd, AT_FDCWD, opath_fd, link_opath_fd, -1, closed_fd};
    const int empty_flags[] = {AT_EMPTY_PATH, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW};
    for (size_t d = 0; d < LEN(empty_fds); d++)
        for (size_t f = 0; f < LEN(empty_flags); f++) {
            for (size_t e = 0; e < LEN(at_entries); e++)
                one(at_entries[e], 1, empty_fds[d], "", empty_flags[f], 0);
            one(E_STATX, 0, empty_fds[d], "", empty_flags[f], STATX_BASIC_STATS);
        }
    for (size_t d = 0; d < LEN(dirfds); d++) {
        for (size_t e = 0; e < LEN(at_entries); e++)
            one(at_entries[e], 1, dirfds[d], "link", AT_EMPTY_PATH, 0);
        one(E_STATX, 0, dirfds[d], "link", AT_EMPTY_PATH, STATX_BASIC_STATS);
    }

    /* statx over every path with the common masks. */
    const unsigned common_masks[] = {STATX_BASIC_STATS, STATX_ALL};
    for (size_t p = 0; p < LEN(paths); p++)
        for (size_t d = 0; d < LEN(dirfds); d++)
            for (int f = 0; f < 2; f++)
                for (size_t m = 0; m < LEN(common_masks); m++)
                    one(E_STATX, 0, dirfds[d], paths[p], f ? AT_SYMLINK_NOFOLLOW : 0,
                        common_masks[m]);

    /* statx: every flag with every mask on a few kinds of file. */
    const char *some[] = {"file", "dir", "link", "dangling", "missing", "/", "dirlink/",
                          "/dev/null", "fifo", "file/"};
    const int sx_flags[] = {0,
                            AT_SYMLINK_NOFOLLOW,
                            AT_STATX_FORCE_SYNC,
                            AT_STATX_DONT_SYNC,
                            AT_NO_AUTOMOUNT,
                            AT_EMPTY_PATH,
                            AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC | AT_NO_AUTOMOUNT};
    const unsigned masks[] = {STATX_BASIC_STATS, STATX_ALL,      STATX_TYPE,
                              0,                 STATX_BTIME,    STATX_MNT_ID,
                              STATX_DIOALIGN,    STATX_MNT_ID_UNIQUE, STATX_TYPE | STATX_SIZE,
                              STATX_MTIME,       0xffffU,        0x7fffffffU};
    for (size_t p = 0; p < LEN(some); p++)
        for (size_t f = 0; f < LEN(sx_flags); f++)
            for (size_t m = 0; m < LEN(masks); m++)
                one(E_STATX, 0, AT_FDCWD, some[p], sx_flags[f], masks[m]);

    /* The fstat forms on descriptors good and bad. */
    const int fds[] = {file_fd, dir_fd, opath_fd, link_opath_fd, -1, 9999, closed_fd, AT_FDCWD};
    for (size_t d = 0; d < LEN(fds); d++)
        for (size_t e = 0; e < LEN(fd_entries); e++) one(fd_entries[e], 1, fds[d], NULL, 0, 0);

    /* The legacy version argument: glibc accepts 0 and 1 on x86_64 and fails anything else with
     * EINVAL before looking at the other arguments. */
    const int versions[] = {0, 1, 2, 3, -1};
    const char *vpaths[] = {"file", "missing", "link"};
    const enum entry legacy_path[] = {E_XSTAT, E_XSTAT64, E_LXSTAT, E_LXSTAT64};
    for (size_t v = 0; v < LEN(versions); v++) {
        for (size_t e = 0; e < LEN(legacy_path); e++)
            for (size_t p = 0; p < LEN(vpaths); p++)
                one(legacy_path[e], versions[v], 0, vpaths[p], 0, 0);
        for (int e = E_FXSTAT; e <= E_FXSTAT64; e++) {
            one(e, versions[v], file_fd, NULL, 0, 0);
            one(e, versions[v], -1, NULL, 0, 0);
        }
        for (int e = E_FXSTATAT; e <= E_FXSTATAT64; e++) {
            one(e, versions[v], AT_FDCWD, "file", 0, 0);
            one(e, versions[v], AT_FDCWD, "missing", 0, 0);
            one(e, versions[v], dir_fd, "inner", AT_SYMLINK_NOFOLLOW, 0);
            one(e, versions[v], AT_FDCWD, "link", 0x12345678, 0);
        }
    }
}

/* Entry point i is called i+1 times: a statically known count per name. */
static void count_calls(void) {
    for (int e = 0; e < E_COUNT; e++)
        for (int i = 0; i <= e; i++) {
            struct call c = {e, 1, entry_takes_dirfd(e) ? AT_FDCWD : file_fd, "file", 0,
                             STATX_BASIC_STATS, buf};
            int err;
            if (invoke(&c, &err) != 0) {
                printf("%s failed: errno %d\n", entry_name[e], err);
                exit(1);
            }
        }
}

static int open_or_die(const char *path, int flags) {
    int fd = open(path, flags);
    if (fd < 0) {
        perror(path);
        exit(2);
    }
    return fd;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    file_fd = open_or_die("file", O_RDONLY | O_CLOEXEC);
    dir_fd = open_or_die("dir", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    opath_fd = open_or_die("file", O_PATH | O_CLOEXEC);
    link_opath_fd = open_or_die("link", O_PATH | O_NOFOLLOW | O_CLOEXEC);
    closed_fd = open_or_die("file", O_RDONLY | O_CLOEXEC);
    close(closed_fd);

    if (argc == 2 && strcmp(argv[1], "count") == 0) {
        count_calls();
        print_call_counts(entry_calls);
        return 0;
    }
    int passes = argc == 2 ? atoi(argv[1]) : 1;
    if (!getcwd(abs_work, sizeof abs_work)) {
        perror("getcwd");
        return 2;
    }
    snprintf(abs_file, sizeof abs_file, "%s/file", abs_work);
    snprintf(abs_link, sizeof abs_link, "%s/link", abs_work);
    snprintf(abs_missing, sizeof abs_missing, "%s/missing", abs_work);
    snprintf(abs_dir_slash, sizeof abs_dir_slash, "%s/dir/", abs_work);
    for (int i = 0; i < passes; i++) {
        printf("pass %d\n", i);
        pass();
    }
    print_call_counts(entry_calls);
    return 0;
}
