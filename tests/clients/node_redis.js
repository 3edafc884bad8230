// node-redis ("redis" on npm) against a server on 127.0.0.1:PORT, one scenario per run:
//
//     NODE_PATH=BUILD/clients/node_modules node tests/clients/node_redis.js PORT SCENARIO [RESP]
//
// Each scenario prints "name: value" lines (values as JSON) that tests/it_clients.c
// compares with Redis 7's results, and exits 0; an error makes it exit 1 with the
// reason on stderr. RESP is 3 (node-redis's default: HELLO 3 at connect, then CLIENT
// SETINFO and CLIENT MAINT_NOTIFICATIONS, whose errors it ignores) or 2 (no HELLO).
"use strict";
const { createClient, defineScript, WatchError, MultiErrorReply } = require("redis");

const port = Number(process.argv[2]);
const resp = Number(process.argv[4] || 3);

// addTwice(key, n): INCRBY key n twice, answering both results and n.
const addTwice = defineScript({
    NUMBER_OF_KEYS: 1,
    SCRIPT: "local n = redis.call('INCRBY', KEYS[1], ARGV[1]) " +
            "return {n, redis.call('INCRBY', KEYS[1], ARGV[1]), ARGV[1]}",
    parseCommand(parser, key, n) {
        parser.pushKey(key);
        parser.push(String(n));
    },
    transformReply: undefined,
});

// A connected client speaking RESP resp, with the script addTwice, named name (sent in
// HELLO under RESP3, by CLIENT SETNAME under RESP2) unless it is undefined; connection
// errors are reported, not retried.
async function connect(name) {
    const client = createClient({ url: `redis://127.0.0.1:${port}`, RESP: resp, name,
                                  scripts: { addTwice },
                                  socket: { reconnectStrategy: false, connectTimeout: 10000 } });
    client.on("error", (err) => {
        console.error(`node-redis: ${err.stack || err}`);
        process.exit(1);
    });
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
    const busy = single ? null : client.sendCommand(["DEBUG", "SLEEP", "0.5"]);
    for (let i = 0; ; i++) {
        const other = await connect();
        if (single || i === 499 || await workerPid(other) !== pid) {
            await busy;
            return other;
        }
        other.destroy();
    }
}

function show(name, value) {
    console.log(`${name}: ${JSON.stringify(value)}`);
}

const scenarios = {
    // The connection: the protocol it settled on, the name it gave, what CLIENT
    // SETINFO left in CLIENT INFO, and a map reply decoded in that protocol.
    async handshake() {
        const client = await connect("kvns-nr");
        const mine = await client.clientInfo();
        show("resp", mine.resp);
        show("name", mine.name);
        show("lib-name", mine.libName === undefined ? "(none)" : mine.libName);
        await client.hSet("nr:h", "f", "v");
        show("hgetall", await client.hGetAll("nr:h"));
        show("ping", await client.ping());
        client.destroy();
    },

    // multi().set().incr().get().exec(): the replies in order; a run-time error makes
    // exec() throw MultiErrorReply holding every reply; a command refused while
    // queueing rejects exec() with EXECABORT.
    async multi() {
        const client = await connect();
        await client.del(["nr:m", "nr:s"]);
        show("exec", await client.multi().set("nr:m", "1").incr("nr:m").get("nr:m")
            .expire("nr:m", 100).exec());
        try {
            await client.multi().set("nr:s", "v").lPush("nr:s", "x").incr("nr:m").exec();
            show("with error", "no error");
        } catch (err) {
            if (!(err instanceof MultiErrorReply))
                throw err;
            show("with error", err.replies.map((r) => (r instanceof Error ? r.message : r)));
            show("error indexes", err.errorIndexes);
        }
        try {
            await client.multi().set("nr:m", "100").addCommand(["GET"]).exec();
            show("execabort", "none");
        } catch (err) {
            show("execabort", err.message);
        }
        show("after abort", await client.get("nr:m"));
        // replies of other shapes inside EXEC's array (maps, doubles, sets under RESP3)
        await client.del(["nr:h", "nr:z", "nr:t"]);
        show("typed", await client.multi().hSet("nr:h", { f: "v", g: "w" }).hGetAll("nr:h")
            .zAdd("nr:z", { score: 1.5, value: "m" }).zScore("nr:z", "m").sAdd("nr:t", "a")
            .sMembers("nr:t").zRangeWithScores("nr:z", 0, -1).ttl("nr:h").type("nr:h").exec());
        client.destroy();
    },

    // execAsPipeline(): plain pipelining, replies in order.
    async pipeline() {
        const client = await connect();
        await client.del("nr:p");
        show("pipeline", await client.multi().incr("nr:p").incrBy("nr:p", 5).get("nr:p")
            .execAsPipeline());
        client.destroy();
    },

    // WATCH, a change from a connection of another worker, MULTI...EXEC: exec()
    // throws WatchError and nothing queued ran; after that the same transaction goes
    // through.
    async watch() {
        const client = await connect();
        const other = await connectElsewhere(client);
        show("other worker", await workerPid(other) !== await workerPid(client));
        await client.set("nr:w", "1");
        show("watch", await client.watch("nr:w"));
        await other.set("nr:w", "2");
        try {
            await client.multi().set("nr:w", "mine").exec();
            show("aborted exec", "no error");
        } catch (err) {
            if (!(err instanceof WatchError))
                throw err;
            show("aborted exec", "WatchError");
        }
        show("value", await client.get("nr:w"));
        await client.watch("nr:w");
        show("exec", await client.multi().set("nr:w", "mine").exec());
        show("value", await client.get("nr:w"));
        client.destroy();
        other.destroy();
    },

    // scriptLoad + evalSha; a defineScript script (EVALSHA first, EVAL on NOSCRIPT, which
    // SCRIPT FLUSH forces), inside multi() too (EVAL the first time there).
    async scripts() {
        const client = await connect();
        await client.del("nr:s");
        await client.scriptFlush();
        const sha = await client.scriptLoad("return redis.call('INCRBY', KEYS[1], ARGV[1])");
        show("sha", sha);
        show("evalSha", await client.evalSha(sha, { keys: ["nr:s"], arguments: ["4"] }));
        show("script exists", await client.scriptExists([sha, "0".repeat(40)]));
        await client.scriptFlush();
        show("addTwice", await client.addTwice("nr:s", 3));
        show("again", await client.addTwice("nr:s", 1));
        show("multi", await client.multi().addTwice("nr:s", 10).get("nr:s").exec());
        try {
            await client.evalSha("0".repeat(40));
            show("noscript", "none");
        } catch (err) {
            show("noscript", err.message);
        }
        client.destroy();
    },
};

scenarios[process.argv[3]]().then(
    () => process.exit(0),
    (err) => { console.error(`node-redis ${process.argv[3]}: ${err.stack || err}`); process.exit(1); });
