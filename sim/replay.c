/* Replay of recorded provider sessions (placeholder until implemented). */
#include "sim.h"

int sim_replay_open(struct sim_server *s, const char *path, double speed, struct tr_error *err)
{
    (void)s; (void)path; (void)speed;
    return tr_errorf(err, TR_EUNSUPPORTED, "replay not built yet");
}
void sim_replay_free(struct sim_replay *r) { (void)r; }
int sim_replay_tick(struct sim_server *s, int64_t now) { (void)s; (void)now; return 1; }
void sim_replay_rest(struct sim_server *s, int dialect, const char *fullpath,
                     const struct sim_req *rq, struct sim_resp *rs)
{
    (void)s; (void)dialect; (void)fullpath; (void)rq;
    sim_resp_json(rs, 404, "{}");
}
void sim_replay_open_conn(struct sim_server *s, struct sim_conn *c) { (void)s; (void)c; }
