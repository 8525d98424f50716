/*
 * The outside reader of CPython (analyzer/attach/pyremote*.c) on memory that is garbage: random
 * words, half of them pointers back into the same memory (so every list, chain and dict has
 * cycles) and many of them the addresses taken as the interpreter's type objects (so type checks
 * pass and the readers go deep). For every version's layout it must end, within its read budget,
 * with the state's counts and strings within their bounds. What a live interpreter gives is
 * checked by the e2e suite attach_py.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pyremote_int.h"
#include "testlib.h"

#define MEM_BASE 0x10000000ull
#define MEM_SIZE (1u << 18)
#define HOT 16

static uint64_t mem[MEM_SIZE / 8];

static int read_mem(void *ctx, uint64_t addr, void *buf, size_t len)
{
    (void)ctx;
    if (addr < MEM_BASE || addr - MEM_BASE > MEM_SIZE || len > MEM_SIZE - (addr - MEM_BASE))
        return -1;
    memcpy(buf, (const char *)mem + (addr - MEM_BASE), len);
    return 0;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void assert_bounded_str(const char *s, size_t cap)
{
    ck_assert_msg(memchr(s, 0, cap) != NULL, "a string is not terminated within its field");
}

START_TEST(test_pyremote_survives_garbage_memory)
{
    static struct pg_py_state st;
    static struct pyr r;
    ext_proc p;
    memset(&p, 0, sizeof p);
    p.read = read_mem;
    long worst_ms = 0;
    for (uint64_t seed = 1; seed <= 240; seed++) {
        uint64_t s = seed * 0x9e3779b97f4a7c15ull;
        uint64_t hot[HOT];
        for (int k = 0; k < HOT; k++)
            hot[k] = MEM_BASE + (rnd(&s) % MEM_SIZE & ~7ull);
        for (size_t i = 0; i < MEM_SIZE / 8; i++) {
            uint64_t x = rnd(&s);
            switch (x % 8) {
            case 0:
            case 1: mem[i] = MEM_BASE + (rnd(&s) % MEM_SIZE & ~7ull); break;
            case 2:
            case 3:
            case 4: mem[i] = hot[rnd(&s) % HOT]; break;
            case 5: mem[i] = rnd(&s) % 64; break;
            case 6: mem[i] = 0; break;
            default: mem[i] = rnd(&s); break;
            }
        }
        /* The hot objects are typed: their ob_type is one of the types. */
        for (int k = 0; k < HOT; k++)
            mem[(hot[k] - MEM_BASE) / 8 + 1] = hot[rnd(&s) % HOT];
        memset(&r, 0, sizeof r);
        memset(&st, 0, sizeof st);
        r.p = &p;
        r.minor = 8 + (int)(seed % 6);
        r.o = pyoff_for_minor(r.minor);
        ck_assert_ptr_nonnull(r.o);
        r.budget = PYR_READ_BUDGET;
        r.st = &st;
        r.t_code = hot[0], r.t_str = hot[1], r.t_int = hot[2], r.t_tuple = hot[3];
        r.t_dict = hot[4], r.t_set = hot[5], r.t_list = hot[6], r.t_weakref = hot[7];
        r.t_function = hot[8], r.t_method = hot[9];
        r.none = hot[10], r.py_true = hot[11], r.py_false = hot[12];
        long t0 = tu_now_ms();
        pyr_read_runtime(&r, hot[13]);
        long ms = tu_now_ms() - t0;
        worst_ms = ms > worst_ms ? ms : worst_ms;
        ck_assert_int_ge(r.budget, 0);
        ck_assert_int_le(st.nthreads, PG_PY_MAX_THREADS);
        ck_assert_int_le(st.nexecutors, PG_PY_MAX_EXECUTORS);
        for (int t = 0; t < st.nthreads; t++) {
            const struct pg_py_thread *th = &st.threads[t];
            ck_assert_int_le(th->nframes, PG_PY_MAX_FRAMES);
            ck_assert_int_le(th->nwaits, PG_PY_MAX_WAITS);
            assert_bounded_str(th->name, sizeof th->name);
            assert_bounded_str(th->task.name, sizeof th->task.name);
            for (int k = 0; k < th->nframes; k++) {
                assert_bounded_str(th->frames[k].name, sizeof th->frames[k].name);
                assert_bounded_str(th->frames[k].file, sizeof th->frames[k].file);
            }
        }
        for (int e = 0; e < st.nexecutors; e++)
            assert_bounded_str(st.executors[e].prefix, sizeof st.executors[e].prefix);
    }
    /* The budget bounds a reading: memory this fast is read in well under a second. */
    ck_assert_msg(worst_ms < 3000, "one reading of garbage took %ld ms", worst_ms);
}
END_TEST

Suite *pyremote_suite(void)
{
    Suite *s = suite_create("pyremote");
    TCase *tc = tcase_create("garbage");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_pyremote_survives_garbage_memory);
    suite_add_tcase(s, tc);
    return s;
}
