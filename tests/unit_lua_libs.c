/* unit_lua_libs.c - the libraries of a script's Lua state (lua_libs_open): cmsgpack
 * and struct (kvns's own, src/lua_cmsgpack.c and src/lua_struct.c), cjson and bit
 * (Debian's).
 *
 * Each case is a Lua chunk and what it returns, formatted by the helper `all` below
 * ("N:v1 v2 ..." with strings quoted, tables serialized with sorted keys) or "E:" and
 * the error. The expected texts are those redis-server 7.0.15 gives for the same chunk
 * with the same helpers; the encodings of boundary values follow the MessagePack spec
 * by hand (fixint 00-7f, uint8 cc, uint16 cd, ..., negative fixint e0-ff, int8 d0, ...). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <lauxlib.h>

#include "../src/lua_libs.h"

typedef struct {
    const char *chunk;
    const char *expected;
} lua_case;

/* Helpers every case may use: hex(s), ser(v), all(...), and run(f), which calls f
 * protected and formats its results (trailing nils dropped) or its error. */
static const char lua_helpers[] =
    "function hex(s) local h = '' for i = 1, #s do h = h .. string.format('%02x', s:byte(i)) end return h end\n"
    "function ser(v, d) d = d or 0 if d > 40 then return '...' end\n"
    "  if type(v) == 'table' then local ks = {} for k in pairs(v) do ks[#ks + 1] = k end\n"
    "    table.sort(ks, function(a, b) return tostring(a) < tostring(b) end)\n"
    "    local o = {} for _, k in ipairs(ks) do o[#o + 1] = ser(k, d + 1) .. '=' .. ser(v[k], d + 1) end\n"
    "    return '{' .. table.concat(o, ',') .. '}'\n"
    "  elseif type(v) == 'string' then return string.format('%q', v):gsub('\\n', 'n')\n"
    "  else return tostring(v) end end\n"
    "function all(...) local n = select('#', ...) local t = {}\n"
    "  for i = 1, n do t[i] = ser((select(i, ...))) end return n .. ':' .. table.concat(t, ' ') end\n"
    "function run(f) local r = {pcall(f)}\n"
    "  if r[1] then return all(unpack(r, 2, table.maxn(r))) else return 'E:' .. tostring(r[2]) end end\n";

/* Returns a new state with lua_libs_open's libraries and the helpers. */
static lua_State *lua_test_state(void)
{
    lua_State *L = luaL_newstate();
    assert_non_null(L);
    lua_libs_open(L);
    assert_int_equal(lua_gettop(L), 0);
    assert_int_equal(luaL_dostring(L, lua_helpers), 0);
    return L;
}

/* Runs each chunk (named user_script, as Redis names a script, so that error
 * positions read alike) in a fresh state and compares what run() makes of it. */
static void run_cases(const lua_case *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        lua_State *L = lua_test_state();
        lua_getglobal(L, "run");
        if (luaL_loadbuffer(L, cases[i].chunk, strlen(cases[i].chunk), "@user_script"))
            fail_msg("chunk %zu does not compile: %s", i, lua_tostring(L, -1));
        assert_int_equal(lua_pcall(L, 1, 1, 0), 0);
        const char *got = lua_tostring(L, -1);
        if (!got || strcmp(got, cases[i].expected) != 0)
            fail_msg("chunk: %s\n  expected: %s\n  got:      %s", cases[i].chunk,
                     cases[i].expected, got ? got : "(not a string)");
        lua_close(L);
    }
}

/* A string whose JSON encoding would need more than cjson's int-sized buffer holds
 * (6 bytes reserved per byte: 341 MB here) is refused before Debian's cjson
 * overruns the heap with it (CVE-2022-24834). Redis, with size_t buffers, encodes
 * it; this is kvns's answer. */
static void test_cjson_guard_refuses_overrun(void **state)
{
    (void)state;
    static const lua_case huge[] = {
        {"return (cjson.encode(string.rep('a', 357913941)))",
         "E:user_script:1: Cannot serialise string: JSON text too long"},
        {"return (cjson.encode({1, {k = string.rep('a', 357913941)}}))",
         "E:user_script:1: Cannot serialise string: JSON text too long"},
    };
    run_cases(huge, sizeof huge / sizeof huge[0]);
}

/* lua_libs_open opens what Redis opens and nothing more: no os, io, package,
 * require or loadlib; debug and coroutine are there (the sandbox decides). */
static void test_open_globals(void **state)
{
    (void)state;
    lua_State *L = lua_test_state();
    static const char *const absent[] = {"os", "io", "package", "require", "module"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
        lua_getglobal(L, absent[i]);
        if (!lua_isnil(L, -1))
            fail_msg("global %s is set", absent[i]);
        lua_pop(L, 1);
    }
    static const char *const tables[] = {"string", "table", "math", "debug", "coroutine",
                                         "cjson", "bit", "struct", "cmsgpack", "_G"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        lua_getglobal(L, tables[i]);
        if (!lua_istable(L, -1))
            fail_msg("global %s is not a table", tables[i]);
        lua_pop(L, 1);
    }
    lua_close(L);
}

