// ioredis against a server on 127.0.0.1:PORT, one scenario per run:
//
//     NODE_PATH=BUILD/clients/node_modules node tests/clients/ioredis.js PORT SCENARIO
//
// Each scenario prints "name: value" lines (values as JSON) that tests/it_clients.c
// compares with Redis 7's results, and exits 0; an error makes it exit 1 with the
// reason on stderr. The client connects as ioredis does by default: HELLO 3 (falling
// back to RESP2 only on NOPROTO or an unknown HELLO), CLIENT SETINFO, then the ready
// check (INFO, waiting while "loading" is not 0).
"use strict";
const Redis = require("ioredis");

const port = Number(process.argv[2]);

// A connected client; options override the defaults (no retries: a failure is reported).
async function connect(options) {
    const client = new Redis({ host: "127.0.0.1", port, lazyConnect: true,
                               maxRetriesPerRequest: 0, retryStrategy: () => null,
                               ...options });
    await client.connect();
    return client;
}

// The pid of the process serving client's connection (INFO server's process_id), and
// how many worker processes the server runs (kvns's kvns_workers; 1 for redis-server).
async function workerPid(client) {
    return /^process_id:(\d+)/m.exec(await client.info("server"))[1];
}
async function workerCount(client) {
    return Number((/^kvns_workers:(\d+)/m.exec(await client.info("server")) || [0, 1])[1]);
}

// A client whose connection a process other than client's serves: kvns's workers share
// one listener and an idle one often takes many new connections in a row, so client's
// worker is kept busy (DEBUG SLEEP) meanwhile and up to 500 are tried. A server of one
// process gives the first one.
async function connectElsewhere(client) {
    const pid = await workerPid(client), single = await workerCount(client) < 2;
    const busy = single ? null : client.call("DEBUG", "SLEEP", "0.5");
    for (let i = 0; ; i++) {
        const other = await connect();
        if (single || i === 499 || await workerPid(other) !== pid) {
            await busy;
            return other;
        }
        other.disconnect();
    }
}

function show(name, value) {
    console.log(`${name}: ${JSON.stringify(value)}`);
}

// [[error, result]...] as JSON-friendly pairs: an error becomes its message.
function pairs(results) {
    return results.map(([err, res]) => (err ? ["error", err.message] : [null, res]));
}

const scenarios = {
    // The connection itself: the ready check passed, the protocol HELLO settled on,
    // what CLIENT SETINFO left in CLIENT INFO, and the RESP2 fallback option.
    async handshake() {
        const client = await connect({ connectionName: "kvns-io" });
        show("status", client.status);
        show("server info loading", (await client.info("persistence")).match(/^loading:(\d+)/m)[1]);
        const mine = await client.client("INFO");
        show("client name", /\bname=(\S*)/.exec(mine)[1]);
        // lib-name is Redis 7.2's (7.0 has no CLIENT SETINFO)
        show("client lib-name", (/\blib-name=(\S*)/.exec(mine) || [null, "(none)"])[1]);
        show("resp", /\bresp=(\d)/.exec(mine)[1]);
        show("hgetall", await client.hset("io:h", "f", "v").then(() => client.hgetall("io:h")));
        client.disconnect();
        const resp2 = await connect({ protocol: 2 });
        show("resp2", /\bresp=(\d)/.exec(await resp2.client("INFO"))[1]);
        show("resp2 hgetall", await resp2.hgetall("io:h"));
        resp2.disconnect();
    },

    // multi().set().incr().get().exec(): [[null, result]...]; a run-time error stays
    // in its slot; a command refused while queueing rejects exec() with EXECABORT.
    async multi() {
        const client = await connect();
        await client.del("io:m", "io:s");
        show("exec", await client.multi().set("io:m", "1").incr("io:m").get("io:m")
            .expire("io:m", 100).exec());
        show("with error", pairs(await client.multi().set("io:s", "v").lpush("io:s", "x")
            .incr("io:m").exec()));
        try {
            await client.multi().set("io:m", "100").call("GET").exec();
            show("execabort", "none");
        } catch (err) {
            show("execabort", err.message);
            show("previous", err.previousErrors.map((e) => e.message));
        }
        show("after abort", await client.get("io:m"));
        // replies of other shapes inside EXEC's array (maps, doubles, sets under RESP3)
        show("typed", await client.multi().hset("io:h", "f", "v", "g", "w").hgetall("io:h")
            .zadd("io:z", "1.5", "m").zscore("io:z", "m").sadd("io:t", "a").smembers("io:t")
            .zrange("io:z", 0, -1, "WITHSCORES").ttl("io:h").type("io:h").exec());
        client.disconnect();
    },

    // pipeline(): plain pipelining, results in order, an error in its slot.
    async pipeline() {
        const client = await connect();
        await client.del("io:p");
        const results = await client.pipeline().incr("io:p").incrby("io:p", 5)
            .lpush("io:p", "x").get("io:p").exec();
        show("pipeline", pairs(results));
        client.disconnect();
    },

    // WATCH, a change from a connection of another worker, MULTI...EXEC: exec()
    // answers null and nothing queued ran; after that the same transaction goes through.
    async watch() {
        const client = await connect();
        const other = await connectElsewhere(client);
        show("other worker", await workerPid(other) !== await workerPid(client));
        await client.set("io:w", "1");
        show("watch", await client.watch("io:w"));
        await other.set("io:w", "2");
        show("aborted exec", await client.multi().set("io:w", "mine").exec());
        show("value", await client.get("io:w"));
        await client.watch("io:w");
        show("exec", await client.multi().set("io:w", "mine").exec());
        show("value", await client.get("io:w"));
        client.disconnect();
        other.disconnect();
    },

    // defineCommand: the first call on a connection is EVAL with the body (filling the
    // script cache), later ones EVALSHA; after SCRIPT FLUSH, NOSCRIPT makes ioredis
    // send EVAL again; the command inside multi(); eval/evalsha/script directly.
    async scripts() {
        const client = await connect();
        await client.del("io:s");
        await client.script("FLUSH");
        client.defineCommand("addTwice", {
            numberOfKeys: 1,
            lua: "local n = redis.call('INCRBY', KEYS[1], ARGV[1]) " +
                 "return {n, redis.call('INCRBY', KEYS[1], ARGV[1]), ARGV[1]}",
        });
        show("first", await client.addTwice("io:s", 3));
        show("second", await client.addTwice("io:s", 1));
        await client.script("FLUSH");
        show("after flush", await client.addTwice("io:s", 1));
        show("multi", await client.multi().addTwice("io:s", 10).get("io:s").exec());
        const sha = await client.script("LOAD", "return redis.call('GET', KEYS[1])");
        show("sha", sha);
        show("evalsha", await client.evalsha(sha, 1, "io:s"));
        show("script exists", await client.script("EXISTS", sha, "0".repeat(40)));
        show("eval types", await client.eval(
            "return {1, 'two', false, {3}, redis.status_reply('FINE')}", 0));
        try {
            await client.eval("return redis.error_reply('MINE failed')", 0);
            show("error reply", "none");
        } catch (err) {
            show("error reply", err.message);
        }
        client.disconnect();
    },
};

scenarios[process.argv[3]]().then(
    () => process.exit(0),
    (err) => { console.error(`ioredis ${process.argv[3]}: ${err.stack || err}`); process.exit(1); });
