/* ctor_main.c: linked against ctor_early; calls the stat family from .preinit_array (before any
 * library's constructor, statcache's included), and from main; ends with `calls NAME N`. */
#include "probe.h"

void early_report(const char *phase);
const unsigned long *early_counts(void);

static void preinit(void) { early_report("preinit"); }
__attribute__((section(".preinit_array"), used)) static void (*const preinit_entry)(void) = preinit;

int main(void) {
    early_report("main");
    print_call_counts(early_counts());
    return 0;
}