/* Cjson, bit, struct, cmsgpack and the standard libraries are globals (cases of Redis's scripting.tcl among them). */
static const lua_case libs_present_cases[] = {
    {"return cjson.encode({1,2})",
     "1:\"[1,2]\""},
    {"return bit.band(7,3), bit.tobit(1), bit.bxor(1,2), bit.bor(1,2,4,8,16,32,64,128), bit.tohex(255)",
     "5:3 1 3 255 \"000000ff\""},
    {"return table.concat(cjson.decode(\"[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]\"), \" \")",
     "1:\"0 -5000 -1 0.0003 1023.2 0\""},
    {"return cjson.decode('{\"keya\": \"a\", \"keyb\": \"b\"}').keyb, cjson.encode({a={1,2,{b=true}}})",
     "2:\"b\" \"{\\\"a\\\":[1,2,{\\\"b\\\":true}]}\""},
    {"return type(struct.pack), type(struct.unpack), type(struct.size), type(cmsgpack.unpack_one), type(cmsgpack.unpack_limit)",
     "5:\"function\" \"function\" \"function\" \"function\" \"function\""},
    {"return cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._DESCRIPTION",
     "3:\"cmsgpack\" \"lua-cmsgpack 0.4.0\" \"MessagePack C implementation for Lua\""},
    {"return type(string.format), type(table.concat), type(math.floor), type(coroutine.wrap), type(loadstring)",
     "5:\"function\" \"function\" \"function\" \"function\" \"function\""},
};

static void test_libs_present(void **state)
{
    (void)state;
    run_cases(libs_present_cases, sizeof libs_present_cases / sizeof libs_present_cases[0]);
}

/* Bit.tohex is kvns's: Debian's overruns its buffer for n = -2^31 (CVE-2024-31449). */
static const lua_case bit_tohex_cases[] = {
    {"return bit.tohex(255), bit.tohex(-1), bit.tohex(255, -4), bit.tohex(255, 0), bit.tohex(255, 20), bit.tohex(255, 2), bit.tohex(0x12345678, -3)",
     "7:\"000000ff\" \"ffffffff\" \"00FF\" \"\" \"000000ff\" \"ff\" \"678\""},
    {"return bit.tohex(2^32 + 5), bit.tohex(1.5), bit.tohex(2.5), bit.tohex(-2.5), bit.tohex('0x10'), bit.tohex('17', '2'), bit.tohex(1e300)",
     "7:\"00000005\" \"00000002\" \"00000002\" \"fffffffe\" \"00000010\" \"11\" \"8800759c\""},
    {"return bit.tohex(65, 2^31), bit.tohex(65, -2^31), bit.tohex(65, -2^31 + 2^32 * 3), bit.tohex(0xabcdef, -2^31), bit.tohex(65, -2^31 + 1)",
     "5:\"00000041\" \"00000041\" \"00000041\" \"00ABCDEF\" \"00000041\""},
    {"return bit.tohex(0/0), bit.tohex(1/0), bit.tohex(0, 5), bit.tohex(2^52, -8)",
     "4:\"00000000\" \"00000000\" \"00000\" \"00000000\""},
    {"return (bit.tohex('x'))",
     "E:user_script:1: bad argument #1 to 'tohex' (number expected, got string)"},
    {"return (bit.tohex(255, nil))",
     "E:user_script:1: bad argument #2 to 'tohex' (number expected, got nil)"},
    {"return (bit.tohex())",
     "E:user_script:1: bad argument #1 to 'tohex' (number expected, got no value)"},
    {"return (bit.tohex(0, {}))",
     "E:user_script:1: bad argument #2 to 'tohex' (number expected, got table)"},
};

static void test_bit_tohex(void **state)
{
    (void)state;
    run_cases(bit_tohex_cases, sizeof bit_tohex_cases / sizeof bit_tohex_cases[0]);
}

