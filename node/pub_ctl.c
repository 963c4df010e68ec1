/* tickraft-ctl plumbing for the subcommands that talk to a node
 * (node/pub_ctl.h): options, errors and exit codes, tables. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pub_ctl.h"
#include "tickraft/protocol.h"

static void add_nodes(struct ctl_common *o, char *list)
{
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t && o->n_nodes < CTL_MAX_NODES;
         t = strtok_r(NULL, ",", &save))
        o->nodes[o->n_nodes++] = t;
}

static int read_token_file(struct ctl_common *o, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(o->token_buf, 1, sizeof o->token_buf - 1, f);
    fclose(f);
    while (n && (o->token_buf[n - 1] == '\n' || o->token_buf[n - 1] == '\r'))
        n--;
    o->token_buf[n] = 0;
    o->token = o->token_buf;
    return 0;
}

int ctl_common_parse(struct ctl_common *o, const char *cmd, int *argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->token = getenv("TICKRAFT_TOKEN");
    o->tls_ca = getenv("TICKRAFT_TLS_CA");
    o->tls_cert = getenv("TICKRAFT_TLS_CERT");
    int out = 1;
    size_t used = 0;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            o->help = 1;
        } else if (strcmp(a, "--node") == 0 || strcmp(a, "--token") == 0 ||
                   strcmp(a, "--token-file") == 0 || strcmp(a, "--tls-ca") == 0 ||
                   strcmp(a, "--tls-cert") == 0) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "tickraft-ctl %s: %s needs a value\n", cmd, a);
                return CTL_EXIT_USAGE;
            }
            const char *v = argv[++i];
            if (strcmp(a, "--token") == 0) {
                o->token = v;
            } else if (strcmp(a, "--tls-ca") == 0) {
                o->tls_ca = v;
            } else if (strcmp(a, "--tls-cert") == 0) {
                o->tls_cert = v;
            } else if (strcmp(a, "--token-file") == 0) {
                if (read_token_file(o, v)) {
                    fprintf(stderr, "tickraft-ctl %s: cannot read token file %s\n", cmd, v);
                    return CTL_EXIT_USAGE;
                }
            } else {
                size_t n = strlen(v);
                if (used + n + 1 > sizeof o->node_buf) {
                    fprintf(stderr, "tickraft-ctl %s: too many nodes\n", cmd);
                    return CTL_EXIT_USAGE;
                }
                memcpy(o->node_buf + used, v, n + 1);
                add_nodes(o, o->node_buf + used);
                used += n + 1;
            }
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    argv[out] = NULL;
    if (!o->n_nodes) {
        const char *env = getenv("TICKRAFT_NODES");
        if (env && strlen(env) < sizeof o->node_buf) {
            strcpy(o->node_buf, env);
            add_nodes(o, o->node_buf);
        }
        if (!o->n_nodes)
            o->nodes[o->n_nodes++] = TR_PROTO_DEFAULT_URL;
    }
    return 0;
}

void ctl_common_help(FILE *out)
{
    fprintf(out,
            "common options:\n"
            "  --node URL[,URL]  node(s) to ask, tried in order (default $TICKRAFT_NODES or "
            TR_PROTO_DEFAULT_URL ")\n"
            "  --token T         admin/data token (default $TICKRAFT_TOKEN)\n"
            "  --token-file F    read the token from a file\n"
            "  --tls-ca F        CA (PEM) for tls+tcp:// nodes (default $TICKRAFT_TLS_CA)\n"
            "  --tls-cert F      client certificate + key (PEM), when the node asks for one\n"
            "                    (default $TICKRAFT_TLS_CERT)\n"
            "  --json            machine-readable output\n"
            "  --help            this help\n"
            "exit codes: 0 ok, 1 failed, 2 bad usage, 3 no node reachable,\n"
            "            4 bad token or TLS certificate refused\n");
}

int ctl_fail(const struct ctl_common *o, int rc, const struct tr_error *err)
{
    const char *msg = err && err->msg[0] ? err->msg : tr_strerror(rc);
    if (rc == TR_ECONNREFUSED || rc == TR_ECONNRESET || rc == TR_ETIMEDOUT) {
        fprintf(stderr, "tickraft-ctl %s: no node reachable (%s)\n", o->cmd, msg);
        return CTL_EXIT_UNREACHABLE;
    }
    if (rc == TR_EAUTH || rc == TR_EPERM) {
        fprintf(stderr, "tickraft-ctl %s: %s\n", o->cmd, msg);
        return CTL_EXIT_AUTH;
    }
    if (rc == TR_EINVAL) {
        fprintf(stderr, "tickraft-ctl %s: %s\n", o->cmd, msg);
        return CTL_EXIT_USAGE;
    }
    fprintf(stderr, "tickraft-ctl %s: %s\n", o->cmd, msg);
    return CTL_EXIT_FAIL;
}

int ctl_client_open(const struct ctl_common *o, struct tr_client **c)
{
    struct tr_client_options co = {.nodes = o->nodes, .n_nodes = o->n_nodes,
                                   .token = o->token, .name = "tickraft-ctl",
                                   .rpc_timeout_ms = 3000, .tls_ca_file = o->tls_ca,
                                   .tls_cert_key_file = o->tls_cert};
    struct tr_error err;
    tr_error_clear(&err);
    int rc = tr_client_open(c, &co, &err);
    return rc ? ctl_fail(o, rc, &err) : 0;
}

void ctl_json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

void ctl_print_table(FILE *out, const struct tr_client_table *t, int json)
{
    if (json) {
        fputc('[', out);
        for (size_t r = 0; r < t->n_rows; r++) {
            fputs(r ? ",{" : "{", out);
            for (size_t c = 0; c < t->n_cols; c++) {
                if (c)
                    fputc(',', out);
                ctl_json_str(out, t->cols[c]);
                fputc(':', out);
                ctl_json_str(out, t->cells[r * t->n_cols + c]);
            }
            fputc('}', out);
        }
        fputs("]\n", out);
        return;
    }
    size_t w[64] = {0};
    size_t nc = t->n_cols < 64 ? t->n_cols : 64;
    for (size_t c = 0; c < nc; c++) {
        w[c] = strlen(t->cols[c]);
        for (size_t r = 0; r < t->n_rows; r++) {
            size_t l = strlen(t->cells[r * t->n_cols + c]);
            w[c] = l > w[c] ? l : w[c];
        }
    }
    for (size_t r = 0; r <= t->n_rows; r++)
        for (size_t c = 0; c < nc; c++) {
            const char *v = r ? t->cells[(r - 1) * t->n_cols + c] : t->cols[c];
            if (c + 1 < nc)
                fprintf(out, "%-*s  ", (int)w[c], v);
            else
                fprintf(out, "%s\n", v);
        }
}

int ctl_admin_print(const struct ctl_common *o, const char *cmd, const char *const *args,
                    size_t nargs, struct tr_client_table *keep)
{
    struct tr_client *c;
    int rc = ctl_client_open(o, &c);
    if (rc)
        return rc;
    struct tr_client_table t;
    struct tr_error err;
    tr_error_clear(&err);
    rc = tr_client_admin(c, cmd, args, nargs, &t, &err);
    tr_client_close(c);
    if (rc)
        return ctl_fail(o, rc, &err);
    ctl_print_table(stdout, &t, o->json);
    if (keep)
        *keep = t;
    else
        tr_client_table_free(&t);
    return CTL_EXIT_OK;
}

int ctl_parse_time(const char *s, int64_t *ns)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s && !*end) {
        *ns = v;
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -1;
    int64_t frac = 0, scale = 1000000000;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            scale /= 10;
            frac += (*p++ - '0') * scale;
        }
    }
    if (*p != 'Z' || p[1])
        return -1;
    *ns = (int64_t)timegm(&tm) * 1000000000 + frac;
    return 0;
}
