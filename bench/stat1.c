/* The start-up case's "small program": one stat(2) of a file that exists, then exit. */
#include <sys/stat.h>

int main(void)
{
    struct stat st;
    return stat("/etc/hostname", &st) == 0 ? 0 : 1;
}