/* Cjson through kvns's guard: Debian's behaviour, and its errors with the script position Redis gives them. */
static const lua_case cjson_wrapped_cases[] = {
    {"return (cjson.encode(function() end))",
     "E:user_script:1: Cannot serialise function: type not supported"},
    {"return (cjson.encode({[true] = 1}))",
     "E:user_script:1: Cannot serialise boolean: table key must be a number or string"},
    {"return (cjson.encode({[1] = 1, [100] = 2}))",
     "E:user_script:1: Cannot serialise table: excessively sparse array"},
    {"return (cjson.encode(0/0))",
     "E:user_script:1: Cannot serialise number: must not be NaN or Inf"},
    {"local t = {} t[1] = t return (cjson.encode(t))",
     "E:user_script:1: Cannot serialise, excessive nesting (1001)"},
    {"local t = {} t.a = t return (cjson.encode(t))",
     "E:user_script:1: Cannot serialise, excessive nesting (1001)"},
    {"return (cjson.encode())",
     "E:user_script:1: bad argument #1 to 'encode' (expected 1 argument)"},
    {"return (cjson.encode(1, 2))",
     "E:user_script:1: bad argument #1 to 'encode' (expected 1 argument)"},
    {"return (cjson.decode('[1,'))",
     "E:user_script:1: Expected value but found T_END at character 4"},
    {"return (cjson.decode('{\"a\":'))",
     "E:user_script:1: Expected value but found T_END at character 6"},
    {"return (cjson.decode())",
     "E:user_script:1: bad argument #1 to 'decode' (expected 1 argument)"},
    {"return (cjson.decode(1, 2))",
     "E:user_script:1: bad argument #1 to 'decode' (expected 1 argument)"},
    {"cjson.decode_max_depth(1) return (cjson.decode('[[1]]'))",
     "E:user_script:1: Found too many nested data structures (2) at character 2"},
    {"cjson.encode_max_depth(2) return (cjson.encode({{{1}}}))",
     "E:user_script:1: Cannot serialise, excessive nesting (3)"},
    {"return pcall(cjson.encode, type)",
     "2:false \"Cannot serialise function: type not supported\""},
    {"return pcall(cjson.decode, '{')",
     "2:false \"Expected object key string but found T_END at character 2\""},
    {"cjson.encode_max_depth(2) return cjson.encode({{1}})",
     "1:\"[[1]]\""},
    {"return cjson.encode({[2^31] = 1, [1] = 2}), cjson.encode({[2^40] = 1}), cjson.encode({})",
     "3:\"[2]\" \"{\\\"1099511627776\\\":1}\" \"{}\""},
    {"return cjson.encode({'a/b', '\\1\\127\"\\\\\\8\\9\\10\\12\\13'}), cjson.encode({['a\"b'] = 1})",
     "2:\"[\\\"a\\\\/b\\\",\\\"\\\\u0001\\\\u007f\\\\\\\"\\\\\\\\\\\\b\\\\t\\\\n\\\\f\\\\r\\\"]\" \"{\\\"a\\\\\\\"b\\\":1}\""},
    {"return cjson.encode({a = {1, 2, {b = true, c = cjson.null}}, [5] = false})",
     "1:\"{\\\"a\\\":[1,2,{\\\"c\\\":null,\\\"b\\\":true}],\\\"5\\\":false}\""},
    {"return cjson.encode({1, 2, nil, 4}), cjson.encode({[1] = 1, [3] = 3})",
     "2:\"[1,2,null,4]\" \"[1,null,3]\""},
    {"cjson.encode_sparse_array(true) return cjson.encode({[1] = 1, [100] = 2})",
     "1:\"{\\\"1\\\":1,\\\"100\\\":2}\""},
    {"cjson.encode_sparse_array(false, 0) return #cjson.encode({[1] = 1, [1000] = 2})",
     "1:4995"},
    {"cjson.encode_max_depth(100000) local t = {} for i = 1, 3000 do t = {t} end return #cjson.encode(t)",
     "1:6002"},
    {"cjson.encode_max_depth(100000) local t = {} for i = 1, 3000 do t = {a = t} end return #cjson.encode(t)",
     "1:18002"},
    {"cjson.encode_keep_buffer(false) return cjson.encode({1, 'x'}), cjson.encode(1e300), cjson.encode(-0.5), cjson.encode(123456789012345)",
     "4:\"[1,\\\"x\\\"]\" \"1e+300\" \"-0.5\" \"1.2345678901234e+14\""},
    {"return #cjson.encode(string.rep('x', 100000)), ser(cjson.decode('{\"a\":[1,2,{\"b\":null}],\"c\":\"\\\\u00e9\"}'))",
     "2:100002 \"{\\\"a\\\"={1=1,2=2,3={\\\"b\\\"=userdata: (nil)}},\\\"c\\\"=\\\"\303\251\\\"}\""},
    {"return cjson.decode(5), cjson.decode('\"x\"'), cjson.decode('[1e400]')[1]",
     "3:5 \"x\" inf"},
};

static void test_cjson_wrapped(void **state)
{
    (void)state;
    run_cases(cjson_wrapped_cases, sizeof cjson_wrapped_cases / sizeof cjson_wrapped_cases[0]);
}

/* Integers take the smallest encoding of their sign at every width boundary, and decode back. */
static const lua_case cmsgpack_ints_cases[] = {
    {"return hex(cmsgpack.pack(0)), hex(cmsgpack.pack(1)), hex(cmsgpack.pack(127)), hex(cmsgpack.pack(128))",
     "4:\"00\" \"01\" \"7f\" \"cc80\""},
    {"return hex(cmsgpack.pack(255)), hex(cmsgpack.pack(256)), hex(cmsgpack.pack(65535)), hex(cmsgpack.pack(65536))",
     "4:\"ccff\" \"cd0100\" \"cdffff\" \"ce00010000\""},
    {"return hex(cmsgpack.pack(2^32-1)), hex(cmsgpack.pack(2^32)), hex(cmsgpack.pack(2^53))",
     "3:\"ceffffffff\" \"cf0000000100000000\" \"cf0020000000000000\""},
    {"return hex(cmsgpack.pack(-1)), hex(cmsgpack.pack(-32)), hex(cmsgpack.pack(-33)), hex(cmsgpack.pack(-128)), hex(cmsgpack.pack(-129))",
     "5:\"ff\" \"e0\" \"d0df\" \"d080\" \"d1ff7f\""},
    {"return hex(cmsgpack.pack(-32768)), hex(cmsgpack.pack(-32769)), hex(cmsgpack.pack(-2^31)), hex(cmsgpack.pack(-2^31-1))",
     "4:\"d18000\" \"d2ffff7fff\" \"d280000000\" \"d3ffffffff7fffffff\""},
    {"return hex(cmsgpack.pack(-1099511627776)), hex(cmsgpack.pack(-2^63)), hex(cmsgpack.pack(-0.0))",
     "3:\"d3ffffff0000000000\" \"d38000000000000000\" \"00\""},
    {"local ok = true for _, v in ipairs({0,1,127,128,255,256,65535,65536,2^32-1,2^32,2^53,-1,-32,-33,-128,-129,-32768,-32769,-2^31,-2^31-1,-2^53}) do if cmsgpack.unpack(cmsgpack.pack(v)) ~= v then ok = v end end return ok",
     "1:true"},
    {"return cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255'), cmsgpack.unpack('\\207\\128\\0\\0\\0\\0\\0\\0\\0'), cmsgpack.unpack('\\207\\0\\0\\0\\1\\0\\0\\0\\0')",
     "3:-1 -9.2233720368548e+18 4294967296"},
    {"return cmsgpack.unpack('\\211\\255\\255\\255\\255\\255\\255\\255\\254\\208\\128\\209\\128\\0\\210\\128\\0\\0\\0\\204\\255\\205\\255\\255\\206\\255\\255\\255\\255\\255\\224\\127')",
     "10:-2 -128 -32768 -2147483648 255 65535 4294967295 -1 -32 127"},
};

