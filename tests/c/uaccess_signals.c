/* uaccess_signals.c: a program's own SIGSEGV/SIGBUS handling must behave exactly as without the
 * library, whose fault handler owns the real dispositions once installed.
 *
 * Usage: uaccess_signals SCENARIO before|after
 *   before: the program sets its handlers, then the library's handler is installed (on the
 *           first copy-routine call); after: the library's handler is installed first.
 *
 * Standard output must be identical with and without the library (the status too, for the
 * scenarios that die). Where the library is loaded, copy-routine faults are interleaved with the
 * program's own faults through the test hook statcache_selftest_copy_path; a wrong answer there
 * prints a FAIL line, so it shows as a difference. Standard error says whether the hook
 * installed the handler ("selftest: installed").
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stddef.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <ucontext.h>
#include <unistd.h>

/* sigset, sigignore and siginterrupt are deprecated, not gone; bsd_signal is no longer declared. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
/* Deliberate: act == oact, and a stack overflow. */
#pragma GCC diagnostic ignored "-Wrestrict"
#pragma GCC diagnostic ignored "-Winfinite-recursion"
extern __sighandler_t bsd_signal(int, __sighandler_t);
extern int __sigaction(int, const struct sigaction *, struct sigaction *);

#define BAD ((volatile char *)16)
#define LOOPS 1000

typedef int (*copy_path_fn)(const char *src, char *out);
static copy_path_fn copy_path;
static char copy_buf[4096];
static void *glibc_restorer;
static long page;

static sigjmp_buf env;
static volatile sig_atomic_t caught, last_code;
static void *volatile last_addr;

static void fault(void) { *BAD = 1; }

/* Faults at a known instruction: the handler of the ucontext scenario skips it. */
extern char probe_insn[], probe_resume[];
extern int probe_load(const volatile char *p);
__asm__(".text\n"
        ".globl probe_load\n.type probe_load,@function\nprobe_load:\n"
        ".globl probe_insn\nprobe_insn:\n  movzbl (%rdi), %eax\n"
        ".globl probe_resume\nprobe_resume:\n  ret\n");

static void h_plain(int sig) {
    (void)sig;
    caught++;
    siglongjmp(env, 1);
}

static void h_info(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    caught++;
    last_code = si->si_code;
    last_addr = si->si_addr;
    if (si->si_signo != sig)
        printf("FAIL si_signo %d for %d\n", si->si_signo, sig);
    siglongjmp(env, 1);
}

static void h_other(int sig) { (void)sig; }
static void h_alt(int sig, siginfo_t *si, void *uc);

static const char *name_of(void *h) {
    if (h == SIG_DFL) return "SIG_DFL";
    if (h == SIG_IGN) return "SIG_IGN";
    if (h == SIG_HOLD) return "SIG_HOLD";
    if (h == SIG_ERR) return "SIG_ERR";
    if (h == (void *)h_plain) return "h_plain";
    if (h == (void *)h_info) return "h_info";
    if (h == (void *)h_other) return "h_other";
    if (h == (void *)h_alt) return "h_alt";
    return "unknown";
}

static const char *restorer_class(void *r) {
    if (!r) return "null";
    if (r == glibc_restorer) return "glibc";
    return "other";
}

static unsigned long mask_word(const sigset_t *s) { return *(const unsigned long *)s; }

/* Prints a signal's action as sigaction reports it, and whether the padding after sa_flags,
 * which glibc never writes, was left alone. */
static void describe(const char *label, int sig) {
    struct sigaction sa;
    memset(&sa, 0xcc, sizeof sa);
    errno = 0;
    int r = sigaction(sig, NULL, &sa);
    const unsigned char *p = (const unsigned char *)&sa;
    int pad = p[0x8c] == 0xcc && p[0x8d] == 0xcc && p[0x8e] == 0xcc && p[0x8f] == 0xcc;
    printf("%s: r=%d errno=%d handler=%s flags=%#x mask=%#lx restorer=%s pad=%s\n", label, r, errno,
           name_of((void *)sa.sa_handler), (unsigned)sa.sa_flags, mask_word(&sa.sa_mask),
           restorer_class((void *)sa.sa_restorer), pad ? "kept" : "written");
}

