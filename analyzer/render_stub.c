#include "render.h"
#include <errno.h>
int render_sarif(pg_report *r, const render_opts *o, FILE *out) { (void)r; (void)o; (void)out; return -ENOSYS; }
int render_junit(pg_report *r, const render_opts *o, FILE *out) { (void)r; (void)o; (void)out; return -ENOSYS; }
int render_dot(pg_report *r, const render_opts *o, FILE *out) { (void)r; (void)o; (void)out; return -ENOSYS; }
int render_svg(pg_report *r, const render_opts *o, FILE *out) { (void)r; (void)o; (void)out; return -ENOSYS; }
int render_html(pg_report *r, const render_opts *o, FILE *out) { (void)r; (void)o; (void)out; return -ENOSYS; }