static void test_cmsgpack_ints(void **state)
{
    (void)state;
    run_cases(cmsgpack_ints_cases, sizeof cmsgpack_ints_cases / sizeof cmsgpack_ints_cases[0]);
}

/* Non-integers are float32 when exact, else float64; infinities and NaN. */
static const lua_case cmsgpack_floats_cases[] = {
    {"return hex(cmsgpack.pack(0.1)), hex(cmsgpack.pack(1.5)), hex(cmsgpack.pack(-0.25))",
     "3:\"cb3fb999999999999a\" \"ca3fc00000\" \"cabe800000\""},
    {"return hex(cmsgpack.pack(1/0)), hex(cmsgpack.pack(-1/0)), hex(cmsgpack.pack(2^63)), hex(cmsgpack.pack(2^64)), hex(cmsgpack.pack(-2^64))",
     "5:\"ca7f800000\" \"caff800000\" \"ca5f000000\" \"ca5f800000\" \"cadf800000\""},
    {"return hex(cmsgpack.pack(1e300)), hex(cmsgpack.pack(2^63 + 2^20))",
     "2:\"cb7e37e43c8800759c\" \"cb43e0000000000200\""},
    {"local v = cmsgpack.unpack(cmsgpack.pack(0/0)) return hex(cmsgpack.pack(0/0)):sub(1, 2), v ~= v",
     "2:\"cb\" true"},
    {"local ok = true for _, v in ipairs({0.1, 1.5, -0.25, 3.14159, 1e300, -1e-300, 2^63, 1/0, -1/0, 123456.789}) do if cmsgpack.unpack(cmsgpack.pack(v)) ~= v then ok = v end end return ok",
     "1:true"},
    {"return cmsgpack.unpack('\\202\\63\\192\\0\\0\\203\\63\\185\\153\\153\\153\\153\\153\\154')",
     "2:1.5 0.1"},
};

static void test_cmsgpack_floats(void **state)
{
    (void)state;
    run_cases(cmsgpack_floats_cases, sizeof cmsgpack_floats_cases / sizeof cmsgpack_floats_cases[0]);
}

/* Strings of 31/32/255/256/65535/65536 bytes switch header at the spec's bounds. */
static const lua_case cmsgpack_strings_cases[] = {
    {"return hex(cmsgpack.pack('')), hex(cmsgpack.pack('a\\0b')), hex(cmsgpack.pack(string.rep('x', 31)):sub(1, 4))",
     "3:\"a0\" \"a3610062\" \"bf787878\""},
    {"return hex(cmsgpack.pack(string.rep('x', 32)):sub(1, 6)), #cmsgpack.pack(string.rep('x', 32))",
     "2:\"d92078787878\" 34"},
    {"return hex(cmsgpack.pack(string.rep('x', 255)):sub(1, 6)), #cmsgpack.pack(string.rep('x', 255))",
     "2:\"d9ff78787878\" 257"},
    {"return hex(cmsgpack.pack(string.rep('x', 256)):sub(1, 8)), #cmsgpack.pack(string.rep('x', 256))",
     "2:\"da01007878787878\" 259"},
    {"return hex(cmsgpack.pack(string.rep('x', 65535)):sub(1, 8)), #cmsgpack.pack(string.rep('x', 65535))",
     "2:\"daffff7878787878\" 65538"},
    {"return hex(cmsgpack.pack(string.rep('x', 65536)):sub(1, 12)), #cmsgpack.pack(string.rep('x', 65536))",
     "2:\"db0001000078787878787878\" 65541"},
    {"local ok = true for _, n in ipairs({0, 1, 31, 32, 255, 256, 65535, 65536, 100000}) do local s = string.rep('\\0y', n):sub(1, n) if cmsgpack.unpack(cmsgpack.pack(s)) ~= s then ok = n end end return ok",
     "1:true"},
    {"return cmsgpack.unpack('\\217\\3abc\\218\\0\\1z\\219\\0\\0\\0\\2zz\\160')",
     "4:\"abc\" \"z\" \"zz\" \"\""},
    {"return hex(cmsgpack.pack(12.5 .. ''))",
     "1:\"a431322e35\""},
};

static void test_cmsgpack_strings(void **state)
{
    (void)state;
    run_cases(cmsgpack_strings_cases, sizeof cmsgpack_strings_cases / sizeof cmsgpack_strings_cases[0]);
}