/* Where the library is loaded: a copy from NULL must report a fault, a copy of a good path its
 * length. Prints nothing when right, so the output matches the run without the library. */
static void copy_checks(const char *where, char *buf) {
    if (!copy_path) return;
    int r = copy_path(NULL, buf);
    if (r != -1) printf("FAIL copy fault in %s: %d\n", where, r);
    r = copy_path("/some/path", buf);
    if (r != 10) printf("FAIL copy in %s: %d\n", where, r);
}

static void install_now(const char *when) {
    if (!copy_path || strcmp(when, "after") != 0) return;
    int r = copy_path("x", copy_buf);
    fprintf(stderr, "selftest: %s (%d)\n", r == 1 ? "installed" : "not installed", r);
}

static void report_install(void) {
    if (!copy_path) return;
    int r = copy_path("x", copy_buf);
    fprintf(stderr, "selftest: %s (%d)\n", r == 1 ? "installed" : "not installed", r);
}

static void set(int sig, void *h, int flags, unsigned long mask) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = h;
    sa.sa_flags = flags;
    *(unsigned long *)&sa.sa_mask = mask;
    if (sigaction(sig, &sa, NULL) != 0) printf("FAIL sigaction: %s\n", strerror(errno));
}

#define BIT(s) (1UL << ((s)-1))

/* Catches its own fault LOOPS times, interleaved with copy faults. */
static void catch_loop(const char *label) {
    caught = 0;
    for (int i = 0; i < LOOPS; i++) {
        if (sigsetjmp(env, 1) == 0) fault();
        if ((i & 7) == 0) copy_checks(label, copy_buf);
    }
    printf("%s: caught %d\n", label, (int)caught);
}

static int catch_with(const char *api, const char *when) {
    install_now(when);
    void *prev = NULL;
    if (!strcmp(api, "sigaction")) {
        set(SIGSEGV, h_plain, 0, 0);
    } else if (!strcmp(api, "siginfo")) {
        set(SIGSEGV, h_info, SA_SIGINFO, 0);
    } else if (!strcmp(api, "signal")) {
        prev = signal(SIGSEGV, h_plain);
    } else if (!strcmp(api, "bsd_signal")) {
        prev = bsd_signal(SIGSEGV, h_plain);
    } else if (!strcmp(api, "sigset")) {
        prev = sigset(SIGSEGV, h_plain);
    } else {
        return 2;
    }
    printf("previous: %s\n", name_of(prev));
    report_install();
    describe("installed", SIGSEGV);
    catch_loop(api);
    if (!strcmp(api, "siginfo"))
        printf("last si_code=%d si_addr=%p\n", (int)last_code, last_addr);
    describe("after", SIGSEGV);
    /* And the library's copy faults still work after the program's handler is gone. */
    set(SIGSEGV, SIG_DFL, 0, 0);
    copy_checks("after reset", copy_buf);
    describe("reset", SIGSEGV);
    return 0;
}

/* sysv_signal: one-shot, so the first fault is caught and the second kills. */
static int sysv(const char *when) {
    install_now(when);
    printf("previous: %s\n", name_of(sysv_signal(SIGSEGV, h_plain)));
    describe("installed", SIGSEGV);
    if (sigsetjmp(env, 1) == 0) fault();
    printf("caught %d\n", (int)caught);
    describe("after one", SIGSEGV);
    copy_checks("sysv", copy_buf);
    fflush(stdout);
    fault();
    printf("survived\n");
    return 0;
}

static int die(const char *when) {
    install_now(when);
    copy_checks("die", copy_buf);
    describe("before", SIGSEGV);
    fflush(stdout);
    fault();
    printf("survived\n");
    return 0;
}

static int memfd_page_past_eof(char **m) {
    int fd = memfd_create("uaccess-bus", 0);
    if (fd < 0 || ftruncate(fd, page) != 0) return -1;
    *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return *m == MAP_FAILED ? -1 : 0;
}

