/* fuzz_resp.c - libFuzzer harness of the RESP request parser (src/resp.c).
 *
 * Input: two bytes that seed the split, then the byte stream a client sends. The
 * stream is parsed twice: whole, and in random-size pieces appended to a growing
 * buffer exactly as src/worker.c's client_read/client_process feed it (parse while
 * requests complete, skip parsing while rlen < rneed, compact the unparsed tail to the
 * start of the buffer). Aborts when an invariant breaks: consumed within the bytes
 * offered, arguments inside the consumed bytes, need larger than what was offered,
 * nothing completing before need is reached, and the same requests (and the same
 * final error) from both feedings. Each feeding parses its own copy: inline requests
 * are unescaped in place. */
#include "kvns/resp.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The requests one feeding produced, arguments copied out of the parse buffer. */
typedef struct parsed {
    size_t  nreq;
    size_t *argc;        /* per request */
    char  **args;        /* per request: the arguments, each as u64 length + bytes */
    size_t *args_len;
    const char *error;   /* the error that stopped the stream, or NULL */
    char    error_copy[128];
} parsed;

/* Prints why the run is a finding and aborts (libFuzzer saves the input). */
static void finding(const char *what)
{
    fprintf(stderr, "fuzz_resp: %s\n", what);
    abort();
}

/* Checks one RESP_OK result against the bytes offered and records the request. */
static void record_request(parsed *out, const resp_request *req, const char *buf, size_t avail,
                           size_t consumed)
{
    if (consumed == 0 || consumed > avail)
        finding("consumed is 0 or more than the bytes offered");
    size_t bytes = 0;
    for (size_t i = 0; i < req->argc; i++) {
        const resp_arg *a = &req->argv[i];
        if (a->ptr < buf || a->ptr > buf + consumed || a->len > (size_t)(buf + consumed - a->ptr))
            finding("an argument lies outside the consumed bytes");
        bytes += sizeof(uint64_t) + a->len;
    }
    out->argc = realloc(out->argc, (out->nreq + 1) * sizeof *out->argc);
    out->args = realloc(out->args, (out->nreq + 1) * sizeof *out->args);
    out->args_len = realloc(out->args_len, (out->nreq + 1) * sizeof *out->args_len);
    char *flat = malloc(bytes ? bytes : 1);
    if (!out->argc || !out->args || !out->args_len || !flat)
        finding("out of memory");
    size_t pos = 0;
    for (size_t i = 0; i < req->argc; i++) {
        uint64_t len = req->argv[i].len;
        memcpy(flat + pos, &len, sizeof len);
        memcpy(flat + pos + sizeof len, req->argv[i].ptr, len);
        pos += sizeof len + len;
    }
    out->argc[out->nreq] = req->argc;
    out->args[out->nreq] = flat;
    out->args_len[out->nreq] = bytes;
    out->nreq++;
}

/* Records the error that ends the stream (the parser's message buffer is reused). */
static void record_error(parsed *out, const char *err)
{
    if (!err)
        finding("RESP_ERROR without a message");
    snprintf(out->error_copy, sizeof out->error_copy, "%s", err);
    out->error = out->error_copy;
}

/* Checks a RESP_INCOMPLETE result's need against the bytes offered. */
static void check_need(size_t need, size_t avail)
{
    if (need != 0 && need <= avail)
        finding("need is not more than the bytes already offered");
}

/* Parses the whole stream from one buffer. */
static void parse_whole(const uint8_t *stream, size_t n, parsed *out)
{
    char *buf = malloc(n ? n : 1);
    if (!buf)
        finding("out of memory");
    memcpy(buf, stream, n);
    resp_request req = { 0 };
    size_t pos = 0;
    while (pos < n) {
        size_t consumed = 0, need = 0;
        const char *err = NULL;
        int rc = resp_parse(&req, buf + pos, n - pos, &consumed, &need, &err);
        if (rc == RESP_INCOMPLETE) {
            check_need(need, n - pos);
            break;
        }
        if (rc == RESP_ERROR) {
            record_error(out, err);
            break;
        }
        record_request(out, &req, buf + pos, n - pos, consumed);
        pos += consumed;
    }
    resp_request_free(&req);
    free(buf);
}