/* Arrays vs maps, the 16-level nesting limit (scripting.tcl's circular reference), other types as nil. */
static const lua_case cmsgpack_tables_cases[] = {
    {"return hex(cmsgpack.pack({})), hex(cmsgpack.pack({1, 2, 3})), hex(cmsgpack.pack({a = 1})), hex(cmsgpack.pack({1.5, {}}))",
     "4:\"90\" \"93010203\" \"81a16101\" \"92ca3fc0000090\""},
    {"return hex(cmsgpack.pack({[1] = 1, [3] = 3})), hex(cmsgpack.pack({[0] = 1})), hex(cmsgpack.pack({['1'] = 1})), hex(cmsgpack.pack({[1.5] = true}))",
     "4:\"8201010303\" \"810001\" \"81a13101\" \"81ca3fc00000c3\""},
    {"return hex(cmsgpack.pack({[2] = 'b', [1] = 'a'})), hex(cmsgpack.pack({true, false, n = nil}))",
     "2:\"92a161a162\" \"92c3c2\""},
    {"local t = {} for i = 1, 16 do t[i] = i end return hex(cmsgpack.pack(t))",
     "1:\"dc00100102030405060708090a0b0c0d0e0f10\""},
    {"local t = {} for i = 1, 70000 do t[i] = i end local s = cmsgpack.pack(t) return hex(s:sub(1, 5)), #s, #cmsgpack.unpack(s)",
     "3:\"dd00011170\" 218553 70000"},
    {"local t = {} for i = 1, 17 do t['k' .. i] = i end local s = cmsgpack.pack(t) return hex(s:sub(1, 3)), #s, ser(cmsgpack.unpack(s)) == ser(t)",
     "3:\"de0011\" 79 true"},
    {"local t = {} for i = 1, 70000 do t['k' .. i] = i end local s = cmsgpack.pack(t) return hex(s:sub(1, 5)), ser(cmsgpack.unpack(s)) == ser(t)",
     "2:\"df00011170\" true"},
    {"local t = {s = 'x', n = -5, f = 0.5, a = {1, {2, {3, {k = 'v'}}}}, m = {[10] = 'ten', [-1] = 'neg'}, b = true} return ser(cmsgpack.unpack(cmsgpack.pack(t))) == ser(t), ser(cmsgpack.unpack(cmsgpack.pack(t)))",
     "2:true \"{\\\"a\\\"={1=1,2={1=2,2={1=3,2={\\\"k\\\"=\\\"v\\\"}}}},\\\"b\\\"=true,\\\"f\\\"=0.5,\\\"m\\\"={-1=\\\"neg\\\",10=\\\"ten\\\"},\\\"n\\\"=-5,\\\"s\\\"=\\\"x\\\"}\""},
    {"local t = {} local c = t for i = 1, 20 do c[1] = {} c = c[1] end return hex(cmsgpack.pack(t))",
     "1:\"91919191919191919191919191919191c0\""},
    {"local a = {x = nil, y = 5} local b = {x = a} a['x'] = b return hex(cmsgpack.pack(a))",
     "1:\"82a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a178c0\""},
    {"local a = {x = nil, y = 5} local b = {x = a} a['x'] = b local re = cmsgpack.unpack(cmsgpack.pack(a)) return re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.y, re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.y, re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x",
     "1:5"},
    {"return hex(cmsgpack.pack(nil)), hex(cmsgpack.pack(type)), hex(cmsgpack.pack(coroutine.create(function() end))), hex(cmsgpack.pack(true)), hex(cmsgpack.pack(false))",
     "5:\"c0\" \"c0\" \"c0\" \"c3\" \"c2\""},
    {"return cmsgpack.unpack('\\220\\0\\2\\1\\2\\221\\0\\0\\0\\1\\3\\222\\0\\1\\1\\2\\223\\0\\0\\0\\1\\3\\4\\144\\128')",
     "6:{1=1,2=2} {1=3} {1=2} {3=4} {} {}"},
};

static void test_cmsgpack_tables(void **state)
{
    (void)state;
    run_cases(cmsgpack_tables_cases, sizeof cmsgpack_tables_cases / sizeof cmsgpack_tables_cases[0]);
}

/* Several values in one string: unpack, unpack_one and unpack_limit offsets. */
static const lua_case cmsgpack_streams_cases[] = {
    {"return hex(cmsgpack.pack(1, 'x', true, nil, {}))",
     "1:\"01a178c3c090\""},
    {"return cmsgpack.unpack(cmsgpack.pack(1, 'x', true, nil, {}))",
     "5:1 \"x\" true nil {}"},
    {"return cmsgpack.unpack('')",
     "0:"},
    {"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))",
     "2:1 1"},
    {"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)",
     "2:2 2"},
    {"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)",
     "2:-1 3"},
    {"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 3)",
     "1:-1"},
    {"return cmsgpack.unpack_one('')",
     "1:-1"},
    {"return cmsgpack.unpack_one(cmsgpack.pack('abc', 300), 0)",
     "2:4 \"abc\""},
    {"return cmsgpack.unpack_one(cmsgpack.pack('abc', 300), 4)",
     "2:-1 300"},
    {"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)",
     "3:2 1 2"},
    {"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 2)",
     "2:-1 3"},
    {"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 5, 1)",
     "3:-1 2 3"},
    {"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0)",
     "3:1 2 3"},
    {"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0, 1)",
     "1:1"},
    {"local a, b, c, d = string.rep('x', 30), string.rep('x', 250), string.rep('x', 65530), string.rep('x', 100000) local s = cmsgpack.pack(a, b, c, d) local o1, v1 = cmsgpack.unpack_limit(s, 1, 0) local o2, v2 = cmsgpack.unpack_limit(s, 1, o1) local o3, v3 = cmsgpack.unpack_limit(s, 1, o2) local o4, v4 = cmsgpack.unpack_limit(s, 1, o3) return o1, o2, o3, o4, v1 == a, v2 == b, v3 == c, v4 == d",
     "8:31 283 65816 -1 true true true true"},
    {"return select('#', cmsgpack.unpack(string.rep('\\1', 7998)))",
     "1:7998"},
    {"local t = {} for i = 1, 4000 do t[i] = i end return #cmsgpack.pack(unpack(t))",
     "1:11618"},
};

static void test_cmsgpack_streams(void **state)
{
    (void)state;
    run_cases(cmsgpack_streams_cases, sizeof cmsgpack_streams_cases / sizeof cmsgpack_streams_cases[0]);
}