static int bus(const char *when, int with_handler) {
    char *m;
    install_now(when);
    if (memfd_page_past_eof(&m) != 0) {
        perror("memfd");
        return 2;
    }
    if (with_handler) {
        set(SIGBUS, h_info, SA_SIGINFO, 0);
        for (int i = 0; i < 100; i++) {
            if (sigsetjmp(env, 1) == 0) m[page + 5] = 1;
            if (copy_path && copy_path(m + page, copy_buf) != -1) printf("FAIL bus copy\n");
        }
        printf("bus caught %d code=%d addr-ok=%d\n", (int)caught, (int)last_code, last_addr == m + page + 5);
        describe("sigbus", SIGBUS);
        return 0;
    }
    describe("sigbus", SIGBUS);
    fflush(stdout);
    m[page + 5] = 1;
    printf("survived\n");
    return 0;
}

/* The values sigaction reports for every way of setting the action. */
static int query(const char *when) {
    install_now(when);
    describe("initial segv", SIGSEGV);
    describe("initial bus", SIGBUS);
    set(SIGSEGV, h_info, SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESETHAND | 0x400 | 0x20000000 | SA_NOCLDSTOP,
        BIT(SIGUSR1) | BIT(SIGKILL) | BIT(SIGSTOP) | BIT(40) | BIT(64));
    describe("sigaction flags", SIGSEGV);
    report_install();
    printf("signal returns %s\n", name_of((void *)signal(SIGSEGV, h_plain)));
    describe("signal", SIGSEGV);
    printf("siginterrupt %d\n", siginterrupt(SIGSEGV, 1));
    describe("siginterrupt 1", SIGSEGV);
    printf("signal returns %s\n", name_of((void *)signal(SIGSEGV, h_other)));
    describe("signal after siginterrupt", SIGSEGV);
    printf("siginterrupt %d\n", siginterrupt(SIGSEGV, 0));
    describe("siginterrupt 0", SIGSEGV);
    printf("bsd_signal returns %s\n", name_of((void *)bsd_signal(SIGSEGV, h_plain)));
    printf("ssignal returns %s\n", name_of((void *)ssignal(SIGSEGV, h_other)));
    describe("ssignal", SIGSEGV);
    printf("sysv_signal returns %s\n", name_of((void *)sysv_signal(SIGSEGV, h_plain)));
    describe("sysv_signal", SIGSEGV);
    printf("sigset returns %s\n", name_of((void *)sigset(SIGSEGV, h_other)));
    describe("sigset", SIGSEGV);
    printf("sigset hold returns %s\n", name_of((void *)sigset(SIGSEGV, SIG_HOLD)));
    printf("sigset hold again returns %s\n", name_of((void *)sigset(SIGSEGV, SIG_HOLD)));
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    printf("blocked %d\n", sigismember(&cur, SIGSEGV));
    printf("sigset returns %s\n", name_of((void *)sigset(SIGSEGV, h_plain)));
    sigprocmask(SIG_BLOCK, NULL, &cur);
    printf("blocked %d\n", sigismember(&cur, SIGSEGV));
    describe("sigset after hold", SIGSEGV);
    /* Reading and writing the same struct (act == oact), and re-installing what was read. */
    struct sigaction sa;
    sigaction(SIGSEGV, NULL, &sa);
    sa.sa_flags |= SA_ONSTACK;
    struct sigaction *alias = &sa;
    printf("same struct r=%d\n", sigaction(SIGSEGV, alias, alias));
    printf("  old handler=%s flags=%#x\n", name_of((void *)sa.sa_handler), (unsigned)sa.sa_flags);
    sigaction(SIGSEGV, &sa, NULL);
    describe("re-installed", SIGSEGV);
    /* __sigaction, glibc's other name. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h_plain;
    printf("__sigaction r=%d\n", __sigaction(SIGBUS, &sa, NULL));
    describe("__sigaction bus", SIGBUS);
    /* Errno is left alone on success. */
    errno = 4321;
    sigaction(SIGSEGV, NULL, &sa);
    printf("errno kept %d\n", errno == 4321);
    copy_checks("query", copy_buf);
    /* Last: SIG_IGN through sigignore (the library hands the dispositions back). */
    printf("sigignore %d\n", sigignore(SIGBUS));
    describe("ignored bus", SIGBUS);
    describe("segv after ignore", SIGSEGV);
    sigaction(SIGBUS, NULL, &sa);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGBUS, &sa, NULL);
    describe("bus back to default", SIGBUS);
    return 0;
}

