/* REST request/response helpers shared by the dialect handlers. Requests
 * arrive with their URL arguments already split (lws urldecodes them). */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

const char *sim_req_arg(const struct sim_req *rq, const char *key)
{
    for (int i = 0; i < rq->nargs; i++)
        if (strcmp(rq->key[i], key) == 0)
            return rq->val[i];
    return NULL;
}

int sim_resp_json(struct sim_resp *rs, int status, const char *text)
{
    rs->status = status;
    rs->body.len = 0;
    return sim_put(&rs->body, text);
}

struct tr_json_tok *sim_conn_parse(struct sim_conn *c, const char *msg, size_t len)
{
    size_t need = len / 2 + 16; /* a token takes at least two bytes ("1,") */
    if (c->toks_cap < need) {
        struct tr_json_tok *t = realloc(c->toks, need * sizeof *t);
        if (!t)
            return NULL;
        c->toks = t;
        c->toks_cap = need;
    }
    int n = tr_json_parse(msg, len, c->toks, c->toks_cap, NULL);
    if (n <= 0 || c->toks[0].type != TR_JSON_OBJECT)
        return NULL;
    return c->toks;
}

int sim_put_levels(struct tr_buf *b, const struct sim_exch *x, const struct sim_inst *in, int s,
                   int with_count)
{
    int first = 1;
    sim_put(b, "[");
    for (int k = 0; k < SIM_LEVELS; k++) {
        if (in->book[s][k] <= 0)
            continue;
        sim_put(b, first ? "[" : ",[");
        first = 0;
        sim_put_qdec(b, sim_price_dec(x->dialect, sim_level_price(in, s, k)));
        sim_put(b, ",");
        sim_put_qdec(b, sim_size_dec(x->dialect, in->book[s][k]));
        if (with_count)
            sim_put(b, ",\"1\"");
        sim_put(b, "]");
    }
    return sim_put(b, "]");
}

int sim_fault_take_unknown(struct sim_exch *x)
{
    if (!x->f.unknown_left)
        return 0;
    x->f.unknown_left--;
    return 1;
}