/* Truncated and malformed input, bad offsets and limits, the stack limits. */
static const lua_case cmsgpack_errors_cases[] = {
    {"return (cmsgpack.pack())",
     "E:user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.)"},
    {"local t = {} for i = 1, 4001 do t[i] = i end return cmsgpack.pack(unpack(t))",
     "E:user_script:1: bad argument #0 to 'pack' (Too many arguments for MessagePack pack.)"},
    {"return (cmsgpack.unpack('\\145'))",
     "E:user_script:1: Missing bytes in input."},
    {"return (cmsgpack.unpack('\\205\\1'))",
     "E:user_script:1: Missing bytes in input."},
    {"return (cmsgpack.unpack('\\219\\0\\0\\0\\5abc'))",
     "E:user_script:1: Missing bytes in input."},
    {"return (cmsgpack.unpack('\\164abc'))",
     "E:user_script:1: Missing bytes in input."},
    {"return (cmsgpack.unpack('\\203\\0\\0\\0'))",
     "E:user_script:1: Missing bytes in input."},
    {"return (cmsgpack.unpack('\\129\\192'))",
     "E:user_script:1: Missing bytes in input."},
    {"return (cmsgpack.unpack('\\221\\255\\255\\255\\255'))",
     "E:user_script:1: Missing bytes in input."},
    {"return (cmsgpack.unpack('\\223\\255\\255\\255\\255\\1'))",
     "E:user_script:1: Missing bytes in input."},
    {"return (cmsgpack.unpack('\\1\\2\\147\\1'))",
     "E:user_script:1: Missing bytes in input."},
    {"return (cmsgpack.unpack('\\193'))",
     "E:user_script:1: Bad data format in input."},
    {"return (cmsgpack.unpack('\\196\\1a'))",
     "E:user_script:1: Bad data format in input."},
    {"return (cmsgpack.unpack('\\199\\1\\1a'))",
     "E:user_script:1: Bad data format in input."},
    {"return (cmsgpack.unpack('\\212\\1\\1'))",
     "E:user_script:1: Bad data format in input."},
    {"return (cmsgpack.unpack('\\145\\193'))",
     "E:user_script:1: Bad data format in input."},
    {"return (cmsgpack.unpack('\\129\\192\\1'))",
     "E:table index is nil"},
    {"return (cmsgpack.unpack('\\129\\203\\255\\248\\0\\0\\0\\0\\0\\0\\1'))",
     "E:table index is NaN"},
    {"return (cmsgpack.unpack(nil))",
     "E:user_script:1: bad argument #1 to 'unpack' (string expected, got nil)"},
    {"return (cmsgpack.unpack(string.rep('\\1', 8000)))",
     "E:user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"},
    {"return (cmsgpack.unpack(string.rep('\\145', 5000) .. '\\1'))",
     "E:user_script:1: stack overflow (in function mp_decode_to_lua_array)"},
    {"return (cmsgpack.unpack(string.rep('\\129\\1', 5000) .. '\\1'))",
     "E:user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"},
    {"return (cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), -1))",
     "E:user_script:1: Invalid request to unpack with offset of -1 and limit of 3."},
    {"return (cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 4))",
     "E:user_script:1: Start offset 4 greater than input length 3."},
    {"return (cmsgpack.unpack_one('abc', 'x'))",
     "E:user_script:1: bad argument #2 to 'unpack_one' (number expected, got string)"},
    {"return (cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), -2, 1))",
     "E:user_script:1: Invalid request to unpack with offset of 1 and limit of 3."},
    {"return (cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3)))",
     "E:user_script:1: bad argument #2 to 'unpack_limit' (number expected, got no value)"},
    {"return (cmsgpack.unpack_limit(nil, 1))",
     "E:user_script:1: bad argument #1 to 'unpack_limit' (string expected, got nil)"},
};

static void test_cmsgpack_errors(void **state)
{
    (void)state;
    run_cases(cmsgpack_errors_cases, sizeof cmsgpack_errors_cases / sizeof cmsgpack_errors_cases[0]);
}

/* Every integer letter in both byte orders, sizes 0 to 16, sign extension, wrapping. */
static const lua_case struct_integers_cases[] = {
    {"return hex(struct.pack('bBhHlLTiI', -1, 255, -2, 65535, -3, 2^40, 7, -4, 2^32 - 1))",
     "1:\"fffffefffffffdffffffffffffff00000000000100000700000000000000fcffffffffffffff\""},
    {"return hex(struct.pack('>bBhHlLTiI', -1, 255, -2, 65535, -3, 2^40, 7, -4, 2^32 - 1))",
     "1:\"fffffffefffffffffffffffffffd00000100000000000000000000000007fffffffcffffffff\""},
    {"return hex(struct.pack('<bB>bB', 1, 2, 3, 4)), hex(struct.pack('<h>h', 258, 258)), hex(struct.pack('<I4>I4', 16909060, 16909060))",
     "3:\"01020304\" \"02010102\" \"0403020101020304\""},
    {"return hex(struct.pack('<i1i2i3i5i8', -1, -1, -1, -1, -1)), hex(struct.pack('>i3I9i16', 1, 1, -2))",
     "2:\"ffffffffffffffffffffffffffffffffffffff\" \"0000010000000000000000010000000000000000fffffffffffffffe\""},
    {"return hex(struct.pack('<i9i16', -1, -1))",
     "1:\"ffffffffffffffff00ffffffffffffffff0000000000000000\""},
    {"return hex(struct.pack('i0', 5)), struct.unpack('i0', '')",
     "3:\"\" 0 1"},
    {"return hex(struct.pack('<i8I8i8I8', 2^63, 2^64, -2^64, 0/0)), hex(struct.pack('<I4I4i4', 1.9, -1.9, 2^31))",
     "2:\"0000000000000080000000000000000000000000000000800000000000000080\" \"01000000ffffffff00000080\""},
    {"return struct.unpack('bBhHlLTiI', struct.pack('bBhHlLTiI', -1, 255, -2, 65535, -3, 2^40, 7, -4, 2^32 - 1))",
     "10:-1 255 -2 65535 -3 1099511627776 7 -4 4294967295 39"},
    {"return struct.unpack('>bBhHlLTiI', struct.pack('>bBhHlLTiI', -1, 255, -2, 65535, -3, 2^40, 7, -4, 2^32 - 1))",
     "10:-1 255 -2 65535 -3 1099511627776 7 -4 4294967295 39"},
    {"return struct.unpack('<i3i9i16I9I16i0', struct.pack('<i3i9i16I9I16', -5, -5, -5, -5, -5))",
     "7:-5 -5 -5 1.844674407371e+19 1.844674407371e+19 0 54"},
    {"return struct.unpack('>i3i9i16I9I16', struct.pack('>i3i9i16I9I16', -5, -5, -5, -5, -5))",
     "6:-5 -5 -5 1.844674407371e+19 1.844674407371e+19 54"},
    {"return struct.unpack('<i9', string.rep('\\255', 8) .. '\\0'), struct.unpack('<i9', '\\128' .. string.rep('\\0', 8))",
     "3:-1 -128 10"},
    {"return struct.unpack('<i12', string.rep('\\0', 4) .. '\\255\\255\\255\\255\\255\\255\\255\\127'), struct.unpack('<I8i8', string.rep('\\255', 16))",
     "4:-2147483648 1.844674407371e+19 -1 17"},
    {"return struct.unpack('>I2<I2', '\\1\\2\\1\\2')",
     "3:258 513 5"},
};

