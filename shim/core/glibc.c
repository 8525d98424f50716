/*
 * The run-time half of glibc.h: the version gate. Runs once, from the constructor (init.c), before
 * any hook tracks anything; until then, and for good on a glibc whose lock layouts were not
 * verified, pg_glibc_known is 0 and every decoder in glibc.h answers "unknown". One warning on
 * stderr names the version the gate stayed shut for.
 */
#include "glibc.h"
#include "pg.h"

#include <gnu/libc-version.h>
#include <stdlib.h>

int pg_glibc_known;

void pg_glibc_gate(void)
{
    /* A test aid: the tests run the shim as it behaves under another glibc. */
    const char *version = getenv("POOLGUARD_GLIBC_VERSION");
    if (!version || !*version)
        version = gnu_get_libc_version();
    int ok = pg_glibc_version_verified(version);
    if (!ok)
        pg_warn("glibc %.32s: its lock layouts are not among those verified (glibc %d.%d to "
                "%d.%d%s); "
                "waits are recorded but no owner is read from a lock word",
                version, PG_GLIBC_MIN_MAJOR, PG_GLIBC_MIN_MINOR, PG_GLIBC_MAX_MAJOR,
                PG_GLIBC_MAX_MINOR, PG_GLIBC_ARCH_VERIFIED ? "" : ", on x86_64 only");
    __atomic_store_n(&pg_glibc_known, ok, __ATOMIC_RELEASE);
}
