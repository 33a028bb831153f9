/* Shared by the benchmarks that time other programs: each runs in its own child, so that its peak
 * RSS is its own. */
#ifndef GATREC_BENCH_CHILD_H
#define GATREC_BENCH_CHILD_H

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* argv[0]'s directory joined with rel */
static inline void beside(const char *argv0, const char *rel, char *out, size_t n)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", argv0);
    snprintf(out, n, "%s/%s", dirname(tmp), rel);
}

/* The command line ($GATREC_CLI, else ../gatrec beside this program) and bench_synth beside it */
static inline void bench_programs(const char *argv0, char *cli, char *synth, size_t n)
{
    if (getenv("GATREC_CLI"))
        snprintf(cli, n, "%s", getenv("GATREC_CLI"));
    else
        beside(argv0, "../gatrec", cli, n);
    beside(argv0, "bench_synth", synth, n);
}

/* Runs argv, its stdout into `out` (up to n bytes; stderr stays ours); returns the exit status,
 * *kb its peak RSS. */
static inline int run_child(char *const argv[], char *out, size_t n, long *kb)
{
    int fd[2], status = -1;
    struct rusage ru;
    size_t got = 0;
    pid_t pid;
    if (pipe(fd))
        return -1;
    if ((pid = fork()) == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    for (ssize_t r; (r = read(fd[0], out + got, n - 1 - got)) > 0 || (r < 0 && errno == EINTR);)
        got += r > 0 ? (size_t)r : 0;
    out[got] = 0;
    close(fd[0]);
    if (pid < 0 || wait4(pid, &status, 0, &ru) < 0)
        return -1;
    *kb = ru.ru_maxrss;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#endif
