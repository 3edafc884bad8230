#!/usr/bin/python3
"""redis-py (Debian python3-redis) against a server on 127.0.0.1:PORT, one scenario per run.

    /usr/bin/python3 tests/clients/redis_py.py PORT SCENARIO

Each scenario prints "name: value" lines that tests/it_clients.c compares with Redis 7's
results, and exits 0; an exception makes it exit non-zero with the traceback on stderr.
Scenario "features" prints what the installed redis-py supports ("resp3: yes|no") so the
C test can skip, with that reason, what this version of the library cannot do."""
import sys
import threading

import redis

PORT = int(sys.argv[1])


def connect(**kwargs):
    """A client of its own connection pool with a 10 s socket timeout."""
    return redis.Redis(host="127.0.0.1", port=PORT, socket_timeout=10, **kwargs)


def worker_pid(client):
    """The pid of the process serving client's connection (INFO server's process_id)."""
    return client.info("server")["process_id"]


def connect_elsewhere(client):
    """A client whose connection a process other than client's serves: kvns's workers
    share one listener and an idle one often takes many new connections in a row, so
    client's worker is kept busy (DEBUG SLEEP, from a thread) meanwhile and up to 500
    are tried. A server of one process (no kvns_workers in INFO, or 1) gives the first
    one."""
    pid, workers = worker_pid(client), client.info("server").get("kvns_workers", 1)
    busy = None
    if workers >= 2:
        busy = threading.Thread(target=client.execute_command, args=("DEBUG", "SLEEP", "0.5"))
        busy.start()
    for _ in range(500):
        other = connect()
        if workers < 2 or worker_pid(other) != pid:
            break
        other.close()
    if busy:
        busy.join()
    return other


def features():
    """What the installed library can do, and its version."""
    major = int(redis.__version__.split(".")[0])
    print("version: %s" % redis.__version__)
    print("resp3: %s" % ("yes" if major >= 5 else "no"))
    print("setinfo: %s" % ("yes" if hasattr(redis.Redis, "client_setinfo") else "no"))
    print("lock: %s" % ("yes" if hasattr(redis.Redis, "lock") else "no"))


def pipeline_transaction():
    """MULTI, SET, INCR, GET, EXPIRE, EXEC in one batch: EXEC's array, parsed per command."""
    r = connect()
    r.delete("py:pipe")
    pipe = r.pipeline(transaction=True)
    pipe.set("py:pipe", "1").incr("py:pipe").get("py:pipe").expire("py:pipe", 100)
    print("results: %r" % (pipe.execute(),))
    print("ttl: %d" % r.ttl("py:pipe"))
    # an empty transaction sends nothing; a plain pipeline is no transaction at all
    plain = r.pipeline(transaction=False)
    plain.incr("py:pipe").incrby("py:pipe", 5).get("py:pipe")
    print("plain: %r" % (plain.execute(),))


def pipeline_errors():
    """A run-time error inside EXEC (WRONGTYPE) is kept with the others' results; a command
    refused while queueing (wrong arity) aborts the whole transaction."""
    r = connect()
    r.delete("py:err", "py:str")
    pipe = r.pipeline(transaction=True)
    pipe.set("py:str", "v").lpush("py:str", "x").incr("py:err").get("py:str")
    results = pipe.execute(raise_on_error=False)
    for i, res in enumerate(results):
        if isinstance(res, Exception):
            print("result %d: %s %s" % (i, type(res).__name__, res))
        else:
            print("result %d: %r" % (i, res))
    try:
        pipe = r.pipeline(transaction=True)
        pipe.set("py:err", "100").execute_command("GET")
        pipe.execute()
        print("execabort: none")
    except redis.exceptions.ResponseError as e:
        print("execabort: %s" % e)
    print("after abort: %r" % (r.get("py:err"),))


def watch_retry():
    """r.transaction(func, key): the first attempt sees a connection of another worker
    change the watched key between WATCH and EXEC (WatchError inside redis-py), the
    retry goes through."""
    r = connect()
    other = connect_elsewhere(r)
    print("other worker: %r" % (worker_pid(other) != worker_pid(r),))
    r.set("py:acct", "1")
    attempts = []

    def add_ten(pipe):
        attempts.append(1)
        value = int(pipe.get("py:acct"))
        if len(attempts) == 1:
            other.incr("py:acct")
        pipe.multi()
        pipe.set("py:acct", value + 10)
        pipe.get("py:acct")

    results = r.transaction(add_ten, "py:acct")
    print("attempts: %d" % len(attempts))
    print("results: %r" % (results,))
    print("value: %r" % (r.get("py:acct"),))
    # A WatchError reaches the caller of a hand-driven WATCH pipeline
    with r.pipeline() as pipe:
        pipe.watch("py:acct")
        other.set("py:acct", "0")
        pipe.multi()
        pipe.incr("py:acct")
        try:
            pipe.execute()
            print("watch error: none")
        except redis.exceptions.WatchError:
            print("watch error: WatchError")
    print("untouched: %r" % (r.get("py:acct"),))


