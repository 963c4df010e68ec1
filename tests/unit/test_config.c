/* Tests of the node's configuration parser (node/config.c): the shipped
 * example and the demo config parse, every kind of mistake is refused with
 * "file:line: key 'k': why", credentials are loaded and never printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "tickraft/provider.h"

static int parse(struct tr_config *c, const char *text, struct tr_error *err)
{
    tr_config_init(c);
    tr_error_clear(err);
    return tr_config_parse(c, "node.conf", text, strlen(text), err);
}

/* Parses `text` expecting TR_ECONFIG with `expect` in the message. */
static void refused(const char *text, const char *expect)
{
    struct tr_config c;
    struct tr_error err;
    int rc = parse(&c, text, &err);
    if (rc != TR_ECONFIG || !strstr(err.msg, expect))
        fail_msg("expected TR_ECONFIG with \"%s\", got %s: \"%s\"", expect, tr_err_name(rc),
                 err.msg);
    tr_config_close(&c);
}

#define NODE "[node]\nid = 3\ndata_dir = /tmp/x\n"

static void example_file_parses_with_every_key(void **state)
{
    (void)state;
    setenv("COINBASE_API_KEY", "cb-secret-123", 1);
    const char *src = getenv("TR_SOURCE_DIR");
    assert_non_null(src);
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/examples/node.conf", src);
    struct tr_config c;
    struct tr_error err;
    tr_config_init(&c);
    int rc = tr_config_load(&c, path, &err);
    /* the binance key file in the example does not exist here: that must
     * be the only complaint, and it must name line and key */
    assert_int_equal(rc, TR_ECONFIG);
    assert_non_null(strstr(err.msg, "key 'key_file': cannot open /etc/tickraft/binance.key"));
    assert_non_null(strstr(err.msg, "node.conf:"));
    tr_config_close(&c);

    /* the same file with the key file pointing at a real one */
    char keyp[] = "/tmp/tr_cfg_key_XXXXXX";
    int fd = mkstemp(keyp);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "bn-secret\n", 10), 10);
    close(fd);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char text[16384];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *k = strstr(text, "/etc/tickraft/binance.key");
    assert_non_null(k);
    static char text2[16384];
    snprintf(text2, sizeof text2, "%.*s%s%s", (int)(k - text), text, keyp,
             k + strlen("/etc/tickraft/binance.key"));
    rc = parse(&c, text2, &err);
    if (rc)
        fail_msg("%s", err.msg);
    unlink(keyp);

    assert_int_equal(c.node_id, 1);
    assert_string_equal(c.data_dir, "/var/lib/tickraft");
    assert_int_equal(c.dedup_backoff.base_ms, 1000); /* as the example sets it */
    assert_int_equal(c.dedup_backoff.max_ms, 30000);
    assert_int_equal(c.shutdown_timeout_ms, 30000);
    assert_int_equal(c.log_level, TR_NLOG_INFO);
    assert_int_equal(c.log_format, TR_NLOG_LOGFMT);
    assert_string_equal(c.log_file, "-");
    assert_int_equal(c.http_enabled, 1);
    assert_string_equal(c.http_host, "127.0.0.1");
    assert_int_equal(c.http_port, 7480);
    assert_int_equal(c.http_max_request_bytes, 8192);
    assert_int_equal(c.sync, 2);
    assert_int_equal(c.group_commit_bytes, 8u << 20);
    assert_int_equal(c.segment_bytes, 64u << 20);
    assert_int_equal(c.retention_age_ms, 30ull * 86400000);
    assert_int_equal(c.n_feeds, 2);

    const struct tr_feed_cfg *cb = tr_config_feed(&c, "coinbase-main");
    assert_non_null(cb);
    assert_int_equal(cb->provider, TR_PROV_COINBASE);
    assert_string_equal(cb->provider_name, "coinbase");
    assert_int_equal(cb->n_instruments, 3);
    assert_string_equal(cb->instruments[2], "SOL-USD");
    assert_int_equal(cb->channels, TR_CH_TRADES | TR_CH_BOOK | TR_CH_TICKER);
    assert_string_equal(tr_secret_reveal(&cb->key, NULL), "cb-secret-123");
    assert_string_equal(cb->key_source, "env:COINBASE_API_KEY");
    assert_int_equal(cb->ws.tls, 1);
    assert_string_equal(cb->ws.host, "ws-feed.exchange.coinbase.com");
    assert_int_equal(cb->ws.port, 443);
    assert_int_equal(cb->ws_backoff.max_ms, 300000);
    assert_int_equal(cb->snapshot_backoff.max_ms, 60000);
    assert_int_equal(cb->rotate_ms, 0);
    assert_int_equal(cb->max_connections, 4); /* default */

    const struct tr_feed_cfg *bn = tr_config_feed(&c, "binance-spot");
    assert_non_null(bn);
    assert_string_equal(tr_secret_reveal(&bn->key, NULL), "bn-secret");
    assert_int_equal(bn->rotate_ms, 23ull * 3600000);
    assert_int_equal(bn->raw_capture, 1);
    assert_string_equal(bn->ws_url, "wss://stream.binance.com:9443/ws"); /* default */
    assert_int_equal(bn->ws.port, 9443);
    assert_int_equal(bn->channels, TR_CH_TRADES | TR_CH_BOOK);

    /* the effective config never contains a credential, and parses back */
    struct tr_buf out;
    tr_buf_init(&out);
    assert_int_equal(tr_config_write(&c, &out), 0);
    assert_int_equal(tr_buf_append(&out, "", 1), 0);
    assert_null(strstr((char *)out.data, "cb-secret-123"));
    assert_null(strstr((char *)out.data, "bn-secret"));
    assert_non_null(strstr((char *)out.data, "key_env = COINBASE_API_KEY"));
    struct tr_config c2;
    setenv("COINBASE_API_KEY", "cb-secret-123", 1);
    rc = parse(&c2, (char *)out.data, &err);
    /* the key file is gone by now: everything else round-trips */
    assert_int_equal(rc, TR_ECONFIG);
    assert_non_null(strstr(err.msg, "key 'key_file'"));
    tr_config_close(&c2);
    tr_buf_free(&out);
    tr_config_close(&c);
}