/* The next piece size of the split: mostly small, sometimes up to a few KiB. */
static size_t next_piece(uint32_t *rng, size_t left)
{
    *rng = *rng * 1103515245u + 12345u;
    uint32_t r = *rng >> 16;
    size_t piece = (r & 3) == 0 ? 1 + r % 4096 : 1 + r % 16;
    return piece < left ? piece : left;
}

/* Returns true when parsing a copy of buf[0..len) gives RESP_INCOMPLETE: what the
 * worker assumes when it skips parsing because rlen < rneed. */
static bool still_incomplete(const char *buf, size_t len)
{
    char *copy = malloc(len ? len : 1);
    if (!copy)
        finding("out of memory");
    memcpy(copy, buf, len);
    resp_request req = { 0 };
    size_t consumed = 0, need = 0;
    const char *err = NULL;
    int rc = resp_parse(&req, copy, len, &consumed, &need, &err);
    resp_request_free(&req);
    free(copy);
    return rc == RESP_INCOMPLETE;
}

/* Feeds the stream in pieces the way the worker does and parses after each piece. */
static void parse_pieces(const uint8_t *stream, size_t n, uint32_t rng, parsed *out)
{
    char *rbuf = NULL;
    size_t rlen = 0, rpos = 0, rneed = 0, fed = 0;
    resp_request req = { 0 };
    while (fed < n && !out->error) {
        size_t piece = next_piece(&rng, n - fed);
        char *nb = realloc(rbuf, rlen + piece);   /* exact size: ASan sees any overread */
        if (!nb)
            finding("out of memory");
        rbuf = nb;
        memcpy(rbuf + rlen, stream + fed, piece);
        rlen += piece;
        fed += piece;
        while (rpos < rlen) {
            if (rneed && rlen < rneed) {
                if (!still_incomplete(rbuf + rpos, rlen - rpos))
                    finding("a request completes before rlen reaches rneed");
                break;
            }
            size_t consumed = 0, need = 0;
            const char *err = NULL;
            int rc = resp_parse(&req, rbuf + rpos, rlen - rpos, &consumed, &need, &err);
            if (rc == RESP_INCOMPLETE) {
                check_need(need, rlen - rpos);
                rneed = need ? rpos + need : 0;
                break;
            }
            rneed = 0;
            if (rc == RESP_ERROR) {
                record_error(out, err);
                break;
            }
            record_request(out, &req, rbuf + rpos, rlen - rpos, consumed);
            rpos += consumed;
        }
        if (rpos == rlen) {
            rpos = rlen = rneed = 0;
        } else if (rpos > 0) {
            memmove(rbuf, rbuf + rpos, rlen - rpos);
            rlen -= rpos;
            if (rneed)
                rneed -= rpos;
            rpos = 0;
        }
    }
    resp_request_free(&req);
    free(rbuf);
}

static void parsed_free(parsed *p)
{
    for (size_t i = 0; i < p->nreq; i++)
        free(p->args[i]);
    free(p->argc);
    free(p->args);
    free(p->args_len);
}

/* Aborts unless both feedings produced the same requests and the same end. */
static void compare(const parsed *whole, const parsed *pieces)
{
    if (whole->nreq != pieces->nreq)
        finding("whole and piecewise feeding parse a different number of requests");
    for (size_t i = 0; i < whole->nreq; i++) {
        if (whole->argc[i] != pieces->argc[i] || whole->args_len[i] != pieces->args_len[i] ||
            memcmp(whole->args[i], pieces->args[i], whole->args_len[i]) != 0)
            finding("whole and piecewise feeding parse different requests");
    }
    if ((whole->error == NULL) != (pieces->error == NULL) ||
        (whole->error && strcmp(whole->error, pieces->error) != 0))
        finding("whole and piecewise feeding end differently");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint32_t rng = (uint32_t)data[0] | (uint32_t)data[1] << 8;
    parsed whole = { 0 }, pieces = { 0 };
    parse_whole(data + 2, size - 2, &whole);
    parse_pieces(data + 2, size - 2, rng, &pieces);
    compare(&whole, &pieces);
    parsed_free(&whole);
    parsed_free(&pieces);
    return 0;
}
