/* See sim_harness.h. */
#include "sim_harness.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int simproc_start(struct simproc *p, const char *const *args)
{
    const char *dir = getenv("TR_BIN_DIR");
    char bin[1024];
    snprintf(bin, sizeof bin, "%s/tickraft-sim", dir ? dir : "build/bin");
    const char *argv[64];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "--port";
    argv[n++] = "0";
    for (int i = 0; args[i] && n < 62; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    p->pid = fork();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    char line[256];
    size_t len = 0;
    p->port = 0;
    while (len < sizeof line - 1) {
        struct pollfd pf = {.fd = fds[0], .events = POLLIN};
        if (poll(&pf, 1, 10000) <= 0)
            break;
        ssize_t m = read(fds[0], line + len, 1);
        if (m <= 0)
            break;
        if (line[len++] == '\n')
            break;
    }
    line[len] = 0;
    close(fds[0]);
    if (sscanf(line, "{\"listening\":%d}", &p->port) != 1) {
        simproc_stop(p);
        return -1;
    }
    return 0;
}

int simproc_stop(struct simproc *p)
{
    if (p->pid <= 0)
        return -1;
    kill(p->pid, SIGTERM);
    int st = 0;
    for (int i = 0; i < 500; i++) {
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            p->pid = 0;
            return st;
        }
        sleep_ms(10);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &st, 0);
    p->pid = 0;
    return st;
}

char *ws_expect(struct sim_rc *c, const char *needle, int timeout_ms, int *close_code)
{
    int64_t end = sim_now_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        int left = (int)((end - sim_now_ns()) / 1000000);
        if (left <= 0)
            return NULL;
        int op;
        char *p = NULL;
        size_t n = 0;
        int rc = sim_ws_recv(c, &op, &p, &n, left);
        if (rc == TR_ECLOSED) {
            if (close_code)
                *close_code = 1006;
            return NULL;
        }
        if (rc)
            return NULL;
        if (op == 8) {
            if (close_code)
                *close_code = n >= 2 ? ((unsigned char)p[0] << 8 | (unsigned char)p[1]) : 1005;
            free(p);
            return NULL;
        }
        if (op == 1 && needle && strstr(p, needle))
            return p;
        free(p);
    }
}

int ws_wait_close(struct sim_rc *c, int timeout_ms)
{
    int code = 0;
    char *p = ws_expect(c, NULL, timeout_ms, &code);
    free(p);
    return code;
}

int http_get(int port, const char *path, char **body)
{
    char *b = NULL;
    int st = sim_http(port, "GET", path, &b, NULL, 5000);
    if (body)
        *body = b;
    else
        free(b);
    return st;
}

int sim_ctl(int port, const char *fault_and_args)
{
    char path[512];
    snprintf(path, sizeof path, "/control/%s", fault_and_args);
    char *b = NULL;
    int st = sim_http(port, "POST", path, &b, NULL, 5000);
    free(b);
    return st;
}

long file_count(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    long n = 0;
    while (getline(&line, &cap, f) > 0)
        if (!needle || strstr(line, needle))
            n++;
    free(line);
    fclose(f);
    return n;
}