/* Errors are libc's, errno included. */
static int errors(const char *when) {
    install_now(when);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h_plain;
    int sigs[] = {0, -1, 65, 32, 33, SIGKILL, SIGSTOP, 64, SIGSEGV, SIGBUS};
    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        int s = sigs[i];
        errno = 0;
        int r1 = sigaction(s, &sa, NULL);
        int e1 = errno;
        errno = 0;
        int r2 = sigaction(s, NULL, &old);
        int e2 = errno;
        errno = 0;
        void *r3 = (void *)signal(s, h_plain);
        int e3 = errno;
        errno = 0;
        void *r4 = (void *)sysv_signal(s, h_plain);
        int e4 = errno;
        errno = 0;
        void *r5 = (void *)sigset(s, h_plain);
        int e5 = errno;
        errno = 0;
        int r6 = siginterrupt(s, 1);
        int e6 = errno;
        printf("sig %d: sigaction %d/%d read %d/%d signal %s/%d sysv %s/%d sigset %s/%d siginterrupt %d/%d\n", s, r1,
               e1, r2, e2, name_of(r3), e3, name_of(r4), e4, name_of(r5), e5, r6, e6);
    }
    void *h;
    int r, e;
    errno = 0;
    h = (void *)signal(SIGSEGV, SIG_ERR);
    e = errno;
    printf("signal SIG_ERR %s/%d\n", name_of(h), e);
    errno = 0;
    h = (void *)sysv_signal(SIGBUS, SIG_ERR);
    e = errno;
    printf("sysv_signal SIG_ERR %s/%d\n", name_of(h), e);
    errno = 0;
    r = sigignore(0);
    e = errno;
    printf("sigignore 0 %d/%d\n", r, e);
    errno = 0;
    r = sigaction(SIGSEGV, NULL, NULL);
    e = errno;
    printf("both null %d/%d\n", r, e);
    describe("segv", SIGSEGV);
    describe("bus", SIGBUS);
    copy_checks("errors", copy_buf);
    return 0;
}

/* Bad act/oact pointers: glibc reads act and writes oact itself, so they fault in the program,
 * after the change for oact. */
static int badptr(const char *when) {
    install_now(when);
    char *guard = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) + page;
    mprotect(guard, page, PROT_NONE);
    set(SIGSEGV, h_info, SA_SIGINFO, 0);
    report_install();
    struct sigaction good_action, *good = &good_action;
    memset(good, 0, sizeof *good);
    good->sa_handler = h_plain;
    /* act fully in the guard page: faults before any change. */
    if (sigsetjmp(env, 1) == 0) sigaction(SIGSEGV, (struct sigaction *)guard, NULL);
    printf("bad act: caught %d addr-ok %d\n", (int)caught, last_addr == guard);
    describe("after bad act", SIGSEGV);
    /* act whose sa_restorer lies in the guard page: glibc never reads it. */
    struct sigaction *edge = (struct sigaction *)(guard - offsetof(struct sigaction, sa_restorer));
    memset(edge, 0, offsetof(struct sigaction, sa_restorer));
    edge->sa_sigaction = h_info;
    edge->sa_flags = SA_SIGINFO;
    caught = 0;
    if (sigsetjmp(env, 1) == 0) printf("edge act r=%d\n", sigaction(SIGSEGV, edge, NULL));
    printf("edge act: caught %d\n", (int)caught);
    /* oact in the guard page: the change is made, then the write faults. */
    caught = 0;
    if (sigsetjmp(env, 1) == 0) sigaction(SIGSEGV, good, (struct sigaction *)guard);
    printf("bad oact: caught %d\n", (int)caught);
    describe("after bad oact", SIGSEGV);
    /* oact whose sa_restorer lies in the guard page: glibc writes it, so it faults too. */
    set(SIGSEGV, h_info, SA_SIGINFO, 0);
    caught = 0;
    if (sigsetjmp(env, 1) == 0) printf("edge oact r=%d\n", sigaction(SIGSEGV, NULL, edge));
    printf("edge oact: caught %d addr-ok %d\n", (int)caught, last_addr == guard);
    /* A non-guarded signal with a bad act. */
    caught = 0;
    if (sigsetjmp(env, 1) == 0) sigaction(SIGUSR1, (struct sigaction *)guard, NULL);
    printf("bad act usr1: caught %d\n", (int)caught);
    describe("segv", SIGSEGV);
    copy_checks("badptr", copy_buf);
    /* Without a handler, a bad act kills as in libc. */
    set(SIGSEGV, SIG_DFL, 0, 0);
    fflush(stdout);
    sigaction(SIGSEGV, (struct sigaction *)guard, NULL);
    printf("survived\n");
    return 0;
}