static void demo_config_parses(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/scripts/demo-node.conf", getenv("TR_SOURCE_DIR"));
    struct tr_config c;
    struct tr_error err;
    tr_config_init(&c);
    int rc = tr_config_load(&c, path, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_int_equal(c.n_feeds, 3);
    for (size_t i = 0; i < c.n_feeds; i++) {
        assert_string_equal(c.feeds[i].ws.host, "127.0.0.1");
        assert_int_equal(c.feeds[i].ws.tls, 0);
    }
    assert_string_equal(c.feeds[0].rest.path, "/coinbase");
    assert_int_equal(c.feeds[1].rotate_ms, 600000);
    tr_config_close(&c);
}

static void minimal_config_gets_reference_defaults(void **state)
{
    (void)state;
    struct tr_config c;
    struct tr_error err;
    assert_int_equal(parse(&c, NODE "[feed k]\nprovider = kalshi\ninstruments = A\n"
                                    "channels = book\n", &err), 0);
    assert_string_equal(c.http_host, "127.0.0.1"); /* loopback unless configured */
    assert_int_equal(c.http_port, TR_HTTP_DEFAULT_PORT);
    const struct tr_feed_cfg *f = &c.feeds[0];
    assert_int_equal(f->ws_backoff.base_ms, 1000);
    assert_int_equal(f->ws_backoff.max_ms, 300000);
    assert_int_equal(f->registry_backoff.max_ms, 300000);
    assert_int_equal(f->snapshot_backoff.max_ms, 60000);
    assert_int_equal(c.dedup_backoff.base_ms, 500); /* default: the collector's restart */
    assert_int_equal(c.dedup_backoff.max_ms, 30000);
    assert_int_equal(f->rotate_ms, 0);
    assert_int_equal(f->rotate_overlap_ms, 5000);
    assert_false(tr_secret_is_set(&f->key));
    assert_string_equal(f->rest.host, "api.elections.kalshi.com");
    assert_string_equal(f->rest.path, "/trade-api/v2");
    assert_int_equal(c.group_commit_ms, 2);
    tr_config_close(&c);
    /* 0 = the log's leader/follower group commit (lowest durable latency) */
    assert_int_equal(parse(&c, NODE "[storage]\ngroup_commit_ms = 0\n[feed k]\nprovider = kalshi\n"
                                    "instruments = A\nchannels = book\n", &err), 0);
    assert_int_equal(c.group_commit_ms, 0);
    assert_int_equal(c.sync_threads, 1);
    assert_int_equal(c.latency_sched.policy, NSCHED_OFF);
    tr_config_close(&c);
    assert_int_equal(parse(&c, NODE "latency_sched = fifo:10\n[storage]\nsync_threads = 2\n"
                                    "[feed k]\nprovider = kalshi\ninstruments = A\n"
                                    "channels = book\n", &err), 0);
    assert_int_equal(c.sync_threads, 2);
    assert_int_equal(c.latency_sched.policy, NSCHED_FIFO);
    assert_int_equal(c.latency_sched.prio, 10);
    tr_config_close(&c);
}

static void latency_sched_values(void **state)
{
    (void)state;
    struct nsched s;
    char b[32];
    assert_int_equal(nsched_parse("nice:-5", &s), 0);
    assert_int_equal(s.policy, NSCHED_NICE);
    assert_int_equal(s.prio, -5);
    nsched_format(&s, b, sizeof b);
    assert_string_equal(b, "nice:-5");
    assert_int_equal(nsched_parse("rr:99", &s), 0);
    nsched_format(&s, b, sizeof b);
    assert_string_equal(b, "rr:99");
    assert_int_equal(nsched_parse("off", &s), 0);
    assert_int_equal(s.policy, NSCHED_OFF);
    const char *bad[] = {"fifo", "fifo:", "fifo:0", "fifo:100", "rr:1x", "nice:-21", "nice:20",
                         "realtime:5", "FIFO:5", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(nsched_parse(bad[i], &s), -1);
    /* off applies nothing and cannot fail */
    s = (struct nsched){NSCHED_OFF, 0};
    assert_int_equal(nsched_apply(&s, NSCHED_PLAIN, "test", NULL), 0);
    refused(NODE "latency_sched = fifo:0\n", "key 'latency_sched': 'fifo:0' is not off, nice:N");
    refused(NODE "[storage]\nsync_threads = 5\n", "key 'sync_threads': 5 is out of range");
    refused(NODE "[storage]\nsync_threads = 0\n", "key 'sync_threads': 0 is out of range");
}

static void unknown_key_names_file_line_and_key(void **state)
{
    (void)state;
    refused(NODE "[feed cb]\nprovider = sim\nrate = 5\n",
            "node.conf:6: key 'rate': unknown key in section [feed cb]");
    refused(NODE "colour = blue\n", "node.conf:4: key 'colour': unknown key in section [node]");
}

static void unknown_section_is_an_error(void **state)
{
    (void)state;
    refused(NODE "[nodes]\n", "node.conf:4: section [nodes]: unknown section");
    refused(NODE "[feed]\n", "node.conf:4: section [feed]: feed name");
    refused(NODE "[log extra]\n", "[log] takes no name");
}

static void duplicate_key_and_section_are_errors(void **state)
{
    (void)state;
    refused(NODE "id = 4\n", "node.conf:4: key 'id': given twice in section [node]");
    refused(NODE "[log]\n[log]\n", "node.conf:5: section [log]: given twice");
    refused(NODE "[feed a]\nprovider = sim\nws_url = ws://h/\nrest_url = http://h/\n"
                 "instruments = X\nchannels = trades\n[feed a]\n",
            "node.conf:10: section [feed a]: given twice (first at line 4)");
    refused(NODE "[feed a]\nprovider=coinbase\ninstruments = X, Y, X\n",
            "key 'instruments': instrument 'X' listed twice");
    refused(NODE "[feed a]\nkey_env = HOME\nkey_file = /etc/passwd\n",
            "key 'key_file': only one of key_env and key_file");
}

static void missing_required_key_names_the_section(void **state)
{
    (void)state;
    refused("[node]\nid = 1\n", "node.conf:1: section [node]: missing required key 'data_dir'");
    refused(NODE "\n[feed x]\nprovider = binance\nchannels = trades\n",
            "node.conf:5: section [feed x]: missing required key 'instruments'");
    refused(NODE "[feed s]\nprovider = sim\ninstruments = A\nchannels = book\n",
            "section [feed s]: provider sim needs 'ws_url' and 'rest_url'");
    refused("[log]\nlevel = info\n", "node.conf: section [node]: missing");
    refused("", "section [node]: missing");
}

static void bad_values_name_the_key(void **state)
{
    (void)state;
    refused(NODE "shutdown_timeout = 30\n", "key 'shutdown_timeout': '30' is not a duration");
    refused(NODE "shutdown_timeout = 2d\n", "key 'shutdown_timeout': 2d is out of range");
    refused("[node]\nid = 0\ndata_dir=/x\n", "node.conf:2: key 'id': 0 is out of range");
    refused("[node]\nid = 70000\n", "key 'id': 70000 is out of range");
    refused("[node]\nid = x1\n", "key 'id': 'x1' is not an integer");
    refused(NODE "[feed s]\nprovider = sim\nmax_connections = 8\n",
            "key 'max_connections': 8 is out of range");
    refused(NODE "[feed s]\nprovider = sim\nmax_connections = 0\n",
            "key 'max_connections': 0 is out of range");
    refused(NODE "[log]\nlevel = loud\n", "node.conf:5: key 'level': 'loud' is not debug");
    refused(NODE "[log]\nformat = xml\n", "key 'format': 'xml' is not logfmt or json");
    refused(NODE "[storage]\nsync = sometimes\n", "key 'sync': 'sometimes' is not every-write");
    refused(NODE "[storage]\nsegment_size = 12 parsecs\n", "key 'segment_size': '12 parsecs'");
    refused(NODE "[http]\nlisten = localhost\n", "key 'listen': expected ADDRESS:PORT");
    refused(NODE "[http]\nlisten = example.com:80\n", "'example.com' is not an IP address");
    refused(NODE "[http]\nlisten = 127.0.0.1:99999\n", "key 'listen': bad port");
    refused(NODE "[feed a]\nprovider = nyse\n", "key 'provider': unknown provider 'nyse'");
    refused(NODE "[feed a]\nchannels = trades, candles\n", "unknown channel 'candles'");
    refused(NODE "[feed a]\nws_url = ftp://x/\n", "key 'ws_url': bad URL 'ftp://x/'");
    refused(NODE "[feed a]\nws_url = http://x/\n", "key 'ws_url': 'http://x/' needs a ws://");
    refused(NODE "[feed a]\nrest_url = http://x:0/\n", "bad port");
    refused(NODE "[feed a]\nraw_capture = maybe\n", "key 'raw_capture': 'maybe' is not on/off");
    refused(NODE "[feed a]\ninstruments = A,,B\n", "key 'instruments': empty item");
    refused(NODE "[feed a]\ninstruments = A B\n", "bad character in instrument 'A B'");
    refused(NODE "[feed a]\nprovider = coinbase\ninstruments = A\nchannels = book\n"
                 "ws_backoff_base = 10m\n",
            "section [feed a]: ws_backoff_base is larger than ws_backoff_max");
    refused(NODE "[feed a]\nprovider = coinbase\ninstruments = A\nchannels = book\n"
                 "ping_interval = 10s\nping_timeout = 5s\n",
            "ping_timeout is shorter than ping_interval");
    refused(NODE "data = \n", "node.conf:4: key 'data'");
    refused(NODE "[storage]\nsync =\n", "key 'sync': empty value");
}

static void syntax_errors_name_the_line(void **state)
{
    (void)state;
    refused("[node\n", "node.conf:1: syntax error: section header");
    refused(NODE "just words\n", "node.conf:4: syntax error: expected 'key = value'");
    refused(NODE "Bad-Key = 1\n", "node.conf:4: syntax error: bad key name 'Bad-Key'");
    refused("id = 1\n", "node.conf:1: key 'id': outside any section");
    refused(NODE "[log]\nfile = \"/tmp/a\n", "key 'file': unterminated quoted value");
    refused(NODE "[log]\nfile = \"/tmp/a\" junk\n", "text after the closing quote");
    refused(NODE "[feed a]\ninstruments = A,\n", "node.conf:5: key 'instruments': list "
                                                 "continues past the end");
    refused(NODE "[feed a]\ninstruments = A,\n[log]\n", "next line is a section");
    refused(NODE "[log]\nfile = a\x01" "b\n", "control character");
}

static void quoting_comments_and_continuations(void **state)
{
    (void)state;
    struct tr_config c;
    struct tr_error err;
    int rc = parse(&c, "; leading comment\n[node]\n  id = 9   # trailing comment\n"
                       "data_dir = \"/data/with # hash\"\n[log]\nfile = /tmp/a#b\n"
                       "[feed q]\nprovider = sim\nws_url = ws://127.0.0.1:1/native\n"
                       "rest_url = http://[::1]:8080/x?y=1\ninstruments = A,\n  B,  # c\n\n C\n"
                       "channels = ticker\r\nrotate = 90s\n",
                   &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_int_equal(c.node_id, 9);
    assert_string_equal(c.data_dir, "/data/with # hash");
    assert_string_equal(c.log_file, "/tmp/a#b"); /* '#' not after a space: kept */
    assert_int_equal(c.feeds[0].n_instruments, 3);
    assert_string_equal(c.feeds[0].instruments[1], "B");
    assert_string_equal(c.feeds[0].instruments[2], "C");
    assert_int_equal(c.feeds[0].channels, TR_CH_TICKER);
    assert_string_equal(c.feeds[0].rest.host, "::1");
    assert_int_equal(c.feeds[0].rest.port, 8080);
    assert_string_equal(c.feeds[0].rest.path, "/x?y=1");
    assert_int_equal(c.feeds[0].rotate_ms, 90000);
    tr_config_close(&c);
}

static void credentials_from_env_and_file(void **state)
{
    (void)state;
    unsetenv("TR_TEST_NO_SUCH_VAR");
    refused(NODE "[feed a]\nkey_env = TR_TEST_NO_SUCH_VAR\n",
            "node.conf:5: key 'key_env': environment variable TR_TEST_NO_SUCH_VAR is not set");
    char keyp[] = "/tmp/tr_cfg_key_XXXXXX";
    int fd = mkstemp(keyp);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cr3t\r\n", 8), 8);
    close(fd);
    char text[512];
    snprintf(text, sizeof text, NODE "[feed a]\nprovider = coinbase\ninstruments = A\n"
                                     "channels = book\nkey_file = %s\n", keyp);
    chmod(keyp, 0644);
    refused(text, "is readable by others (chmod 600 it)");
    chmod(keyp, 0600);
    struct tr_config c;
    struct tr_error err;
    assert_int_equal(parse(&c, text, &err), 0);
    size_t len;
    assert_string_equal(tr_secret_reveal(&c.feeds[0].key, &len), "s3cr3t");
    assert_int_equal(len, 6);
    tr_config_close(&c);
    unlink(keyp);
    refused(text, "key 'key_file': cannot open");
}

static void value_parsers(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(tr_config_parse_duration("250ms", &v), 0);
    assert_int_equal(v, 250);
    assert_int_equal(tr_config_parse_duration("7d", &v), 0);
    assert_int_equal(v, 7 * 86400000ull);
    assert_int_equal(tr_config_parse_duration("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(tr_config_parse_duration("5", &v), TR_EINVAL);
    assert_int_equal(tr_config_parse_duration("5 s", &v), TR_EINVAL);
    assert_int_equal(tr_config_parse_duration("-5s", &v), TR_EINVAL);
    assert_int_equal(tr_config_parse_duration("99999999999999999999s", &v), TR_ERANGE);
    assert_int_equal(tr_config_parse_size("8MiB", &v), 0);
    assert_int_equal(v, 8u << 20);
    assert_int_equal(tr_config_parse_size("3KB", &v), 0);
    assert_int_equal(v, 3000);
    assert_int_equal(tr_config_parse_size("4096", &v), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(tr_config_parse_size("20000000TiB", &v), TR_ERANGE);
    assert_int_equal(tr_config_parse_size("1mb", &v), TR_EINVAL);
    struct tr_url u;
    assert_int_equal(tr_config_parse_url("wss://a.b:9443/ws?x=1", &u, NULL), 0);
    assert_int_equal(u.tls, 1);
    assert_int_equal(u.port, 9443);
    assert_string_equal(u.path, "/ws?x=1");
    assert_int_equal(tr_config_parse_url("http://h", &u, NULL), 0);
    assert_string_equal(u.path, "/");
    assert_int_equal(u.port, 80);
    assert_int_equal(tr_config_parse_url("http://user@h/", &u, NULL), TR_EINVAL);
    assert_int_equal(tr_config_parse_url("http://", &u, NULL), TR_EINVAL);
    assert_int_equal(tr_config_parse_url("http://h:80x/", &u, NULL), TR_EINVAL);
    assert_int_equal(tr_config_parse_url("http://[::1/", &u, NULL), TR_EINVAL);
}

/* wss:// and https:// on different hosts and ports (Binance's layout),
 * and the CA bundle they are verified against. */
static void tls_endpoints_on_two_hosts_and_ca_file(void **state)
{
    (void)state;
    char ca[] = "/tmp/tr_cfg_ca_XXXXXX";
    int fd = mkstemp(ca);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "-----BEGIN CERTIFICATE-----\n", 28), 28);
    close(fd);
    char text[1024];
    snprintf(text, sizeof text,
             NODE "[feed b]\nprovider = binance\ninstruments = BTCUSDT\nchannels = trades\n"
                  "ws_url = wss://stream.example.com:9443/ws\n"
                  "rest_url = https://api.example.com/v3\nca_file = %s\n", ca);
    struct tr_config c;
    struct tr_error err;
    assert_int_equal(parse(&c, text, &err), 0);
    const struct tr_feed_cfg *f = tr_config_feed(&c, "b");
    assert_non_null(f);
    assert_true(f->ws.tls && f->rest.tls);
    assert_string_equal(f->ws.host, "stream.example.com");
    assert_int_equal(f->ws.port, 9443);
    assert_string_equal(f->rest.host, "api.example.com");
    assert_int_equal(f->rest.port, 443);
    assert_string_equal(f->ca_file, ca);
    struct tr_buf out;
    tr_buf_init(&out);
    assert_int_equal(tr_config_write(&c, &out), 0);
    assert_int_equal(tr_buf_append(&out, "", 1), 0);
    assert_non_null(strstr((const char *)out.data, "ca_file = "));
    assert_non_null(strstr((const char *)out.data, ca));
    tr_buf_free(&out);
    tr_config_close(&c);
    /* no ca_file: the system store, written as a comment */
    assert_int_equal(parse(&c, NODE "[feed k]\nprovider = kalshi\ninstruments = A\n"
                                    "channels = book\n", &err), 0);
    assert_null(tr_config_feed(&c, "k")->ca_file);
    tr_buf_init(&out);
    assert_int_equal(tr_config_write(&c, &out), 0);
    assert_int_equal(tr_buf_append(&out, "", 1), 0);
    assert_non_null(strstr((const char *)out.data, "# ca_file = " TR_CFG_CA_DEFAULT));
    tr_buf_free(&out);
    tr_config_close(&c);
    unlink(ca);
    refused(NODE "[feed b]\nprovider = binance\ninstruments = X\nchannels = trades\n"
                 "ca_file = /nonexistent/ca.pem\n",
            "node.conf:8: key 'ca_file': cannot open /nonexistent/ca.pem");
    refused(NODE "[feed b]\nprovider = binance\ninstruments = X\nchannels = trades\n"
                 "ca_file = /tmp\n",
            "node.conf:8: key 'ca_file': /tmp is not a non-empty regular file");
    refused(NODE "[feed b]\nprovider = binance\ninstruments = X\nchannels = trades\n"
                 "rest_url = wss://api.example.com\n",
            "key 'rest_url': 'wss://api.example.com' needs a http:// or https:// URL");
}

static void load_reports_a_missing_file(void **state)
{
    (void)state;
    struct tr_config c;
    struct tr_error err;
    tr_config_init(&c);
    assert_int_equal(tr_config_load(&c, "/nonexistent/node.conf", &err), TR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "/nonexistent/node.conf"));
    tr_config_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(example_file_parses_with_every_key),
        cmocka_unit_test(demo_config_parses),
        cmocka_unit_test(minimal_config_gets_reference_defaults),
        cmocka_unit_test(latency_sched_values),
        cmocka_unit_test(unknown_key_names_file_line_and_key),
        cmocka_unit_test(unknown_section_is_an_error),
        cmocka_unit_test(duplicate_key_and_section_are_errors),
        cmocka_unit_test(missing_required_key_names_the_section),
        cmocka_unit_test(bad_values_name_the_key),
        cmocka_unit_test(syntax_errors_name_the_line),
        cmocka_unit_test(quoting_comments_and_continuations),
        cmocka_unit_test(credentials_from_env_and_file),
        cmocka_unit_test(value_parsers),
        cmocka_unit_test(load_reports_a_missing_file),
        cmocka_unit_test(tls_endpoints_on_two_hosts_and_ca_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
