/*
 * The wait-for graph as SVG: Graphviz `dot -Tsvg` run on the DOT graph (render_dot.c), for the
 * svg format and the HTML page's inline graphs. The only renderer that starts a process; without
 * dot it says -ENOENT and the caller says so once.
 */
#include "render.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs `dot -Tsvg` with the graph on its stdin (a temporary file, so no pipe deadlock). */
int render_svg_from_dot(const char *graph, char **svg)
{
    *svg = NULL;
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/poolguard-dot.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int in = mkstemp(path);
    if (in < 0)
        return -errno;
    unlink(path);
    size_t len = strlen(graph);
    bool ok = write(in, graph, len) == (ssize_t)len && lseek(in, 0, SEEK_SET) == 0;
    if (!ok) {
        close(in);
        return -EIO;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        close(in);
        return -EIO;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in, 0);
        dup2(p[1], 1);
        execlp("dot", "dot", "-Tsvg", (char *)NULL);
        _exit(127);
    }
    close(in);
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return -errno;
    }
    char *buf = NULL;
    size_t blen = 0;
    FILE *m = open_memstream(&buf, &blen);
    char chunk[65536];
    ssize_t k;
    while ((k = read(p[0], chunk, sizeof chunk)) > 0 || (k < 0 && errno == EINTR))
        if (k > 0 && m)
            fwrite(chunk, 1, (size_t)k, m);
    close(p[0]);
    if (m)
        fclose(m);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        free(buf);
        return WIFEXITED(status) && WEXITSTATUS(status) == 127 ? -ENOENT : -EIO;
    }
    *svg = buf;
    return 0;
}

int render_svg_string(pg_report *r, const render_opts *o, char **svg)
{
    *svg = NULL;
    char *graph = render_dot_string(r, o);
    if (!graph)
        return -ENOMEM;
    int ret = render_svg_from_dot(graph, svg);
    free(graph);
    return ret;
}

int render_svg(pg_report *r, const render_opts *o, FILE *out)
{
    char *svg;
    int ret = render_svg_string(r, o, &svg);
    if (ret < 0)
        return ret;
    fputs(svg, out);
    free(svg);
    return ferror(out) ? -EIO : 0;
}