static int ignore(const char *when, int how) {
    install_now(when);
    copy_checks("ignore", copy_buf);
    if (how == 0) {
        set(SIGSEGV, SIG_IGN, 0, 0);
    } else if (how == 1) {
        signal(SIGSEGV, SIG_IGN);
    } else {
        sigignore(SIGSEGV);
    }
    describe("ignored", SIGSEGV);
    /* kill and raise are discarded under SIG_IGN. */
    raise(SIGSEGV);
    kill(getpid(), SIGSEGV);
    printf("survived raise\n");
    fflush(stdout);
    fault();
    printf("survived fault\n");
    return 0;
}

static int inherited_ignore(void) {
    /* Started with SIGSEGV ignored (the test runs it under `trap '' SEGV`). */
    report_install();
    describe("inherited", SIGSEGV);
    fflush(stdout);
    fault();
    printf("survived fault\n");
    return 0;
}

static void h_async(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    caught++;
    last_code = si->si_code;
}

static int async(const char *when, int with_handler) {
    install_now(when);
    copy_checks("async", copy_buf);
    if (with_handler) {
        set(SIGSEGV, h_async, SA_SIGINFO, 0);
        raise(SIGSEGV);
        printf("raise: caught %d code %d\n", (int)caught, (int)last_code);
        union sigval v = {.sival_int = 7};
        sigqueue(getpid(), SIGSEGV, v);
        printf("sigqueue: caught %d code %d\n", (int)caught, (int)last_code);
        describe("segv", SIGSEGV);
        return 0;
    }
    describe("segv", SIGSEGV);
    fflush(stdout);
    raise(SIGSEGV);
    printf("survived raise\n");
    return 0;
}

static int resethand(const char *when) {
    install_now(when);
    set(SIGSEGV, h_plain, SA_RESETHAND, 0);
    describe("installed", SIGSEGV);
    if (sigsetjmp(env, 1) == 0) fault();
    printf("caught %d\n", (int)caught);
    describe("after one", SIGSEGV);
    copy_checks("resethand", copy_buf);
    fflush(stdout);
    fault();
    printf("survived\n");
    return 0;
}

/* The mask inside the handler: the interrupted mask, sa_mask, and the signal unless NODEFER. */
static sigset_t in_handler;
static void h_mask(int sig) {
    (void)sig;
    sigprocmask(SIG_BLOCK, NULL, &in_handler);
    siglongjmp(env, 1);
}

