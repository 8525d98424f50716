/*
 * Time the process spent stopped (SIGSTOP, a debugger, a suspended VM) is not time blocked: the
 * scan loop notes each scan's time, and a blocked time is measured less the stops it overlaps.
 *
 * Written by the watchdog thread only (pg_note_gap, once per scan); read by the analyses it runs.
 */
#include "scan.h"

/* Time the process spent stopped (SIGSTOP, a debugger, a suspended VM) is not time blocked. The
 * watchdog notices it as a scan that came far later than its interval; each such gap is kept, and
 * blocked times leave out the gaps they overlap. */
#define GAPS 32
static struct {
    uint64_t start, len;
} gaps[GAPS];
static unsigned ngaps;
static uint64_t last_scan_ns;

void pg_note_gap(uint64_t now)
{
    uint64_t interval = (uint64_t)pg_cfg.interval_ms * 1000000u;
    if (last_scan_ns && now > last_scan_ns + 3 * interval + 200000000u) {
        unsigned k = ngaps++ % GAPS;
        gaps[k].start = last_scan_ns + interval;
        gaps[k].len = now - gaps[k].start;
    }
    last_scan_ns = now;
}

uint64_t pg_blocked_ns(uint64_t since, uint64_t now)
{
    if (now <= since)
        return 0;
    uint64_t t = now - since;
    unsigned n = ngaps < GAPS ? ngaps : GAPS;
    for (unsigned k = 0; k < n; k++) {
        uint64_t a = gaps[k].start, b = gaps[k].start + gaps[k].len;
        if (a < since)
            a = since;
        if (b > now)
            b = now;
        if (b > a)
            t -= b - a < t ? b - a : t;
    }
    return t;
}

int pg_stop_gaps(uint64_t *start, uint64_t *len, int max)
{
    int n = ngaps < GAPS ? (int)ngaps : GAPS;
    n = n < max ? n : max;
    for (int k = 0; k < n; k++)
        start[k] = gaps[k].start, len[k] = gaps[k].len;
    return n;
}