static void test_struct_integers(void **state)
{
    (void)state;
    run_cases(struct_integers_cases, sizeof struct_integers_cases / sizeof struct_integers_cases[0]);
}

/* F, d, s, c, cN and c0 in both directions. */
static const lua_case struct_floats_and_strings_cases[] = {
    {"return hex(struct.pack('fd>fd', 1.5, 0.1, 1.5, 0.1))",
     "1:\"0000c03f9a9999999999b93f3fc000003fb999999999999a\""},
    {"return hex(struct.pack('f', 1e300)), hex(struct.pack('f', -1e300))",
     "2:\"0000807f\" \"000080ff\""},
    {"return struct.unpack('fd>fd', struct.pack('fd>fd', 1.5, 0.1, -2.25, 1e300))",
     "5:1.5 0.1 -2.25 1e+300 25"},
    {"return hex(struct.pack('s c3 c0 c', 'ab\\0c', 'xyz', 'whole', 'q'))",
     "1:\"616200630078797a77686f6c6571\""},
    {"return struct.unpack('s c3 c', 'ab\\0xyzq')",
     "4:\"ab\" \"xyz\" \"q\" 8"},
    {"return struct.unpack('b c0', '\\3abcd')",
     "2:\"abc\" 5"},
    {"return struct.unpack('c1 c0', '3abcd')",
     "2:\"abc\" 5"},
    {"return struct.unpack('B c0 b', '\\2abc')",
     "3:\"ab\" 99 5"},
    {"return struct.unpack('b c0', '\\255abc')",
     "E:user_script:1: bad argument #2 to 'unpack' (data string too short)"},
    {"return struct.unpack('s', 'abc')",
     "E:user_script:1: unfinished string in data"},
    {"return struct.unpack('c0', 'abc')",
     "E:user_script:1: format 'c0' needs a previous size"},
    {"return struct.unpack('s c0', 'ab\\0cd')",
     "E:user_script:1: format 'c0' needs a previous size"},
    {"return hex(struct.pack('c3', 'abcdef'))",
     "1:\"616263\""},
};

static void test_struct_floats_and_strings(void **state)
{
    (void)state;
    run_cases(struct_floats_and_strings_cases, sizeof struct_floats_and_strings_cases / sizeof struct_floats_and_strings_cases[0]);
}

/* X padding, ! alignment (also for sizes that are no power of 2), unpack positions, size. */
static const lua_case struct_alignment_cases[] = {
    {"return hex(struct.pack('xbxxh', 1, 2)), struct.unpack('xbxxh', struct.pack('xbxxh', 1, 2))",
     "4:\"000100000200\" 1 2 7"},
    {"return hex(struct.pack('!bh!4bi!8bd!2bd', 1, 2, 3, 4, 5, 6, 7, 8))",
     "1:\"01000200030000000400000005000000000000000000184007000000000000002040\""},
    {"return struct.unpack('!bh!4bi!8bd!2bd', struct.pack('!bh!4bi!8bd!2bd', 1, 2, 3, 4, 5, 6, 7, 8))",
     "9:1 2 3 4 5 6 7 8 35"},
    {"return hex(struct.pack('!bi3!4bi3', 1, 2, 3, 4)), hex(struct.pack('!4 b i3 b i3 b i6 b i7', 1, 2, 3, 4, 5, 6, 7, 8))",
     "2:\"01000002000003040000\" \"010000020000030400000500060000000000070008000000000000\""},
    {"return hex(struct.pack('! b d', 1, 0)), hex(struct.pack('!8 b c3 s d', 1, 'abc', 'z', 1))",
     "2:\"01000000000000000000000000000000\" \"016162637a000000000000000000f03f\""},
    {"return struct.unpack('!h', 'abcd', 2), struct.unpack('h', 'abcd', 2)",
     "3:25699 25442 4"},
    {"return struct.unpack('b', 'abc', 3), struct.unpack('x', 'abc', 3), struct.unpack('bb', 'abc', 2.7)",
     "5:99 4 98 99 4"},
    {"return struct.size('bBhHlLTiIfdx'), struct.size('!bh!4bi!8bd!2bd'), struct.size('i3i7c9 z Q5'), struct.size(''), struct.size('c'), struct.size('<>!b i')",
     "6:51 34 19 0 1 8"},
};

