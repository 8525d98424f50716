/*
 * The shim's report writer (shim/core/jsonw.c): every line it writes must parse, whatever bytes the
 * program gave it (thread names, paths), and a line larger than its buffer must arrive whole.
 */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "jsonw.h"

static char buf[4096];

static json_t *parse_buf(struct pg_jw *w)
{
    json_error_t err;
    json_t *j = json_loadb(w->buf, w->len, 0, &err);
    ck_assert_msg(j != NULL, "not JSON: %s (%.*s)", err.text, (int)w->len, w->buf);
    return j;
}

START_TEST(test_jsonw_nested_objects_and_arrays_parse)
{
    struct pg_jw w;
    pg_jw_init(&w, -1, buf, sizeof buf);
    pg_jw_obj(&w);
    pg_jw_key(&w, "type"), pg_jw_str(&w, "finding");
    pg_jw_key(&w, "n"), pg_jw_int(&w, -42);
    pg_jw_key(&w, "addr"), pg_jw_hex(&w, 0xdeadbeef);
    pg_jw_key(&w, "zero"), pg_jw_hex(&w, 0);
    pg_jw_key(&w, "list");
    pg_jw_arr(&w);
    pg_jw_int(&w, 1);
    pg_jw_obj(&w);
    pg_jw_key(&w, "ok"), pg_jw_bool(&w, 1);
    pg_jw_obj_end(&w);
    pg_jw_null(&w);
    pg_jw_arr_end(&w);
    pg_jw_obj_end(&w);
    json_t *j = parse_buf(&w);
    ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "finding");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "n")), -42);
    ck_assert_str_eq(json_string_value(json_object_get(j, "addr")), "0xdeadbeef");
    ck_assert_str_eq(json_string_value(json_object_get(j, "zero")), "0x0");
    json_t *l = json_object_get(j, "list");
    ck_assert_int_eq(json_array_size(l), 3);
    ck_assert(json_is_true(json_object_get(json_array_get(l, 1), "ok")));
    ck_assert(json_is_null(json_array_get(l, 2)));
    json_decref(j);
}
END_TEST

START_TEST(test_jsonw_escapes_control_quotes_and_bad_utf8)
{
    struct pg_jw w;
    pg_jw_init(&w, -1, buf, sizeof buf);
    pg_jw_obj(&w);
    pg_jw_key(&w, "s");
    pg_jw_str(&w, "a\"b\\c\n\t\x01\x7f \xc3\xa9 \xff\xfe end \xe2\x82");
    pg_jw_obj_end(&w);
    json_t *j = parse_buf(&w);
    const char *s = json_string_value(json_object_get(j, "s"));
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(strstr(s, "a\"b\\c\n\t\x01\x7f \xc3\xa9 "));
    ck_assert_ptr_nonnull(strstr(s, "\xef\xbf\xbd\xef\xbf\xbd end "));
    json_decref(j);
}
END_TEST

START_TEST(test_jsonw_line_longer_than_buffer_arrives_whole)
{
    int fd = memfd_create("jw", 0);
    ck_assert_int_ge(fd, 0);
    char small[64];
    struct pg_jw w;
    pg_jw_init(&w, fd, small, sizeof small);
    pg_jw_obj(&w);
    pg_jw_key(&w, "stack");
    pg_jw_arr(&w);
    for (int i = 0; i < 1000; i++)
        pg_jw_hex(&w, 0x7f0000000000u + (uintptr_t)i);
    pg_jw_arr_end(&w);
    pg_jw_obj_end(&w);
    ck_assert_int_eq(pg_jw_line(&w), 0);
    off_t size = lseek(fd, 0, SEEK_END);
    static char back[65536];
    ck_assert_int_eq(pread(fd, back, sizeof back, 0), size);
    ck_assert_int_eq(back[size - 1], '\n');
    json_error_t err;
    json_t *j = json_loadb(back, (size_t)size, 0, &err);
    ck_assert_msg(j != NULL, "%s", err.text);
    ck_assert_int_eq(json_array_size(json_object_get(j, "stack")), 1000);
    json_decref(j);
    close(fd);
}
END_TEST

START_TEST(test_jsonw_reports_overflow_without_descriptor)
{
    char tiny[8];
    struct pg_jw w;
    pg_jw_init(&w, -1, tiny, sizeof tiny);
    pg_jw_str(&w, "this does not fit");
    ck_assert_int_ne(w.err, 0);
    ck_assert_uint_le(w.len, sizeof tiny);
}
END_TEST

START_TEST(test_jsonw_write_error_is_reported)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    struct pg_jw w;
    pg_jw_init(&w, p[1], buf, sizeof buf);
    pg_jw_int(&w, 1);
    ck_assert_int_lt(pg_jw_line(&w), 0);
    close(p[1]);
}
END_TEST

Suite *jsonw_suite(void)
{
    Suite *s = suite_create("jsonw");
    TCase *tc = tcase_create("write");
    tcase_add_test(tc, test_jsonw_nested_objects_and_arrays_parse);
    tcase_add_test(tc, test_jsonw_escapes_control_quotes_and_bad_utf8);
    tcase_add_test(tc, test_jsonw_line_longer_than_buffer_arrives_whole);
    tcase_add_test(tc, test_jsonw_reports_overflow_without_descriptor);
    tcase_add_test(tc, test_jsonw_write_error_is_reported);
    suite_add_tcase(s, tc);
    return s;
}