static int masks(const char *when) {
    install_now(when);
    sigset_t t, cur;
    sigemptyset(&t);
    sigaddset(&t, SIGTERM);
    sigprocmask(SIG_BLOCK, &t, NULL);
    int flag_sets[] = {0, SA_NODEFER, SA_NODEFER | SA_RESTART};
    for (int i = 0; i < 3; i++) {
        set(SIGSEGV, h_mask, flag_sets[i], BIT(SIGUSR1) | BIT(SIGUSR2) | BIT(SIGKILL) | BIT(50));
        if (sigsetjmp(env, 1) == 0) fault();
        sigprocmask(SIG_BLOCK, NULL, &cur);
        printf("flags %#x: in handler %#lx, after siglongjmp %#lx\n", flag_sets[i], mask_word(&in_handler),
               mask_word(&cur));
    }
    /* setjmp/longjmp without the mask: the handler's mask stays. */
    static jmp_buf plain_env;
    set(SIGSEGV, h_mask, 0, BIT(SIGUSR1));
    sigset_t before;
    sigprocmask(SIG_BLOCK, NULL, &before);
    if (sigsetjmp(env, 0) == 0) fault();
    (void)plain_env;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    printf("no mask restore: %#lx\n", mask_word(&cur));
    sigprocmask(SIG_SETMASK, &before, NULL);
    copy_checks("masks", copy_buf);
    return 0;
}

static volatile int skipped;
static void h_skip(int sig, siginfo_t *si, void *ctx) {
    (void)sig;
    ucontext_t *uc = ctx;
    if (uc->uc_mcontext.gregs[REG_RIP] == (greg_t)probe_insn && si->si_addr == (void *)BAD) {
        uc->uc_mcontext.gregs[REG_RIP] = (greg_t)probe_resume;
        uc->uc_mcontext.gregs[REG_RAX] = 42;
        skipped++;
    }
}

static int ucontext(const char *when) {
    install_now(when);
    set(SIGSEGV, h_skip, SA_SIGINFO, 0);
    int sum = 0;
    for (int i = 0; i < 100; i++) {
        sum += probe_load(BAD);
        copy_checks("ucontext", copy_buf);
    }
    printf("skipped %d sum %d\n", skipped, sum);
    return 0;
}

/* Threads: each catches its own faults while others do the same and one re-installs the
 * handler continuously. */
static __thread sigjmp_buf tenv;
static atomic_int tcaught, stop_churn;
static void h_thread(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)si;
    (void)uc;
    siglongjmp(tenv, 1);
}

static void *worker(void *arg) {
    (void)arg;
    char *buf = malloc(4096);
    for (int i = 0; i < 2000; i++) {
        if (sigsetjmp(tenv, 1) == 0)
            fault();
        else
            atomic_fetch_add(&tcaught, 1);
        copy_checks("thread", buf);
    }
    free(buf);
    return NULL;
}

static void *churn(void *arg) {
    (void)arg;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = h_thread;
    sa.sa_flags = SA_SIGINFO;
    int n = 0;
    while (!atomic_load(&stop_churn)) {
        sigaction(SIGSEGV, &sa, &old);
        if (old.sa_sigaction != h_thread) printf("FAIL churn read %s\n", name_of((void *)old.sa_sigaction));
        n++;
    }
    return NULL;
}

static int threads(const char *when) {
    install_now(when);
    set(SIGSEGV, h_thread, SA_SIGINFO, 0);
    pthread_t t[8], c;
    pthread_create(&c, NULL, churn, NULL);
    for (int i = 0; i < 8; i++) pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
    atomic_store(&stop_churn, 1);
    pthread_join(c, NULL);
    printf("threads caught %d\n", atomic_load(&tcaught));
    describe("segv", SIGSEGV);
    return 0;
}

/* Alternate signal stacks of MINSIGSTKSZ (with _GNU_SOURCE, the kernel's AT_MINSIGSTKSZ). */
static __thread char *alt;
static __thread size_t alt_size;
static volatile int on_alt;

static int is_on_alt(void) {
    char c;
    return (char *)&c >= alt && (char *)&c < alt + alt_size;
}

static void make_altstack(void) {
    alt_size = MINSIGSTKSZ;
    alt = mmap(NULL, alt_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    stack_t ss = {.ss_sp = alt, .ss_size = alt_size, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) printf("FAIL sigaltstack: %s\n", strerror(errno));
}

static void h_alt(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)si;
    (void)uc;
    on_alt = is_on_alt();
    siglongjmp(tenv, 1);
}