static void test_struct_alignment(void **state)
{
    (void)state;
    run_cases(struct_alignment_cases, sizeof struct_alignment_cases / sizeof struct_alignment_cases[0]);
}

/* The library's error texts for bad formats, missing arguments and short data. */
static const lua_case struct_errors_cases[] = {
    {"return (struct.pack('c5', 'ab'))",
     "E:user_script:1: bad argument #3 to 'pack' (string too short)"},
    {"return (struct.pack('bc5', 1, 'ab'))",
     "E:user_script:1: bad argument #4 to 'pack' (string too short)"},
    {"return (struct.pack('i', 'x'))",
     "E:user_script:1: bad argument #2 to 'pack' (number expected, got string)"},
    {"return (struct.pack('i'))",
     "E:user_script:1: bad argument #2 to 'pack' (number expected, got nil)"},
    {"return (struct.pack('bs', 1))",
     "E:user_script:1: bad argument #3 to 'pack' (string expected, got nil)"},
    {"return (struct.pack('i33', 1))",
     "E:user_script:1: integral size 33 is larger than limit of 32"},
    {"return (struct.pack('i99999999999', 1))",
     "E:user_script:1: integral size overflow"},
    {"return (struct.pack('!3'))",
     "E:user_script:1: alignment 3 is not a power of 2"},
    {"return (struct.pack('!0'))",
     "E:user_script:1: alignment 0 is not a power of 2"},
    {"return (struct.pack('=i', 1))",
     "E:user_script:1: bad argument #1 to 'pack' (invalid format option '=')"},
    {"return (struct.pack('z', 1))",
     "E:user_script:1: bad argument #1 to 'pack' (invalid format option 'z')"},
    {"return (struct.pack('5', 1))",
     "E:user_script:1: bad argument #1 to 'pack' (invalid format option '5')"},
    {"return (struct.pack())",
     "E:user_script:1: bad argument #1 to 'pack' (string expected, got no value)"},
    {"return struct.pack('b', '12'), struct.pack('b\\0b', 65, 66), struct.pack('s', 12)",
     "3:\"\014\" \"A\" \"12\\000\""},
    {"return (struct.unpack('s', 'abc'))",
     "E:user_script:1: unfinished string in data"},
    {"return (struct.unpack('i', 'abc'))",
     "E:user_script:1: bad argument #2 to 'unpack' (data string too short)"},
    {"return (struct.unpack('b', ''))",
     "E:user_script:1: bad argument #2 to 'unpack' (data string too short)"},
    {"return (struct.unpack('b', 'abc', 4))",
     "E:user_script:1: bad argument #2 to 'unpack' (data string too short)"},
    {"return (struct.unpack('b', 'abc', 0))",
     "E:user_script:1: bad argument #3 to 'unpack' (offset must be 1 or greater)"},
    {"return (struct.unpack('b', 'abc', -1))",
     "E:user_script:1: bad argument #2 to 'unpack' (data string too short)"},
    {"return (struct.unpack('!h', 'abcd', 3))",
     "1:25699"},
    {"return (struct.unpack('c0', 'abc'))",
     "E:user_script:1: format 'c0' needs a previous size"},
    {"return (struct.unpack('b c0', '\\9abc'))",
     "E:user_script:1: bad argument #2 to 'unpack' (data string too short)"},
    {"return (struct.unpack('z', 'abc'))",
     "E:user_script:1: bad argument #1 to 'unpack' (invalid format option 'z')"},
    {"return (struct.unpack('!3', 'abc'))",
     "E:user_script:1: alignment 3 is not a power of 2"},
    {"return (struct.unpack('i40', 'abc'))",
     "E:user_script:1: integral size 40 is larger than limit of 32"},
    {"return (struct.unpack('b'))",
     "E:user_script:1: bad argument #2 to 'unpack' (string expected, got no value)"},
    {"return (struct.unpack(string.rep('b', 9000), string.rep('a', 9000)))",
     "E:user_script:1: stack overflow (too many results)"},
    {"return (struct.size('s'))",
     "E:user_script:1: bad argument #1 to 'size' (option 's' has no fixed size)"},
    {"return (struct.size('c0'))",
     "E:user_script:1: bad argument #1 to 'size' (option 'c0' has no fixed size)"},
    {"return (struct.size('='))",
     "E:user_script:1: bad argument #1 to 'size' (invalid format option '=')"},
    {"return (struct.size('!3'))",
     "E:user_script:1: alignment 3 is not a power of 2"},
    {"return (struct.size('i33'))",
     "E:user_script:1: integral size 33 is larger than limit of 32"},
    {"return (struct.size())",
     "E:user_script:1: bad argument #1 to 'size' (string expected, got no value)"},
};

static void test_struct_errors(void **state)
{
    (void)state;
    run_cases(struct_errors_cases, sizeof struct_errors_cases / sizeof struct_errors_cases[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_globals),
        cmocka_unit_test(test_cjson_guard_refuses_overrun),
        cmocka_unit_test(test_libs_present),
        cmocka_unit_test(test_bit_tohex),
        cmocka_unit_test(test_cjson_wrapped),
        cmocka_unit_test(test_cmsgpack_ints),
        cmocka_unit_test(test_cmsgpack_floats),
        cmocka_unit_test(test_cmsgpack_strings),
        cmocka_unit_test(test_cmsgpack_tables),
        cmocka_unit_test(test_cmsgpack_streams),
        cmocka_unit_test(test_cmsgpack_errors),
        cmocka_unit_test(test_struct_integers),
        cmocka_unit_test(test_struct_floats_and_strings),
        cmocka_unit_test(test_struct_alignment),
        cmocka_unit_test(test_struct_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
