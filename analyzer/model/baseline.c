/*
 * Baselines: the findings a project already knows about, by signature, so a CI gate fails only on
 * new ones. The file is JSON, {"version":1,"findings":[{"kind","signature","summary"}]}, written by
 * --write-baseline and meant to be committed; only "signature" is used when reading.
 */
#include "analyze.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_BASELINE = 100000 };

struct baseline {
    char **sigs;
    size_t n;
};

void baseline_free(baseline *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++)
        free(b->sigs[i]);
    free(b->sigs);
    free(b);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

baseline *baseline_load(const char *path, FILE *diag, int *err)
{
    json_error_t je;
    /* A baseline is small; refuse anything absurd rather than read gigabytes. */
    FILE *fp = fopen(path, "re");
    if (!fp) {
        *err = -errno;
        if (diag)
            fprintf(diag, "poolguard: error: cannot open baseline '%s': %s\n", path,
                    strerror(errno));
        return NULL;
    }
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    rewind(fp);
    json_t *doc = size >= 0 && size < 64L * 1024 * 1024 ? json_loadf(fp, 0, &je) : NULL;
    fclose(fp);
    json_t *arr = json_object_get(doc, "findings");
    json_t *ver = json_object_get(doc, "version");
    if (!doc || !json_is_array(arr) || !json_is_integer(ver) || json_integer_value(ver) != 1) {
        if (diag)
            fprintf(diag, "poolguard: error: '%s' is not a poolguard baseline (%s)\n", path,
                    !doc ? (size >= 64L * 1024 * 1024 ? "too large" : je.text)
                         : "expected {\"version\":1,\"findings\":[...]}");
        json_decref(doc);
        *err = -EINVAL;
        return NULL;
    }
    baseline *b = calloc(1, sizeof *b);
    size_t n = json_array_size(arr);
    if (n > MAX_BASELINE)
        n = MAX_BASELINE;
    if (b)
        b->sigs = calloc(n ? n : 1, sizeof *b->sigs);
    if (!b || !b->sigs) {
        baseline_free(b);
        json_decref(doc);
        *err = -ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_object_get(json_array_get(arr, i), "signature"));
        if (s)
            b->sigs[b->n++] = strdup(s);
    }
    qsort(b->sigs, b->n, sizeof *b->sigs, cmp_str);
    json_decref(doc);
    *err = 0;
    return b;
}

size_t baseline_apply(const baseline *b, pg_report *r)
{
    size_t n, hits = 0;
    pg_finding **f = report_findings(r, &n);
    for (size_t i = 0; i < n; i++) {
        if (!f[i]->signature)
            continue;
        if (bsearch(&f[i]->signature, b->sigs, b->n, sizeof *b->sigs, cmp_str)) {
            f[i]->baselined = true;
            hits++;
        }
    }
    return hits;
}

int baseline_write(pg_report *r, const char *path)
{
    json_t *doc = json_object(), *arr = json_array();
    json_object_set_new(doc, "version", json_integer(1));
    size_t n;
    pg_finding **f = report_findings(r, &n);
    for (size_t i = 0; i < n; i++) {
        if (f[i]->duplicate || f[i]->suppressed || !f[i]->signature)
            continue;
        json_t *e = json_object();
        json_object_set_new(e, "kind", json_string(f[i]->kind));
        json_object_set_new(e, "signature", json_string(f[i]->signature));
        if (f[i]->summary)
            json_object_set_new(e, "summary", json_string(f[i]->summary));
        json_array_append_new(arr, e);
    }
    json_object_set_new(doc, "findings", arr);
    int ret = json_dump_file(doc, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 ? 0 : -EIO;
    json_decref(doc);
    return ret;
}
