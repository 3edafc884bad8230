/* fuzz_snapshot.c - libFuzzer harness of the snapshot loader (shm/snapshot_load.c).
 *
 * Each input is written to a file and loaded with persist_load into an in-process
 * arena (tests/harness_arena.c: created once, emptied before every input); after every
 * load, successful or not, the arena checker behind DEBUG CHECK (store_check) must
 * pass, else the run aborts: a finding.
 *
 * KVNS_FUZZ_FIX_CRC=1 recomputes the file's checksums before loading (header, each
 * section's header and payload, the footer's section and record counts and its
 * checksum of all sections), so mutated records get past the CRC checks and reach the
 * record parser and the inserts. Without it the raw bytes are loaded (the checksum
 * and structure checks themselves get fuzzed). */
#include "../harness_arena.h"
#include "kvns/persist.h"
#include "kvns/store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kv_txn txn;
static char snap_path[64];
static bool fix_crc;

static uint32_t get_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get_u64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* Rewrites every checksum of the snapshot image p[0..size) (and the footer's counts)
 * to match its content, as far as its structure can be followed. */
static void fix_checksums(uint8_t *p, size_t size)
{
    if (size < SNAP_HEADER_BYTES)
        return;
    put_u32(p + 36, crc32c_update(0, p, 36));
    uint64_t sections = get_u64(p + 24), records = 0, done = 0;
    size_t pos = SNAP_HEADER_BYTES;
    uint32_t body_crc = 0;
    for (; done < sections && size - pos >= SNAP_SECTION_BYTES; done++) {
        uint8_t *h = p + pos;
        uint64_t payload = get_u64(h + 16);
        if (payload > size - pos - SNAP_SECTION_BYTES)
            return;
        put_u32(h + 24, crc32c_update(0, h + SNAP_SECTION_BYTES, payload));
        put_u32(h + 28, crc32c_update(0, h, 28));
        body_crc = crc32c_update(body_crc, h, SNAP_SECTION_BYTES + payload);
        records += get_u32(h + 12);
        pos += SNAP_SECTION_BYTES + payload;
    }
    if (done < sections || size - pos < SNAP_FOOTER_BYTES)
        return;
    uint8_t *f = p + pos;
    put_u64(f + 8, sections);
    put_u64(f + 16, records);
    put_u32(f + 24, body_crc);
    put_u32(f + 28, crc32c_update(0, f, 28));
}

/* Writes the image to the harness's file. */
static void write_snapshot(const uint8_t *p, size_t size)
{
    FILE *f = fopen(snap_path, "wb");
    if (!f || fwrite(p, 1, size, f) != size || fclose(f) != 0) {
        perror(snap_path);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Creates the arena once and picks the mode. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *fix = getenv("KVNS_FUZZ_FIX_CRC");
    fix_crc = fix && strcmp(fix, "1") == 0;
    snprintf(snap_path, sizeof snap_path, "/dev/shm/kvns-fuzz-snapshot-%d", (int)getpid());
    arena_fixture_reset(&txn, 8, 64u << 20);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *image = malloc(size ? size : 1);
    if (!image)
        abort();
    memcpy(image, data, size);
    if (fix_crc)
        fix_checksums(image, size);
    write_snapshot(image, size);
    free(image);
    arena_fixture_reset(&txn, 8, 64u << 20);
    persist_report rep;
    bool missing = false;
    persist_load(snap_path, &txn, &rep, &missing);
    char err[256] = "";
    if (store_check(&txn, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_snapshot: store_check after loading (%s: %s): %s\n",
                persist_error_name(rep.error), rep.message, err);
        abort();
    }
    unlink(snap_path);
    return 0;
}
