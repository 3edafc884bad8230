/* fuzz_http.c - libFuzzer harness of the metrics endpoint's request parsing
 * (metrics_http_route in src/metrics_http.c).
 *
 * Input: one byte that seeds the split, then the bytes a scraper sends. They are
 * appended in random-size pieces to a connection-sized buffer as conn_read does
 * (NUL-terminated after each piece, at most HTTP_REQUEST_MAX - 1 bytes) and routed
 * after each piece until the route is decided. Aborts when an invariant breaks: a
 * decided route must be a known one, routing the same bytes again must give the same
 * answer, a served route (/metrics, /health) needs a GET or HEAD request line and
 * HEAD-only answers need HEAD; an incomplete head must stay below the size limit. */
#include "../../src/metrics_internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints why the run is a finding and aborts (libFuzzer saves the input). */
static void finding(const char *what)
{
    fprintf(stderr, "fuzz_http: %s\n", what);
    abort();
}

/* Checks one decided route against the head it was decided on. */
static void check_route(enum http_route route, bool head_only, const char *req, size_t len)
{
    if (route < HTTP_ROUTE_TOO_LARGE || route > HTTP_ROUTE_HEALTH)
        finding("unknown route");
    bool again_head_only;
    if (metrics_http_route(req, len, &again_head_only) != route || again_head_only != head_only)
        finding("routing the same head twice answers differently");
    bool served = route == HTTP_ROUTE_METRICS || route == HTTP_ROUTE_HEALTH;
    if (served && strncmp(req, "GET /", 5) != 0 && strncmp(req, "HEAD /", 6) != 0)
        finding("a served route without a GET or HEAD request line");
    if (head_only && strncmp(req, "HEAD ", 5) != 0)
        finding("a HEAD-only answer to a request that is not HEAD");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint32_t rng = data[0];
    data++;
    size--;
    static char req[HTTP_REQUEST_MAX];
    size_t len = 0, fed = 0;
    while (fed < size) {
        rng = rng * 1103515245u + 12345u;
        size_t piece = 1 + (rng >> 16) % 64;
        size_t room = HTTP_REQUEST_MAX - 1 - len;
        if (piece > size - fed)
            piece = size - fed;
        if (piece > room)
            piece = room;
        memcpy(req + len, data + fed, piece);
        len += piece;
        fed += piece;
        req[len] = 0;
        bool head_only;
        enum http_route route = metrics_http_route(req, len, &head_only);
        if (route != HTTP_ROUTE_INCOMPLETE) {
            check_route(route, head_only, req, len);
            return 0;
        }
        if (len >= HTTP_REQUEST_MAX - 1)
            finding("a full buffer routed as incomplete");
    }
    return 0;
}