def pool_threads():
    """Eight threads share one pool of at most eight connections, each doing 250 INCRs and
    25 two-command transactions: every increment is counted once."""
    pool = redis.ConnectionPool(host="127.0.0.1", port=PORT, socket_timeout=10,
                                max_connections=8)
    r = redis.Redis(connection_pool=pool)
    r.delete("py:count", "py:txcount")
    errors = []

    def work():
        try:
            for i in range(250):
                r.incr("py:count")
                if i % 10 == 0:
                    pipe = r.pipeline(transaction=True)
                    pipe.incr("py:txcount").incr("py:txcount")
                    pipe.execute()
        except Exception as e:  # reported below: a thread's exception is otherwise lost
            errors.append(repr(e))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("errors: %r" % (errors,))
    print("count: %s" % r.get("py:count").decode())
    print("txcount: %s" % r.get("py:txcount").decode())
    print("connections: %d" % len(pool._available_connections))


def handshake():
    """What redis-py sends and parses around a connection: CLIENT SETNAME at connect
    (client_name=), CLIENT GETNAME, CLIENT LIST and INFO through its own parsers,
    CLIENT SETINFO as redis-py 5 sends it."""
    r = connect(client_name="kvns-py")
    print("getname: %r" % (r.client_getname(),))
    mine = [c for c in r.client_list() if c.get("name") == "kvns-py"]
    print("client list: %d" % len(mine))
    info = r.info()
    print("redis_version: %s" % info["redis_version"])
    print("loading: %r" % (info["loading"],))
    print("role: %s" % info["role"])
    server = r.info("server")
    print("tcp_port: %r" % (server["tcp_port"],))
    for label, attr, value in (("name", "LIB-NAME", "redis-py"), ("ver", "LIB-VER", "4.3.4")):
        try:
            print("setinfo %s: %r" % (label, r.execute_command("CLIENT SETINFO", attr, value)))
        except redis.exceptions.ResponseError as e:
            print("setinfo %s: error: %s" % (label, e))
    print("ping: %r" % (r.ping(),))


def resp3():
    """protocol=3 (redis-py 5 and later): HELLO 3 at connect (redis-py refuses a reply
    whose proto is not 3), then the same transaction as "pipeline" decoded from RESP3."""
    r = connect(protocol=3)
    r.delete("py:pipe")
    pipe = r.pipeline(transaction=True)
    pipe.set("py:pipe", "1").incr("py:pipe").get("py:pipe").expire("py:pipe", 100)
    print("results: %r" % (pipe.execute(),))


def lock():
    """Lock: acquire is SET NX PX; release, extend and reacquire are scripts run by
    EVALSHA, loaded with SCRIPT LOAD after NOSCRIPT (SCRIPT FLUSH forces that path)."""
    r = connect()
    r.delete("py:lock")
    r.script_flush()
    mine = r.lock("py:lock", timeout=5)
    theirs = r.lock("py:lock", timeout=5)
    print("acquire: %r" % (mine.acquire(blocking=False),))
    print("second acquire: %r" % (theirs.acquire(blocking=False),))
    print("owned: %r %r" % (mine.owned(), theirs.owned()))
    print("extend: %r" % (mine.extend(10),))
    print("extended ttl: %r" % (5000 < r.pttl("py:lock") <= 15000,))
    print("reacquire: %r" % (mine.reacquire(),))
    print("reacquired ttl: %r" % (0 < r.pttl("py:lock") <= 5000,))
    for name, attempt in (("release", theirs.release), ("extend", lambda: theirs.extend(1))):
        theirs.local.token = b"not-the-owner"   # the scripts compare tokens
        try:
            attempt()
            print("foreign %s: none" % name)
        except redis.exceptions.LockError as e:
            print("foreign %s: %s" % (name, type(e).__name__))
    theirs.local.token = None
    r.script_flush()
    mine.release()
    print("released: %r" % (r.exists("py:lock"),))
    print("again: %r" % (theirs.acquire(blocking=True, blocking_timeout=1),))
    theirs.release()


def register_script():
    """register_script: EVALSHA with keys and arguments, NOSCRIPT then SCRIPT LOAD, and
    the same script in a transaction pipeline (SCRIPT EXISTS / SCRIPT LOAD before MULTI)."""
    r = connect()
    r.delete("py:s")
    r.script_flush()
    add = r.register_script("local n = redis.call('INCRBY', KEYS[1], ARGV[1]) "
                            "return {KEYS[1], n, tonumber(ARGV[1]) * 2}")
    print("call: %r" % (add(keys=["py:s"], args=[5]),))
    print("exists: %r" % (r.script_exists(add.sha),))
    r.script_flush()
    pipe = r.pipeline(transaction=True)
    add(keys=["py:s"], args=[2], client=pipe)
    pipe.get("py:s")
    print("pipeline: %r" % (pipe.execute(),))
    try:
        r.evalsha("0" * 40, 0)
        print("noscript: none")
    except redis.exceptions.NoScriptError as e:
        print("noscript: %s" % e)


SCENARIOS = {
    "features": features,
    "pipeline": pipeline_transaction,
    "pipeline-errors": pipeline_errors,
    "watch-retry": watch_retry,
    "pool-threads": pool_threads,
    "handshake": handshake,
    "resp3": resp3,
    "lock": lock,
    "register-script": register_script,
}

if __name__ == "__main__":
    SCENARIOS[sys.argv[2]]()