static int depth;
static int recurse(int n) {
    volatile char pad[512];
    pad[0] = (char)n;
    depth = n;
    return recurse(n + 1) + pad[0];
}

static void *overflow_thread(void *arg) {
    (void)arg;
    make_altstack();
    int ok = 0;
    for (int i = 0; i < 5; i++) {
        on_alt = 0;
        if (sigsetjmp(tenv, 1) == 0)
            recurse(0);
        else
            ok += on_alt;
        copy_checks("overflow thread", copy_buf);
    }
    printf("overflow caught on the alternate stack %d/5\n", ok);
    return NULL;
}

static void usr1_on_alt(int sig) {
    (void)sig;
    /* A copy fault and an own fault, nested on the alternate stack. */
    copy_checks("usr1 handler", copy_buf);
    fault();
}

static int altstack(const char *when) {
    install_now(when);
    printf("MINSIGSTKSZ %s\n", MINSIGSTKSZ >= 2048 ? ">= 2048" : "small");
    make_altstack();
    set(SIGSEGV, h_alt, SA_SIGINFO | SA_ONSTACK, 0);
    set(SIGUSR1, usr1_on_alt, SA_ONSTACK, 0);
    for (int i = 0; i < 20; i++) {
        on_alt = 0;
        if (sigsetjmp(tenv, 1) == 0) fault();
        if (!on_alt) printf("FAIL plain fault not on the alternate stack\n");
        on_alt = 0;
        if (sigsetjmp(tenv, 1) == 0) raise(SIGUSR1);
        if (!on_alt) printf("FAIL nested fault not on the alternate stack\n");
    }
    printf("faults on the alternate stack ok\n");
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 256 * 1024);
    pthread_t t;
    pthread_create(&t, &a, overflow_thread, NULL);
    pthread_join(t, NULL);
    describe("segv", SIGSEGV);
    return 0;
}

int main(int argc, char **argv) {
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore);
    alarm(120);
    page = sysconf(_SC_PAGESIZE);
    copy_path = (copy_path_fn)dlsym(RTLD_DEFAULT, "statcache_selftest_copy_path");
    /* glibc's restorer, as sigaction reports it for an action glibc set. */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h_other;
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGUSR2, NULL, &old);
    glibc_restorer = (void *)old.sa_restorer;
    sa.sa_handler = SIG_DFL;
    sigaction(SIGUSR2, &sa, NULL);

    if (argc < 2) {
        fprintf(stderr, "usage: %s SCENARIO [before|after]\n", argv[0]);
        return 2;
    }
    const char *s = argv[1], *when = argc > 2 ? argv[2] : "before";
    if (!strncmp(s, "catch-", 6)) return catch_with(s + 6, when);
    if (!strcmp(s, "sysv")) return sysv(when);
    if (!strcmp(s, "die")) return die(when);
    if (!strcmp(s, "bus-catch")) return bus(when, 1);
    if (!strcmp(s, "bus-die")) return bus(when, 0);
    if (!strcmp(s, "query")) return query(when);
    if (!strcmp(s, "errors")) return errors(when);
    if (!strcmp(s, "badptr")) return badptr(when);
    if (!strcmp(s, "ignore-sigaction")) return ignore(when, 0);
    if (!strcmp(s, "ignore-signal")) return ignore(when, 1);
    if (!strcmp(s, "ignore-sigignore")) return ignore(when, 2);
    if (!strcmp(s, "inherited-ignore")) return inherited_ignore();
    if (!strcmp(s, "async-handler")) return async(when, 1);
    if (!strcmp(s, "async-die")) return async(when, 0);
    if (!strcmp(s, "resethand")) return resethand(when);
    if (!strcmp(s, "masks")) return masks(when);
    if (!strcmp(s, "ucontext")) return ucontext(when);
    if (!strcmp(s, "threads")) return threads(when);
    if (!strcmp(s, "altstack")) return altstack(when);
    fprintf(stderr, "unknown scenario %s\n", s);
    return 2;
}
