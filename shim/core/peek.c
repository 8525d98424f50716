/*
 * Reading the program's memory from the watchdog without trusting it to be there. The watchdog
 * looks into lock words (a mutex's owner, an rwlock's writer and readers, whether a condition
 * variable or semaphore is process-shared) that belong to the program, which may free and unmap
 * them at any moment. process_vm_readv on our own process fails with EFAULT instead of faulting;
 * where the system call is not allowed (some sandboxes), a plain copy is the fallback, and the
 * watchdog then relies on reading only waits that have lasted half a scan.
 */
#include "pg.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

int pg_peek(void *dst, uintptr_t src, size_t n)
{
    static int mode; /* 0: not tried yet; 1: the system call works; -1: not available */
    static pid_t pid;
    if (mode >= 0) {
        pid_t me = getpid(); /* a forked child has its own */
        if (pid != me)
            pid = me, mode = 0;
        struct iovec local = { dst, n }, remote = { (void *)src, n };
        ssize_t got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
        if (got == (ssize_t)n) {
            mode = 1;
            return 0;
        }
        if (!(got < 0 && mode == 0 && (errno == ENOSYS || errno == EPERM)))
            return -EFAULT;
        mode = -1;
    }
    memcpy(dst, (const void *)src, n);
    return 0;
}
